"""Helpers of the sharing tests: three departments, their staff, and published catalog resources.

Catalog entries come from tests/factories_catalog.py (the real catalog use cases).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories_catalog
from factories import actor_of, make_department, make_user
from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import DepartmentOut, UserOut
from zhengwu.catalog.models import Resource, ShareType
from zhengwu.catalog.services import resource_withdraw
from zhengwu.sharing.schemas import ShareRequestIn

# The shared catalog factories create entries through the real catalog use cases (codes, versions,
# snapshots), so sharing sees exactly what production publishes. Their default elements are
# uscc, org_name, registered_on, legal_rep_name, registered_capital.


def make_resource(
    db: Session,
    *,
    provider_id: int,
    share_type: ShareType = ShareType.CONDITIONAL,
    published: bool = True,
    withdrawn: bool = False,
    name: str | None = None,
    elements: int = 5,
) -> Resource:
    """A catalog entry (published unless told otherwise) as its ORM row."""
    out = factories_catalog.make_resource(
        db, provider_id=provider_id, share_type=share_type, published=published, name=name, elements=elements
    )
    if withdrawn:
        resource_withdraw(db, actor=factories_catalog.CATALOG_SYSTEM, code=out.code, reason="测试撤销")
    row = db.scalar(select(Resource).where(Resource.code == out.code))
    assert row is not None
    return row


@dataclass
class World:
    provider: DepartmentOut
    consumer: DepartmentOut
    other: DepartmentOut
    p_admin: UserOut
    c_admin: UserOut
    c_dev: UserOut
    c_norole: UserOut
    o_admin: UserOut
    platform: UserOut
    public: UserOut
    conditional: Resource
    unconditional: Resource
    unshared: Resource
    draft: Resource
    withdrawn: Resource

    def actor(self, db: Session, user: UserOut) -> Actor:
        actor: Actor = actor_of(db, user)
        return actor


@pytest.fixture
def world(db: Session) -> World:
    provider = make_department(db, name="测试市场监督管理局")
    consumer = make_department(db, name="测试人力资源和社会保障厅")
    other = make_department(db, name="测试民政厅")
    return World(
        provider=provider,
        consumer=consumer,
        other=other,
        p_admin=make_user(db, roles=[Role.DATA_ADMIN], department_id=provider.id),
        c_admin=make_user(db, roles=[Role.DATA_ADMIN], department_id=consumer.id),
        c_dev=make_user(db, roles=[Role.DEVELOPER], department_id=consumer.id),
        c_norole=make_user(db, roles=[], department_id=consumer.id),
        o_admin=make_user(db, roles=[Role.DATA_ADMIN], department_id=other.id),
        platform=make_user(db, roles=[Role.PLATFORM_ADMIN], department_id=other.id),
        public=make_user(db, roles=[Role.PUBLIC_USER]),
        conditional=make_resource(db, provider_id=provider.id, name="企业登记信息"),
        unconditional=make_resource(
            db, provider_id=provider.id, share_type=ShareType.UNCONDITIONAL, name="企业名录"
        ),
        unshared=make_resource(db, provider_id=provider.id, share_type=ShareType.NONE, name="内部执法记录"),
        draft=make_resource(db, provider_id=provider.id, published=False, name="草稿资源"),
        withdrawn=make_resource(db, provider_id=provider.id, withdrawn=True, name="已撤销资源"),
    )


def request_in(resource: Resource, **overrides: object) -> ShareRequestIn:
    """A valid request body for ``resource`` (all fields overridable)."""
    data: dict[str, object] = {
        "resource_code": resource.code,
        "elements": ["uscc", "org_name", "legal_rep_name"],
        "purpose": "社会保险参保登记时核验用人单位信息",
        "legal_basis": "《社会保险法》第五十七条",
        "consumer_system": "社会保险经办系统",
        "valid_from": dt.date(2026, 1, 1),
        "valid_until": dt.date(2030, 12, 31),
    }
    data.update(overrides)
    return ShareRequestIn.model_validate(data)


# A fixed submission moment (Beijing 2026-06-01 10:00, a Monday) keeps deadlines independent of today.
MONDAY_MORNING = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
