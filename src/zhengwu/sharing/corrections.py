"""Use cases of correction requests (数据校核).

A consumer that finds a wrong value in a provider's resource reports it (resource, element, record, the
value seen, the value believed correct, evidence). The provider's data administrators answer within a
deadline in official working days: corrected, or not an error, with a reason either way. Every state
change is a ``sharing_events`` row and an audit record, so the history is kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import (
    Actor,
    require_authenticated,
    require_department_admin,
    require_roles,
)
from zhengwu.audit.services import audit_record
from zhengwu.catalog.models import Resource
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotFound, PermissionDenied, ValidationError
from zhengwu.sharing.calendar import (
    add_working_days,
    beijing_date,
    beijing_today,
    calendar_covers,
    working_days_between,
)
from zhengwu.sharing.common import (
    acting_department,
    active_department,
    department_names,
    events_out,
    published_elements,
    record_event,
    require_department_staff,
    require_party,
    require_published,
    resolve_elements,
    resource_by_code,
)
from zhengwu.sharing.models import LABELS_ZH, CorrectionRequest, CorrectionStatus, SharingEvent
from zhengwu.sharing.schemas import CorrectionAnswerIn, CorrectionIn, CorrectionOut, EventOut

# Default answer deadline (Settings.correction_deadline_working_days is what the platform passes).
CORRECTION_DEADLINE_WORKING_DAYS = 10

CorrectionBox = Literal["mine", "to_me", "all"]


def _out(db: Session, rows: list[CorrectionRequest], *, today: dt.date) -> list[CorrectionOut]:
    if not rows:
        return []
    names = department_names(db)
    resources = {
        r.id: r for r in db.scalars(select(Resource).where(Resource.id.in_({c.resource_id for c in rows})))
    }
    labels: dict[int, dict[str, str]] = {}
    out = []
    for c in rows:
        res = resources[c.resource_id]
        if res.id not in labels:
            labels[res.id] = {e.name_en: e.name for e in published_elements(db, res)}
        is_open = c.status == CorrectionStatus.OPEN
        out.append(
            CorrectionOut(
                id=c.id,
                resource_id=res.id,
                resource_code=res.code,
                resource_name=res.name,
                provider_id=c.provider_id,
                provider_name=names.get(c.provider_id, ""),
                consumer_id=c.consumer_id,
                consumer_name=names.get(c.consumer_id, ""),
                element_name=c.element_name,
                element_label=labels[res.id].get(c.element_name, c.element_name),
                record_key=c.record_key,
                value_seen=c.value_seen,
                value_expected=c.value_expected,
                evidence=c.evidence,
                status=c.status,
                status_label=LABELS_ZH[c.status],
                submitted_at=c.submitted_at,
                submitted_on=c.submitted_on,
                deadline_days=c.deadline_days,
                due_on=c.due_on,
                due_estimated=not calendar_covers(c.due_on),
                working_days_left=working_days_between(today, c.due_on) if is_open else None,
                overdue=is_open and today > c.due_on,
                escalated_at=c.escalated_at,
                answered_at=c.answered_at,
                answered_on=c.answered_on,
                answer=c.answer,
            )
        )
    return out


def correction_create(
    db: Session,
    *,
    actor: Actor,
    data: CorrectionIn,
    deadline_working_days: int = CORRECTION_DEADLINE_WORKING_DAYS,
    now: dt.datetime | None = None,
) -> CorrectionOut:
    """Report a wrong value; the provider must answer within ``deadline_working_days``."""
    now = now or utcnow()
    today = beijing_date(now)
    consumer_id = acting_department(actor, data.consumer_department_id)
    active_department(db, consumer_id, field="consumer_department_id")
    resource = resource_by_code(db, data.resource_code)
    require_published(resource)
    if resource.provider_id == consumer_id:
        raise Conflict(
            "本部门资源的错误请直接更正，无需提交校核",
            message_en="a department corrects its own resource directly",
            code="sharing.correction.own_resource",
            field="resource_code",
        )
    if not 1 <= deadline_working_days <= 365:
        raise ValidationError(
            "答复期限应为 1 至 365 个工作日",
            message_en="deadline out of range",
            field="deadline_working_days",
        )
    element = resolve_elements([data.element], published_elements(db, resource), field="element")[0]
    row = CorrectionRequest(
        resource_id=resource.id,
        provider_id=resource.provider_id,
        consumer_id=consumer_id,
        reported_by=actor.user_id,
        element_name=element,
        record_key=data.record_key,
        value_seen=data.value_seen,
        value_expected=data.value_expected,
        evidence=data.evidence,
        status=CorrectionStatus.OPEN,
        submitted_at=now,
        submitted_on=today,
        deadline_days=deadline_working_days,
        due_on=add_working_days(today, deadline_working_days),
    )
    db.add(row)
    db.flush()
    record_event(
        db,
        actor=actor,
        action="correction.create",
        at=now,
        correction_id=row.id,
        to_status=CorrectionStatus.OPEN.value,
    )
    audit_record(
        db,
        actor=actor,
        action="sharing.correction.create",
        target_type="sharing_correction",
        target_id=row.id,
        details={"resource_id": resource.id, "element": element, "due_on": row.due_on.isoformat()},
    )
    return _out(db, [row], today=today)[0]


def _load(db: Session, correction_id: int, *, lock: bool = False) -> CorrectionRequest:
    query = select(CorrectionRequest).where(CorrectionRequest.id == correction_id)
    if lock:
        query = query.with_for_update()
    row = db.scalar(query)
    if row is None:
        raise NotFound(
            "校核申请不存在",
            message_en="correction request not found",
            code="sharing.correction.not_found",
            field="correction_id",
        )
    return row


def _require_can_read(actor: Actor, row: CorrectionRequest) -> None:
    require_party(
        actor,
        consumer_id=row.consumer_id,
        provider_id=row.provider_id,
        what_zh="校核",
        what_en="correction request",
    )


def correction_get(
    db: Session, *, actor: Actor, correction_id: int, today: dt.date | None = None
) -> CorrectionOut:
    """One correction request, for the two departments concerned or a platform admin."""
    row = _load(db, correction_id)
    _require_can_read(actor, row)
    return _out(db, [row], today=today or beijing_today())[0]


def correction_history(db: Session, *, actor: Actor, correction_id: int) -> list[EventOut]:
    """Every state change of a correction request, oldest first."""
    row = _load(db, correction_id)
    _require_can_read(actor, row)
    events = list(
        db.scalars(
            select(SharingEvent)
            .where(SharingEvent.correction_id == row.id)
            .order_by(SharingEvent.at, SharingEvent.id)
        )
    )
    return events_out(db, events)


def correction_list(
    db: Session,
    *,
    actor: Actor,
    box: CorrectionBox = "mine",
    today: dt.date | None = None,
    limit: int = 500,
) -> list[CorrectionOut]:
    """Corrections my department reported (``mine``), received (``to_me``), or all (platform admins)."""
    require_authenticated(actor)
    query = select(CorrectionRequest)
    if box == "all":
        require_roles(actor, Role.PLATFORM_ADMIN)
    else:
        if actor.department_id is None:
            raise PermissionDenied(
                "账号不属于任何部门", message_en="account has no department", code="sharing.no_department"
            )
        require_department_staff(actor, actor.department_id)
        column = CorrectionRequest.consumer_id if box == "mine" else CorrectionRequest.provider_id
        query = query.where(column == actor.department_id)
    rows = list(
        db.scalars(
            query.order_by(CorrectionRequest.submitted_at.desc(), CorrectionRequest.id.desc()).limit(limit)
        )
    )
    return _out(db, rows, today=today or beijing_today())


def correction_answer(
    db: Session,
    *,
    actor: Actor,
    correction_id: int,
    data: CorrectionAnswerIn,
    now: dt.datetime | None = None,
) -> CorrectionOut:
    """The provider answers: ``corrected`` or ``not_an_error``, with a reason either way."""
    now = now or utcnow()
    if data.outcome == CorrectionStatus.OPEN:
        raise ValidationError(
            "答复结果应为「已更正」或「经核无误」",
            message_en="outcome must be corrected or not_an_error",
            field="outcome",
        )
    row = _load(db, correction_id, lock=True)
    require_department_admin(actor, row.provider_id)
    if row.status != CorrectionStatus.OPEN:
        raise Conflict(
            f"校核已答复（{LABELS_ZH[row.status]}）",
            message_en=f"correction already answered ({row.status.value})",
            code="sharing.correction.not_open",
        )
    row.status = data.outcome
    row.answer = data.answer
    row.answered_at = now
    row.answered_on = beijing_date(now)
    row.answered_by = actor.user_id
    record_event(
        db,
        actor=actor,
        action="correction.answer",
        at=now,
        correction_id=row.id,
        from_status=CorrectionStatus.OPEN.value,
        to_status=data.outcome.value,
        note=data.answer,
    )
    audit_record(
        db,
        actor=actor,
        action="sharing.correction.answer",
        target_type="sharing_correction",
        target_id=row.id,
        details={"outcome": data.outcome.value, "on_time": row.answered_on <= row.due_on},
    )
    db.flush()
    return _out(db, [row], today=row.answered_on)[0]


@dataclass(frozen=True)
class CorrectionEscalation:
    escalated: int
    correction_ids: list[int]


def correction_escalate_overdue(
    db: Session, *, today: dt.date, actor: Actor | None = None, now: dt.datetime | None = None
) -> CorrectionEscalation:
    """Escalate open corrections past their deadline to the platform (once each), recomputing deadlines."""
    actor = actor or Actor.system("sharing-escalation")
    require_roles(actor, Role.PLATFORM_ADMIN)
    now = now or utcnow()
    for row in db.scalars(select(CorrectionRequest).where(CorrectionRequest.status == CorrectionStatus.OPEN)):
        due = add_working_days(row.submitted_on, row.deadline_days)
        if due != row.due_on:
            record_event(
                db,
                actor=actor,
                action="correction.deadline_recompute",
                at=now,
                correction_id=row.id,
                note=f"{row.due_on.isoformat()} → {due.isoformat()}",
            )
            row.due_on = due
    rows = list(
        db.scalars(
            select(CorrectionRequest)
            .where(
                CorrectionRequest.status == CorrectionStatus.OPEN,
                CorrectionRequest.due_on < today,
                CorrectionRequest.escalated_at.is_(None),
            )
            .order_by(CorrectionRequest.id)
            .with_for_update()
        )
    )
    for row in rows:
        row.escalated_at = now
        late = working_days_between(row.due_on, today)
        record_event(
            db,
            actor=actor,
            action="correction.escalate",
            at=now,
            correction_id=row.id,
            note=f"逾期 {late} 个工作日，已提交平台督办",
        )
        audit_record(
            db,
            actor=actor,
            action="sharing.correction.escalate",
            target_type="sharing_correction",
            target_id=row.id,
            details={"due_on": row.due_on.isoformat(), "working_days_late": late},
        )
    db.flush()
    return CorrectionEscalation(len(rows), [r.id for r in rows])
