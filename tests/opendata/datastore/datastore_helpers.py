"""Helpers of the datastore tests: write tabular files, load them, the actors involved."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.opendata.datastore.schemas import DatastoreTableOut
from zhengwu.opendata.datastore.services import datastore_create

ADMIN = Actor.system("datastore-tests")
PUBLIC = Actor.anonymous(ip="203.0.113.9")
_seq = itertools.count(1)

PEOPLE_CSV = (
    "编号,姓名,城市,金额,日期,登记时间,邮编\n"
    "1,张三,杭州,12.5,2024-01-05,2024-01-05 08:30:00,0571\n"
    "2,李四,宁波,７.２５,2024/2/6,2024-02-06T09:00:00,0574\n"
    "3,王五,杭州,100,2024年3月7日,2024-03-07 10:15,0571\n"
    "4,赵六,温州,,2024-04-08,,0577\n"
    "５,钱七,杭州,3.0,2024-05-09,2024-05-09 12:00:00,0571\n"
)


def new_resource_id() -> str:
    return f"00000000-0000-4000-8000-{next(_seq):012d}"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def load_csv(
    db: Session,
    tmp_path: Path,
    text: str = PEOPLE_CSV,
    *,
    encoding: str = "utf-8",
    resource_id: str | None = None,
    is_open: bool = True,
    **kwargs: Any,
) -> DatastoreTableOut:
    rid = resource_id or new_resource_id()
    path = write(tmp_path, f"{rid}.csv", text, encoding)
    return datastore_create(db, actor=ADMIN, resource_id=rid, path=path, is_open=is_open, **kwargs)


def numbers_csv(rows: int) -> str:
    """A table of ``rows`` rows with an int, a numeric, a date and a text column."""
    lines = ["n,amount,day,label,lon,lat"]
    lines.extend(
        f"{i},{i * 1.5:.2f},2024-01-{i % 28 + 1:02d},标签{i % 10},"
        f"{120 + i % 10 / 10:.1f},{30 + i % 7 / 10:.1f}"
        for i in range(rows)
    )
    return "\n".join(lines) + "\n"
