"""Grants: revocation, expiry, listing and the decisions the exchange will enforce."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories_catalog
from sharing.sharing_helpers import MONDAY_MORNING, World, request_in
from zhengwu.audit.models import AuditEvent
from zhengwu.catalog.services import resource_withdraw
from zhengwu.errors import Conflict, PermissionDenied, ValidationError
from zhengwu.sharing.grants import (
    grant_check,
    grant_check_for,
    grant_expire_due,
    grant_get,
    grant_list,
    grant_list_for_resource,
    grant_revoke,
)
from zhengwu.sharing.models import Grant, GrantStatus
from zhengwu.sharing.schemas import GrantCheckIn
from zhengwu.sharing.services import share_request_approve, share_request_create

D = dt.date
JULY_1 = D(2026, 7, 1)
PURPOSE = "社会保险参保登记时核验用人单位信息"


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, 4, 0, tzinfo=dt.UTC)


def _granted(db: Session, world: World, **overrides: object) -> Grant:
    req = share_request_create(
        db,
        actor=world.actor(db, world.c_admin),
        data=request_in(world.conditional, **overrides),
        now=MONDAY_MORNING,
    )
    out = share_request_approve(
        db,
        actor=world.actor(db, world.p_admin),
        request_id=req.id,
        elements=["uscc", "org_name"],
        now=MONDAY_MORNING,
    )
    grant = db.get(Grant, out.grant_id)
    assert grant is not None
    return grant


def _check(db: Session, world: World, elements: list[str], *, purpose: str = PURPOSE, on: dt.date = JULY_1):  # type: ignore[no-untyped-def]
    return grant_check(
        db,
        consumer_department_id=world.consumer.id,
        resource_id=world.conditional.id,
        element_names=elements,
        purpose=purpose,
        at=_at(on),
    )


def test_grant_check_allows_what_was_granted(db: Session, world: World) -> None:
    grant = _granted(db, world, valid_from=D(2026, 6, 1), valid_until=D(2026, 12, 31))
    decision = _check(db, world, ["uscc", "org_name"])
    assert decision.allowed and decision.grant_id == grant.id and decision.elements == ["uscc", "org_name"]
    assert decision.reason is None
    # Whitespace and full-width characters do not make a different purpose.
    assert _check(db, world, ["org_name"], purpose=" 社会保险参保登记时核验用人单位信息　").allowed


def test_grant_check_refusals(db: Session, world: World) -> None:
    grant = _granted(db, world, valid_from=D(2026, 6, 1), valid_until=D(2026, 12, 31))
    not_granted = _check(db, world, ["uscc", "legal_rep_name"])
    assert not not_granted.allowed and not_granted.reason == "grant.element_not_granted"
    assert not_granted.elements == ["uscc"] and not_granted.missing == ["legal_rep_name"]
    mismatch = _check(db, world, ["uscc"], purpose="商业营销")
    assert not mismatch.allowed and mismatch.reason == "grant.purpose_mismatch"
    expired = _check(db, world, ["uscc"], on=D(2027, 1, 1))
    assert not expired.allowed and expired.reason == "grant.expired"
    early = _check(db, world, ["uscc"], on=D(2026, 5, 31))
    assert not early.allowed and early.reason == "grant.not_yet_valid"
    other = grant_check(
        db,
        consumer_department_id=world.other.id,
        resource_id=world.conditional.id,
        element_names=["uscc"],
        purpose=PURPOSE,
        at=_at(D(2026, 7, 1)),
    )
    assert not other.allowed and other.reason == "grant.none"

    grant_revoke(db, actor=world.actor(db, world.p_admin), grant_id=grant.id, reason="超范围使用")
    revoked = _check(db, world, ["uscc"])
    assert not revoked.allowed and revoked.reason == "grant.revoked"

    resource_withdraw(db, actor=factories_catalog.CATALOG_SYSTEM, code=world.conditional.code, reason="停用")
    assert _check(db, world, ["uscc"]).reason == "resource.unavailable"


def test_a_second_grant_for_the_same_purpose_can_cover_more(db: Session, world: World) -> None:
    _granted(db, world)
    req = share_request_create(
        db,
        actor=world.actor(db, world.c_admin),
        data=request_in(world.conditional, elements=["registered_capital"], consumer_system="另一系统"),
    )
    share_request_approve(db, actor=world.actor(db, world.p_admin), request_id=req.id)
    assert _check(db, world, ["registered_capital"]).allowed
    assert _check(db, world, ["uscc"]).allowed
    # No single grant covers both: the exchange must ask per grant.
    assert _check(db, world, ["uscc", "registered_capital"]).reason == "grant.element_not_granted"


def test_revocation_rules(db: Session, world: World) -> None:
    grant = _granted(db, world)
    for user in (world.c_admin, world.o_admin, world.c_dev):
        with pytest.raises(PermissionDenied):
            grant_revoke(db, actor=world.actor(db, user), grant_id=grant.id, reason="x")
    with pytest.raises(ValidationError) as err:
        grant_revoke(db, actor=world.actor(db, world.p_admin), grant_id=grant.id, reason="")
    assert err.value.field == "reason"
    out = grant_revoke(
        db, actor=world.actor(db, world.platform), grant_id=grant.id, reason="平台督查发现违规"
    )
    assert out.status == GrantStatus.REVOKED and out.revoke_reason == "平台督查发现违规"
    with pytest.raises(Conflict):
        grant_revoke(db, actor=world.actor(db, world.p_admin), grant_id=grant.id, reason="again")
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "sharing.grant.revoke"))
    assert audit is not None and audit.target_id == str(grant.id)


def test_expiry_sweep_and_effective_status(db: Session, world: World) -> None:
    grant = _granted(db, world, valid_from=D(2026, 6, 1), valid_until=D(2026, 12, 31))
    consumer = world.actor(db, world.c_admin)
    assert grant_get(db, actor=consumer, grant_id=grant.id, today=D(2027, 1, 1)).status == GrantStatus.EXPIRED
    assert grant.status == GrantStatus.ACTIVE  # not written until the sweep runs
    assert grant_expire_due(db, today=D(2026, 12, 31)) == 0
    assert grant_expire_due(db, today=D(2027, 1, 1)) == 1
    assert grant_get(db, actor=consumer, grant_id=grant.id, today=D(2026, 6, 1)).status == GrantStatus.EXPIRED
    assert grant_expire_due(db, today=D(2027, 1, 2)) == 0


def test_lists_and_who_uses_a_resource(db: Session, world: World) -> None:
    grant = _granted(db, world)
    assert [g.id for g in grant_list(db, actor=world.actor(db, world.c_dev), box="mine")] == [grant.id]
    assert [g.id for g in grant_list(db, actor=world.actor(db, world.p_admin), box="given")] == [grant.id]
    assert grant_list(db, actor=world.actor(db, world.o_admin), box="mine") == []
    with pytest.raises(PermissionDenied):
        grant_list(db, actor=world.actor(db, world.o_admin), box="all")
    with pytest.raises(PermissionDenied):
        grant_get(db, actor=world.actor(db, world.o_admin), grant_id=grant.id)
    users = grant_list_for_resource(
        db, actor=world.actor(db, world.o_admin), resource_id=world.conditional.id
    )
    assert [(g.consumer_name, g.elements) for g in users] == [
        ("测试人力资源和社会保障厅", ["uscc", "org_name"])
    ]
    with pytest.raises(PermissionDenied):
        grant_list_for_resource(db, actor=world.actor(db, world.public), resource_id=world.conditional.id)


def test_grant_check_for_api_callers(db: Session, world: World) -> None:
    _granted(db, world)
    body = GrantCheckIn(
        consumer_department_id=world.consumer.id,
        resource_id=world.conditional.id,
        element_names=["uscc"],
        purpose=PURPOSE,
    )
    assert grant_check_for(db, actor=world.actor(db, world.c_dev), data=body).allowed
    assert grant_check_for(db, actor=world.actor(db, world.p_admin), data=body).allowed
    with pytest.raises(PermissionDenied):
        grant_check_for(db, actor=world.actor(db, world.o_admin), data=body)
