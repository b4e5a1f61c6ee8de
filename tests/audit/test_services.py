"""The audit trail: content hashes, seal chain, tamper detection, access for auditors only."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from factories import SYSTEM, actor_of, make_department, make_user
from zhengwu.accounts.models import Role
from zhengwu.audit.models import AuditEvent
from zhengwu.audit.services import (
    audit_list,
    audit_record,
    audit_seal,
    audit_values,
    audit_values_variant,
    audit_verify,
    content_hash_of,
)
from zhengwu.errors import PermissionDenied


def _fill(db: Session, n: int = 5) -> list[AuditEvent]:
    return [
        audit_record(
            db,
            actor=SYSTEM,
            action="test.event",
            target_type="thing",
            target_id=i,
            details={"n": i, "名称": "测试"},
        )
        for i in range(n)
    ]


def test_untouched_trail_verifies(db: Session) -> None:
    _fill(db)
    assert audit_seal(db) >= 5
    _fill(db, 2)  # unsealed records are checked by their content hash
    result = audit_verify(db)
    assert result.ok, result.reason
    assert result.records >= 7 and result.sealed >= 5


def test_one_changed_byte_is_found_and_named(db: Session) -> None:
    events = _fill(db)
    audit_seal(db)
    victim = events[2]
    db.execute(update(AuditEvent).where(AuditEvent.id == victim.id).values(target_id="3"))
    db.expire_all()
    result = audit_verify(db)
    assert not result.ok
    assert result.first_bad_id == victim.id
    assert "content hash" in (result.reason or "")


def test_deleted_sealed_record_breaks_the_chain(db: Session) -> None:
    events = _fill(db)
    audit_seal(db)
    db.delete(db.get(AuditEvent, events[1].id))
    db.flush()
    result = audit_verify(db)
    assert not result.ok
    assert result.first_bad_id == events[2].id


def test_rewritten_record_with_recomputed_hash_breaks_the_chain(db: Session) -> None:
    """An attacker who also recomputes the content hash is still caught by the chain."""
    events = _fill(db)
    audit_seal(db)
    row = db.get(AuditEvent, events[3].id)
    assert row is not None
    row.actor_username = "someone-else"
    row.content_hash = content_hash_of(row)
    db.flush()
    result = audit_verify(db)
    assert not result.ok and result.first_bad_id == events[3].id


def test_secrets_are_scrubbed(db: Session) -> None:
    event = audit_record(
        db, actor=SYSTEM, action="test.secret", details={"password": "hunter2", "token": "zw_x"}
    )
    assert event.details == {"password": "***", "token": "***"}


def test_only_auditors_and_admins_read_the_trail(db: Session) -> None:
    dept = make_department(db)
    dev = actor_of(db, make_user(db, roles=[Role.DEVELOPER], department_id=dept.id))
    auditor = actor_of(db, make_user(db, roles=[Role.AUDITOR]))
    with pytest.raises(PermissionDenied):
        audit_list(db, actor=dev)
    page = audit_list(db, actor=auditor, action_prefix="user.")
    assert page.total >= 2
    assert all(e["action"].startswith("user.") for e in page.events)
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "user.create")) is not None


def test_a_variant_is_the_same_record_with_its_own_hash(db: Session) -> None:
    values = audit_values(
        actor=SYSTEM,
        action="registries.person.verify",
        target_type="person",
        target_id="x",
        details={"match": True},
    )
    variant = audit_values_variant(values, details={"match": False, "token": "secret"})
    failed = audit_values_variant(values, outcome="failure")
    assert variant["occurred_at"] == values["occurred_at"] and variant["details"] == {
        "match": False,
        "token": "***",
    }
    assert values["details"] == {"match": True}  # the original is untouched
    assert failed["outcome"] == "failure" and failed["details"] == values["details"]
    assert len({values["content_hash"], variant["content_hash"], failed["content_hash"]}) == 3
    for fields in (values, variant, failed):  # each hash is the one the verifier recomputes
        db.add(AuditEvent(**fields))
    db.flush()
    assert audit_seal(db) == 3
    assert audit_verify(db).ok
