"""Use cases of share requests (共享申请); grants live in :mod:`zhengwu.sharing.grants`.

Who may do what:

* A request is made by the consumer department: its data administrators or developers, or a platform
  admin on its behalf. Only published resources of another department whose share type is not "none"
  can be requested.
* Unconditional resources are granted at once, without review (still recorded, with an event and an
  audit record). Conditional ones wait for the provider department's data administrators (or a platform
  admin), who approve, approve a narrower subset, or refuse with a reason, within the deadline counted
  in official working days (:mod:`zhengwu.sharing.calendar`).
* Requests are read by the two departments involved and platform admins only.
* Grants are revoked by the provider's data administrators or a platform admin, with a reason.

Every state change writes a :class:`SharingEvent` and an audit record in the caller's transaction.
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
from zhengwu.catalog.models import Resource, ShareType
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
    ElementInfo,
    acting_department,
    active_department,
    check_period,
    department_names,
    events_out,
    published_elements,
    record_event,
    require_department_staff,
    require_party,
    require_published,
    required_text,
    resolve_elements,
    resource_by_code,
)
from zhengwu.sharing.models import (
    LABELS_ZH,
    Grant,
    GrantStatus,
    RequestStatus,
    ShareRequest,
    SharingEvent,
)
from zhengwu.sharing.schemas import (
    EventOut,
    ShareRequestIn,
    ShareRequestOut,
)

DEFAULT_DEADLINE_WORKING_DAYS = 10

RequestBox = Literal["mine", "to_me", "escalated", "all"]

# ---------------------------------------------------------------------------------------------------
# Share requests


def _request_out(
    row: ShareRequest,
    resource: Resource,
    names: dict[int, str],
    *,
    today: dt.date,
    grant_id: int | None,
    labels: dict[str, str],
) -> ShareRequestOut:
    pending = row.status == RequestStatus.PENDING
    on_time = None if row.answered_on is None or row.auto_granted else row.answered_on <= row.due_on
    return ShareRequestOut(
        id=row.id,
        resource_id=resource.id,
        resource_code=resource.code,
        resource_name=resource.name,
        resource_version=row.resource_version,
        share_type=resource.share_type.value,
        provider_id=row.provider_id,
        provider_name=names.get(row.provider_id, ""),
        consumer_id=row.consumer_id,
        consumer_name=names.get(row.consumer_id, ""),
        consumer_system=row.consumer_system,
        purpose=row.purpose,
        legal_basis=row.legal_basis,
        requested_elements=list(row.requested_elements),
        approved_elements=list(row.approved_elements),
        element_labels={n: labels.get(n, n) for n in row.requested_elements},
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        status=row.status,
        status_label=LABELS_ZH[row.status],
        auto_granted=row.auto_granted,
        narrowed=row.narrowed,
        submitted_at=row.submitted_at,
        submitted_on=row.submitted_on,
        deadline_days=row.deadline_days,
        due_on=row.due_on,
        due_estimated=not calendar_covers(row.due_on),
        working_days_left=working_days_between(today, row.due_on) if pending else None,
        overdue=pending and today > row.due_on,
        escalated_at=row.escalated_at,
        answered_at=row.answered_at,
        answered_on=row.answered_on,
        working_days_taken=row.working_days_taken,
        answered_on_time=on_time,
        answer_reason=row.answer_reason,
        grant_id=grant_id,
    )


def _requests_out(db: Session, rows: list[ShareRequest], *, today: dt.date) -> list[ShareRequestOut]:
    if not rows:
        return []
    names = department_names(db)
    resources = {
        r.id: r for r in db.scalars(select(Resource).where(Resource.id.in_({x.resource_id for x in rows})))
    }
    grants = dict(
        db.execute(select(Grant.request_id, Grant.id).where(Grant.request_id.in_([x.id for x in rows])))
        .tuples()
        .all()
    )
    labels = {rid: {e.name_en: e.name for e in published_elements(db, res)} for rid, res in resources.items()}
    return [
        _request_out(
            x,
            resources[x.resource_id],
            names,
            today=today,
            grant_id=grants.get(x.id),
            labels=labels[x.resource_id],
        )
        for x in rows
    ]


def _grant_from(db: Session, row: ShareRequest, *, actor: Actor, now: dt.datetime) -> Grant:
    grant = Grant(
        request_id=row.id,
        resource_id=row.resource_id,
        provider_id=row.provider_id,
        consumer_id=row.consumer_id,
        consumer_system=row.consumer_system,
        elements=list(row.approved_elements),
        purpose=row.purpose,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        status=GrantStatus.ACTIVE,
        created_at=now,
    )
    db.add(grant)
    db.flush()
    record_event(
        db, actor=actor, action="grant.create", at=now, grant_id=grant.id, to_status=GrantStatus.ACTIVE.value
    )
    audit_record(
        db,
        actor=actor,
        action="sharing.grant.create",
        target_type="sharing_grant",
        target_id=grant.id,
        details={
            "request_id": row.id,
            "resource_id": row.resource_id,
            "consumer_id": row.consumer_id,
            "elements": grant.elements,
            "valid_until": grant.valid_until.isoformat(),
        },
    )
    return grant


def share_request_create(
    db: Session,
    *,
    actor: Actor,
    data: ShareRequestIn,
    deadline_working_days: int = DEFAULT_DEADLINE_WORKING_DAYS,
    now: dt.datetime | None = None,
) -> ShareRequestOut:
    """Submit a request; an unconditional resource is granted at once.

    ``deadline_working_days`` comes from ``Settings.share_request_deadline_working_days``.
    """
    now = now or utcnow()
    today = beijing_date(now)
    consumer_id = acting_department(actor, data.consumer_department_id)
    active_department(db, consumer_id, field="consumer_department_id")
    resource = resource_by_code(db, data.resource_code)
    require_published(resource)
    if resource.share_type == ShareType.NONE:
        raise Conflict(
            f"资源「{resource.name}」为不予共享，不能申请",
            message_en="resource is not shareable (share type none)",
            code="sharing.resource.not_shareable",
            field="resource_code",
        )
    if resource.provider_id == consumer_id:
        raise Conflict(
            "不能申请本部门自己的资源",
            message_en="a department cannot request its own resource",
            code="sharing.request.own_resource",
            field="resource_code",
        )
    elements = resolve_elements(list(data.elements), published_elements(db, resource))
    check_period(data.valid_from, data.valid_until, today=today)
    if not 1 <= deadline_working_days <= 365:
        raise ValidationError(
            "答复期限应为 1 至 365 个工作日",
            message_en="deadline out of range",
            field="deadline_working_days",
        )
    duplicate = db.scalar(
        select(ShareRequest.id).where(
            ShareRequest.consumer_id == consumer_id,
            ShareRequest.resource_id == resource.id,
            ShareRequest.consumer_system == data.consumer_system,
            ShareRequest.status == RequestStatus.PENDING,
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"该系统已有待审批的同一资源申请（编号 {duplicate}）",
            message_en=f"a pending request for this resource and system exists (id {duplicate})",
            code="sharing.request.duplicate",
            details={"request_id": duplicate},
        )
    row = ShareRequest(
        resource_id=resource.id,
        resource_version=resource.published_version,
        provider_id=resource.provider_id,
        consumer_id=consumer_id,
        requested_by=actor.user_id,
        consumer_system=data.consumer_system,
        purpose=data.purpose,
        legal_basis=data.legal_basis,
        requested_elements=elements,
        approved_elements=[],
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        status=RequestStatus.PENDING,
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
        action="request.create",
        at=now,
        request_id=row.id,
        to_status=RequestStatus.PENDING.value,
    )
    audit_record(
        db,
        actor=actor,
        action="sharing.request.create",
        target_type="sharing_request",
        target_id=row.id,
        details={
            "resource_id": resource.id,
            "consumer_id": consumer_id,
            "elements": elements,
            "due_on": row.due_on.isoformat(),
        },
    )
    if resource.share_type == ShareType.UNCONDITIONAL:
        # 无条件共享: taken directly on the platform, no review; the grant is still recorded and audited.
        row.status = RequestStatus.APPROVED
        row.auto_granted = True
        row.approved_elements = list(elements)
        row.answered_at = now
        row.answered_on = today
        row.working_days_taken = 0
        row.answer_reason = "无条件共享，申请即获授权"
        record_event(
            db,
            actor=actor,
            action="request.auto_grant",
            at=now,
            request_id=row.id,
            from_status=RequestStatus.PENDING.value,
            to_status=RequestStatus.APPROVED.value,
        )
        audit_record(
            db,
            actor=actor,
            action="sharing.request.auto_grant",
            target_type="sharing_request",
            target_id=row.id,
        )
        _grant_from(db, row, actor=actor, now=now)
    db.flush()
    return _requests_out(db, [row], today=today)[0]


def _load_request(db: Session, request_id: int, *, lock: bool = False) -> ShareRequest:
    query = select(ShareRequest).where(ShareRequest.id == request_id)
    if lock:
        query = query.with_for_update()
    row = db.scalar(query)
    if row is None:
        raise NotFound(
            "共享申请不存在",
            message_en="share request not found",
            code="sharing.request.not_found",
            field="request_id",
        )
    return row


def _require_can_read_request(actor: Actor, row: ShareRequest) -> None:
    require_party(
        actor, consumer_id=row.consumer_id, provider_id=row.provider_id, what_zh="申请", what_en="request"
    )


def share_request_get(
    db: Session, *, actor: Actor, request_id: int, today: dt.date | None = None
) -> ShareRequestOut:
    """One request, for the consumer, the provider or a platform admin."""
    row = _load_request(db, request_id)
    _require_can_read_request(actor, row)
    return _requests_out(db, [row], today=today or beijing_today())[0]


def share_request_history(db: Session, *, actor: Actor, request_id: int) -> list[EventOut]:
    """The state changes of a request and of the grant it produced, oldest first."""
    row = _load_request(db, request_id)
    _require_can_read_request(actor, row)
    grant_ids = list(db.scalars(select(Grant.id).where(Grant.request_id == row.id)))
    cond = SharingEvent.request_id == row.id
    if grant_ids:
        cond = cond | SharingEvent.grant_id.in_(grant_ids)
    events = list(db.scalars(select(SharingEvent).where(cond).order_by(SharingEvent.at, SharingEvent.id)))
    return events_out(db, events)


def share_request_list(
    db: Session,
    *,
    actor: Actor,
    box: RequestBox = "mine",
    status: RequestStatus | None = None,
    today: dt.date | None = None,
    limit: int = 500,
) -> list[ShareRequestOut]:
    """Requests my department made (``mine``), received (``to_me``), escalated ones or all (platform)."""
    require_authenticated(actor)
    query = select(ShareRequest)
    if box in ("escalated", "all"):
        require_roles(actor, Role.PLATFORM_ADMIN)
        if box == "escalated":
            query = query.where(
                ShareRequest.escalated_at.is_not(None), ShareRequest.status == RequestStatus.PENDING
            )
    else:
        if actor.department_id is None:
            raise PermissionDenied(
                "账号不属于任何部门", message_en="account has no department", code="sharing.no_department"
            )
        if box == "to_me":
            require_department_admin(actor, actor.department_id)
            query = query.where(ShareRequest.provider_id == actor.department_id)
        else:
            require_department_staff(actor, actor.department_id)
            query = query.where(ShareRequest.consumer_id == actor.department_id)
    if status is not None:
        query = query.where(ShareRequest.status == status)
    rows = list(
        db.scalars(query.order_by(ShareRequest.submitted_at.desc(), ShareRequest.id.desc()).limit(limit))
    )
    return _requests_out(db, rows, today=today or beijing_today())


def _answer_pending(db: Session, *, actor: Actor, request_id: int) -> tuple[ShareRequest, Resource]:
    row = _load_request(db, request_id, lock=True)
    require_department_admin(actor, row.provider_id)
    if row.status != RequestStatus.PENDING:
        raise Conflict(
            f"申请已是「{LABELS_ZH[row.status]}」状态，不能再答复",
            message_en=f"request is {row.status.value}, not pending",
            code="sharing.request.not_pending",
        )
    resource = db.get(Resource, row.resource_id)
    assert resource is not None  # FK with RESTRICT
    return row, resource


def _mark_answered(row: ShareRequest, *, actor: Actor, now: dt.datetime) -> None:
    row.answered_at = now
    row.answered_on = beijing_date(now)
    row.answered_by = actor.user_id
    row.working_days_taken = max(0, working_days_between(row.submitted_on, row.answered_on))


def share_request_approve(
    db: Session,
    *,
    actor: Actor,
    request_id: int,
    elements: list[int | str] | None = None,
    comment: str = "",
    now: dt.datetime | None = None,
) -> ShareRequestOut:
    """Approve all asked elements, or a narrower subset (never wider); creates the grant."""
    now = now or utcnow()
    row, resource = _answer_pending(db, actor=actor, request_id=request_id)
    require_published(resource, field="request_id")
    if row.valid_until < beijing_date(now):
        raise Conflict(
            "申请的有效期已过，请退回申请", message_en="requested period is over", code="sharing.period.past"
        )
    asked = list(row.requested_elements)
    if elements is None:
        approved = asked
    else:
        available = published_elements(db, resource)
        # Elements dropped from the resource since the request can still be named (and so refused).
        known = {e.name_en for e in available}
        available += [ElementInfo(n, n, None) for n in asked if n not in known]
        approved = resolve_elements(list(elements), available)
        wider = [n for n in approved if n not in asked]
        if wider:
            raise ValidationError(
                "批准的信息项不能超出申请范围：" + "、".join(wider),
                message_en="approved elements not asked for: " + ", ".join(wider),
                code="sharing.request.wider_than_asked",
                field="elements",
                details={"not_asked": wider},
            )
    comment = comment.strip()
    if len(comment) > 5000:
        raise ValidationError("说明不能超过 5000 个字符", message_en="comment too long", field="comment")
    row.status = RequestStatus.APPROVED
    row.approved_elements = approved
    row.answer_reason = comment
    _mark_answered(row, actor=actor, now=now)
    narrowed = set(approved) < set(asked)
    record_event(
        db,
        actor=actor,
        action="request.approve_subset" if narrowed else "request.approve",
        at=now,
        request_id=row.id,
        from_status=RequestStatus.PENDING.value,
        to_status=RequestStatus.APPROVED.value,
        note=comment,
    )
    audit_record(
        db,
        actor=actor,
        action="sharing.request.approve",
        target_type="sharing_request",
        target_id=row.id,
        details={"elements": approved, "narrowed": narrowed},
    )
    _grant_from(db, row, actor=actor, now=now)
    db.flush()
    return _requests_out(db, [row], today=beijing_date(now))[0]


def share_request_refuse(
    db: Session, *, actor: Actor, request_id: int, reason: str, now: dt.datetime | None = None
) -> ShareRequestOut:
    """Refuse a request; the reason is required (国发〔2016〕51号: 不予共享的应说明理由)."""
    now = now or utcnow()
    text = required_text(reason, field="reason", label="拒绝理由")
    row, _resource = _answer_pending(db, actor=actor, request_id=request_id)
    row.status = RequestStatus.REFUSED
    row.answer_reason = text
    _mark_answered(row, actor=actor, now=now)
    record_event(
        db,
        actor=actor,
        action="request.refuse",
        at=now,
        request_id=row.id,
        from_status=RequestStatus.PENDING.value,
        to_status=RequestStatus.REFUSED.value,
        note=text,
    )
    audit_record(
        db,
        actor=actor,
        action="sharing.request.refuse",
        target_type="sharing_request",
        target_id=row.id,
        details={"reason": text[:500]},
    )
    db.flush()
    return _requests_out(db, [row], today=beijing_date(now))[0]


def share_request_withdraw(
    db: Session, *, actor: Actor, request_id: int, now: dt.datetime | None = None
) -> ShareRequestOut:
    """The consumer withdraws a pending request."""
    now = now or utcnow()
    row = _load_request(db, request_id, lock=True)
    require_department_staff(actor, row.consumer_id)
    if row.status != RequestStatus.PENDING:
        raise Conflict(
            "只能撤回待审批的申请",
            message_en="only pending requests can be withdrawn",
            code="sharing.request.not_pending",
        )
    row.status = RequestStatus.WITHDRAWN
    row.answered_at = now
    record_event(
        db,
        actor=actor,
        action="request.withdraw",
        at=now,
        request_id=row.id,
        from_status=RequestStatus.PENDING.value,
        to_status=RequestStatus.WITHDRAWN.value,
    )
    audit_record(
        db, actor=actor, action="sharing.request.withdraw", target_type="sharing_request", target_id=row.id
    )
    db.flush()
    return _requests_out(db, [row], today=beijing_date(now))[0]


@dataclass(frozen=True)
class EscalationResult:
    """What one run of the overdue sweep did."""

    escalated: int
    deadlines_recomputed: int
    request_ids: list[int]


def share_request_escalate_overdue(
    db: Session, *, today: dt.date, actor: Actor | None = None, now: dt.datetime | None = None
) -> EscalationResult:
    """Escalate pending requests past their deadline to the platform (once each), and audit it.

    First, the deadlines of pending requests are recomputed, so that an estimate made when the holiday
    data did not cover the year becomes exact once the package is upgraded.
    """
    actor = actor or Actor.system("sharing-escalation")
    require_roles(actor, Role.PLATFORM_ADMIN)
    now = now or utcnow()
    recomputed = 0
    for row in db.scalars(select(ShareRequest).where(ShareRequest.status == RequestStatus.PENDING)):
        due = add_working_days(row.submitted_on, row.deadline_days)
        if due != row.due_on:
            record_event(
                db,
                actor=actor,
                action="request.deadline_recompute",
                at=now,
                request_id=row.id,
                note=f"{row.due_on.isoformat()} → {due.isoformat()}",
            )
            row.due_on = due
            recomputed += 1
    overdue = list(
        db.scalars(
            select(ShareRequest)
            .where(
                ShareRequest.status == RequestStatus.PENDING,
                ShareRequest.due_on < today,
                ShareRequest.escalated_at.is_(None),
            )
            .order_by(ShareRequest.id)
            .with_for_update()
        )
    )
    for row in overdue:
        row.escalated_at = now
        late = working_days_between(row.due_on, today)
        record_event(
            db,
            actor=actor,
            action="request.escalate",
            at=now,
            request_id=row.id,
            note=f"逾期 {late} 个工作日，已提交平台督办",
        )
        audit_record(
            db,
            actor=actor,
            action="sharing.request.escalate",
            target_type="sharing_request",
            target_id=row.id,
            details={
                "due_on": row.due_on.isoformat(),
                "provider_id": row.provider_id,
                "working_days_late": late,
            },
        )
    db.flush()
    return EscalationResult(len(overdue), recomputed, [r.id for r in overdue])
