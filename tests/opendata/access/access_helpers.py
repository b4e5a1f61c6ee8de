"""Helpers of the conditional-opening tests: a conditional dataset with a table, applicants, approvals."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from factories import organ_uscc
from factories_opendata import Publisher, make_dataset
from opendata.datastore.datastore_helpers import load_csv
from zhengwu.accounts.models import User
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.services import actor_for_user
from zhengwu.identifiers import resident_id_check_digit
from zhengwu.opendata.access.schemas import ApplicationOut
from zhengwu.opendata.access.services import applicant_register, application_approve, application_create

PASSWORD = "Applicant@2026"
_seq = itertools.count(1)


def resident_id(n: int) -> str:
    """A valid resident ID (GB 11643) of someone born 1990-01-01 in 330106."""
    body = f"33010619900101{n % 1000:03d}"
    return body + resident_id_check_digit(body)


@dataclass
class Conditional:
    """A conditional dataset with its first resource loaded into the (closed) datastore."""

    name: str
    title: str
    resource_id: str


def make_conditional(db: Session, pub: Publisher, tmp_path: Path, **fields: Any) -> Conditional:
    dataset = make_dataset(db, pub, open_type="conditional", **fields)
    rid = str(dataset["resources"][0]["id"])
    load_csv(db, tmp_path, resource_id=rid, is_open=False)
    return Conditional(name=str(dataset["name"]), title=str(dataset["title"]), resource_id=rid)


def make_applicant(db: Session, *, company: bool = False) -> Actor:
    """A public user signed up through the real use case (a person, or a company)."""
    n = next(_seq)
    out = applicant_register(
        db,
        actor=Actor.anonymous(),
        data={
            "kind": "company" if company else "person",
            "username": f"applicant{n}",
            "password": PASSWORD,
            "name": f"某科技有限公司{n}" if company else f"申请人{n}",
            "identifier": organ_uscc("330100", 5000 + n) if company else resident_id(n),
            "phone": "13800000000",
        },
    )
    user = db.get(User, out.user_id)
    assert user is not None
    return actor_for_user(user)


def application_data(dataset: str, **fields: Any) -> dict[str, Any]:
    today = dt.date.today()
    data: dict[str, Any] = {
        "dataset": dataset,
        "purpose": "用于研究本地企业登记变化趋势，仅作统计分析。",
        "use_start": today.isoformat(),
        "use_end": (today + dt.timedelta(days=180)).isoformat(),
        "contact_name": "张三",
        "contact_phone": "13800000000",
        "contact_email": "zhangsan@example.org",
    }
    data.update(fields)
    return data


def approved(
    db: Session, pub: Publisher, applicant: Actor, dataset: str, *, rate: int = 60, quota: int = 1000
) -> ApplicationOut:
    """An application of ``applicant`` for ``dataset``, approved by ``pub``."""
    made = application_create(db, actor=applicant, data=application_data(dataset))
    return application_approve(
        db,
        actor=pub.actor,
        application_id=made.id,
        data={
            "conditions": "不得向第三方提供原始数据",
            "valid_until": (dt.date.today() + dt.timedelta(days=90)).isoformat(),
            "rate_per_minute": rate,
            "daily_quota": quota,
        },
    )
