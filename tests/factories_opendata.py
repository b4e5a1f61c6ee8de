"""Factories of the open data portal: a publisher with its data administrator, datasets."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from factories import actor_of, make_department, make_token, make_user
from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import DepartmentOut
from zhengwu.opendata.packages import org_name
from zhengwu.opendata.services import dataset_create

_seq = itertools.count(1)


@dataclass
class Publisher:
    """A department, one of its data administrators (actor and API token) and its CKAN name."""

    department: DepartmentOut
    actor: Actor
    token: str
    org: str


def make_publisher(db: Session, *, name: str | None = None) -> Publisher:
    dept = make_department(db, name=name)
    user = make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id)
    row = db.get(Department, dept.id)
    assert row is not None
    return Publisher(department=dept, actor=actor_of(db, user), token=make_token(db, user), org=org_name(row))


def make_dataset(db: Session, publisher: Publisher, **fields: Any) -> dict[str, Any]:
    """A dataset of ``publisher`` through the real use case; ``fields`` override the defaults."""
    n = next(_seq)
    payload: dict[str, Any] = {
        "name": f"dataset-{n}",
        "title": f"测试数据集{n}",
        "notes": "用于测试的开放数据集。",
        "owner_org": publisher.org,
        "tags": [{"name": "测试"}],
        "resources": [{"name": "数据文件", "url": "https://example.org/data.csv", "format": "csv"}],
    }
    payload.update(fields)
    return dataset_create(db, actor=publisher.actor, payload=payload)
