"""Write, seal, read and verify the audit trail."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.audit.models import AuditEvent
from zhengwu.crypto import sm3_hash
from zhengwu.db import utcnow

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the PostgreSQL advisory lock that serialises sealers.
_SEAL_LOCK_KEY = 0x7A68_6177_0001

_SENSITIVE_KEYS = frozenset({"password", "token", "secret", "secret_key", "new_password", "old_password"})


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`audit_verify`: ``ok`` or the first record that does not match, and why."""

    ok: bool
    records: int
    sealed: int
    first_bad_id: int | None = None
    reason: str | None = None


def _scrub(details: dict[str, Any]) -> dict[str, Any]:
    # Secrets never reach the trail even if a caller passes them by mistake.
    return {k: ("***" if k.lower() in _SENSITIVE_KEYS else v) for k, v in details.items()}


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


_HASHED: tuple[str, ...] = (
    "action",
    "outcome",
    "actor_user_id",
    "actor_username",
    "actor_department_id",
    "target_type",
    "target_id",
    "ip",
    "details",
)


def content_hash_of(event: AuditEvent) -> str:
    """SM3 over the canonical JSON of every field a person could care about."""
    return _content_hash({"occurred_at": event.occurred_at, **{k: getattr(event, k) for k in _HASHED}})


def _content_hash(values: dict[str, Any]) -> str:
    payload = {k: values[k] for k in _HASHED}
    payload["occurred_at"] = _iso(values["occurred_at"])
    canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return sm3_hash(canonical.encode("utf-8")).hex()


def _chain(prev: str, content: str) -> str:
    return sm3_hash(bytes.fromhex(prev) + bytes.fromhex(content)).hex()


def audit_record(
    db: Session,
    *,
    actor: Actor,
    action: str,
    target_type: str | None = None,
    target_id: str | int | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (it commits or rolls back with the action).

    The actor is remembered as a snapshot (id, name, department, address) so renames never rewrite history.
    """
    event = AuditEvent(
        **audit_values(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            details=details,
        )
    )
    db.add(event)
    db.flush()
    return event


def audit_values(
    *,
    actor: Actor,
    action: str,
    target_type: str | None = None,
    target_id: str | int | None = None,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of a new event, its content hash included: :func:`audit_record` adds them to the
    caller's transaction as an :class:`AuditEvent`; writers that batch records themselves (the
    registries' access log) insert them directly. Either way the sealer chains the record later."""
    values: dict[str, Any] = {
        "occurred_at": utcnow(),
        "action": action,
        "outcome": outcome,
        "actor_user_id": actor.user_id,
        "actor_username": actor.username,
        "actor_department_id": actor.department_id,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "ip": actor.ip,
        "details": _scrub(details or {}),
    }
    values["content_hash"] = _content_hash(values)
    return values


def audit_values_variant(
    values: dict[str, Any], *, outcome: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``values`` of :func:`audit_values` with another ``outcome`` or ``details`` (same time, actor and
    target), its content hash recomputed. For writers that decide between two records in SQL: the
    registries' lean path records a lookup's outcome, or a verification's result, in the statement that
    reads the row (:mod:`zhengwu.registries.hotstore`)."""
    variant = dict(values)
    if outcome is not None:
        variant["outcome"] = outcome
    if details is not None:
        variant["details"] = _scrub(details)
    variant["content_hash"] = _content_hash(variant)
    return variant


def audit_seal(db: Session, *, limit: int = 10_000) -> int:
    """Chain committed, unsealed records in id order; returns how many were sealed.

    Only one sealer may run at a time: PostgreSQL takes an advisory lock, SQLite has a single writer.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SEAL_LOCK_KEY})
    last = db.execute(
        select(AuditEvent.seal_seq, AuditEvent.chain_hash)
        .where(AuditEvent.seal_seq.is_not(None))
        .order_by(AuditEvent.seal_seq.desc())
        .limit(1)
    ).first()
    seq = last[0] if last else 0
    prev = last[1] if last else GENESIS_HASH
    pending = db.scalars(
        select(AuditEvent).where(AuditEvent.seal_seq.is_(None)).order_by(AuditEvent.id).limit(limit)
    ).all()
    now = utcnow()
    for event in pending:
        seq += 1
        prev = _chain(prev, event.content_hash)
        event.seal_seq = seq
        event.chain_hash = prev
        event.sealed_at = now
    db.flush()
    return len(pending)


def audit_verify(db: Session, *, batch: int = 5_000) -> VerifyResult:
    """Check every record's content hash and the whole seal chain; name the first record that fails."""
    records = 0
    last_id = 0
    while True:
        rows = db.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            records += 1
            if content_hash_of(event) != event.content_hash:
                return VerifyResult(
                    False, records, 0, event.id, "记录内容与其哈希不符 (content hash mismatch)"
                )
        last_id = rows[-1].id
        db.expunge_all()
    sealed = 0
    prev = GENESIS_HASH
    last_seq = 0
    while True:
        rows = db.scalars(
            select(AuditEvent)
            .where(AuditEvent.seal_seq > last_seq)
            .order_by(AuditEvent.seal_seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            assert event.seal_seq is not None
            if event.seal_seq != last_seq + 1:
                return VerifyResult(
                    False,
                    records,
                    sealed,
                    event.id,
                    f"封存序号不连续：缺少 {last_seq + 1} (seal sequence gap before {event.seal_seq})",
                )
            prev = _chain(prev, event.content_hash)
            if prev != event.chain_hash:
                return VerifyResult(False, records, sealed, event.id, "哈希链断裂 (chain hash mismatch)")
            sealed += 1
            last_seq = event.seal_seq
        db.expunge_all()
    return VerifyResult(True, records, sealed)


def audit_count(db: Session) -> int:
    """How many events the trail holds."""
    return int(db.scalar(select(func.count()).select_from(AuditEvent)) or 0)


@dataclass(frozen=True)
class AuditPage:
    """One page of the trail for auditors."""

    total: int
    events: list[dict[str, Any]]


def audit_list(
    db: Session,
    *,
    actor: Actor,
    action_prefix: str | None = None,
    username: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> AuditPage:
    """Events newest first, for security auditors and platform admins only."""
    require_roles(actor, Role.AUDITOR, Role.PLATFORM_ADMIN)
    query = select(AuditEvent)
    if action_prefix:
        query = query.where(AuditEvent.action.startswith(action_prefix, autoescape=True))
    if username:
        query = query.where(AuditEvent.actor_username == username)
    total = int(db.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = db.scalars(
        query.order_by(AuditEvent.id.desc()).offset((max(page, 1) - 1) * page_size).limit(page_size)
    ).all()
    events = [
        {
            "id": e.id,
            "occurred_at": e.occurred_at,
            "action": e.action,
            "outcome": e.outcome,
            "actor_username": e.actor_username,
            "target_type": e.target_type,
            "target_id": e.target_id,
            "ip": e.ip,
            "details": e.details,
            "sealed": e.seal_seq is not None,
        }
        for e in rows
    ]
    return AuditPage(total=total, events=events)
