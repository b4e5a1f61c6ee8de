"""Share requests: creation, automatic grants, review, permissions, deadlines and escalation."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import factories_catalog
from sharing.sharing_helpers import MONDAY_MORNING, World, make_resource, request_in
from zhengwu.audit.models import AuditEvent
from zhengwu.catalog.models import ShareType
from zhengwu.catalog.schemas import ElementIn
from zhengwu.catalog.services import (
    resource_approve,
    resource_get,
    resource_revise,
    resource_submit,
    resource_update,
    resource_withdraw,
)
from zhengwu.errors import Conflict, NotFound, PermissionDenied, ValidationError
from zhengwu.sharing.models import Grant, GrantStatus, RequestStatus, ShareRequest, SharingEvent
from zhengwu.sharing.services import (
    share_request_approve,
    share_request_create,
    share_request_escalate_overdue,
    share_request_get,
    share_request_history,
    share_request_list,
    share_request_refuse,
    share_request_withdraw,
)

D = dt.date


def _actions(db: Session, target_id: int) -> list[str]:
    return list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_type == "sharing_request", AuditEvent.target_id == str(target_id))
            .order_by(AuditEvent.id)
        )
    )


def test_unconditional_resource_is_granted_at_once(db: Session, world: World) -> None:
    actor = world.actor(db, world.c_dev)
    out = share_request_create(db, actor=actor, data=request_in(world.unconditional), now=MONDAY_MORNING)
    assert out.status == RequestStatus.APPROVED and out.auto_granted
    assert out.approved_elements == ["uscc", "org_name", "legal_rep_name"]
    assert out.working_days_taken == 0 and out.answered_on_time is None
    assert out.grant_id is not None
    grant = db.get(Grant, out.grant_id)
    assert grant is not None and grant.status == GrantStatus.ACTIVE
    assert grant.consumer_id == world.consumer.id and grant.provider_id == world.provider.id
    assert grant.elements == ["uscc", "org_name", "legal_rep_name"]
    assert _actions(db, out.id) == ["sharing.request.create", "sharing.request.auto_grant"]
    history = share_request_history(db, actor=actor, request_id=out.id)
    assert [e.action for e in history] == ["request.create", "request.auto_grant", "grant.create"]


def test_conditional_request_waits_with_a_deadline_in_working_days(db: Session, world: World) -> None:
    out = share_request_create(
        db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional), now=MONDAY_MORNING
    )
    assert out.status == RequestStatus.PENDING and not out.auto_granted and out.grant_id is None
    assert out.submitted_on == D(2026, 6, 1) and out.deadline_days == 10
    assert out.due_on == D(2026, 6, 15)
    assert out.provider_name == "测试市场监督管理局"


def test_deadline_is_configurable_and_counts_the_spring_festival(db: Session, world: World) -> None:
    # Submitted Friday 2026-02-13 at 09:00 Beijing time.
    when = dt.datetime(2026, 2, 13, 1, 0, tzinfo=dt.UTC)
    ten = share_request_create(
        db,
        actor=world.actor(db, world.c_admin),
        data=request_in(world.conditional),
        now=when,
    )
    assert ten.due_on == D(2026, 3, 5)
    five = share_request_create(
        db,
        actor=world.actor(db, world.c_admin),
        data=request_in(world.conditional, consumer_system="另一个系统"),
        deadline_working_days=5,
        now=when,
    )
    assert five.due_on == D(2026, 2, 27)  # 2/14(Sat), 2/24, 2/25, 2/26, 2/27


def test_approve_all_creates_a_grant(db: Session, world: World) -> None:
    req = share_request_create(
        db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional), now=MONDAY_MORNING
    )
    later = MONDAY_MORNING + dt.timedelta(days=3)
    out = share_request_approve(db, actor=world.actor(db, world.p_admin), request_id=req.id, now=later)
    assert out.status == RequestStatus.APPROVED and not out.narrowed
    assert out.approved_elements == ["uscc", "org_name", "legal_rep_name"]
    assert out.working_days_taken == 3 and out.answered_on_time is True
    grant = db.scalar(select(Grant).where(Grant.request_id == req.id))
    assert grant is not None and grant.elements == out.approved_elements
    assert grant.purpose == "社会保险参保登记时核验用人单位信息"
    assert "sharing.request.approve" in _actions(db, req.id)


def test_approve_a_narrower_subset_by_name_or_id(db: Session, world: World) -> None:
    req = share_request_create(
        db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional), now=MONDAY_MORNING
    )
    uscc_id = next(e.id for e in world.conditional.elements if e.name_en == "uscc")
    out = share_request_approve(
        db,
        actor=world.actor(db, world.p_admin),
        request_id=req.id,
        elements=[str(uscc_id), "org_name"],
        comment="法定代表人不予提供",
    )
    assert out.narrowed and out.approved_elements == ["uscc", "org_name"]
    assert out.requested_elements == ["uscc", "org_name", "legal_rep_name"]
    grant = db.scalar(select(Grant).where(Grant.request_id == req.id))
    assert grant is not None and grant.elements == ["uscc", "org_name"]
    events = share_request_history(db, actor=world.actor(db, world.c_admin), request_id=req.id)
    assert events[1].action == "request.approve_subset" and events[1].note == "法定代表人不予提供"


def test_approving_wider_than_asked_is_refused(db: Session, world: World) -> None:
    req = share_request_create(
        db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional, elements=["uscc"])
    )
    with pytest.raises(ValidationError) as err:
        share_request_approve(
            db,
            actor=world.actor(db, world.p_admin),
            request_id=req.id,
            elements=["uscc", "registered_capital"],
        )
    assert err.value.code == "sharing.request.wider_than_asked" and err.value.field == "elements"
    assert err.value.details["not_asked"] == ["registered_capital"]
    assert db.get(ShareRequest, req.id).status == RequestStatus.PENDING  # type: ignore[union-attr]
    assert db.scalar(select(Grant).where(Grant.request_id == req.id)) is None


def test_refuse_needs_a_reason(db: Session, world: World) -> None:
    req = share_request_create(db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional))
    provider = world.actor(db, world.p_admin)
    with pytest.raises(ValidationError) as err:
        share_request_refuse(db, actor=provider, request_id=req.id, reason="   ")
    assert err.value.field == "reason"
    out = share_request_refuse(db, actor=provider, request_id=req.id, reason="用途与本资源共享条件不符")
    assert out.status == RequestStatus.REFUSED and out.answer_reason == "用途与本资源共享条件不符"
    assert out.grant_id is None
    with pytest.raises(Conflict) as again:
        share_request_approve(db, actor=provider, request_id=req.id)
    assert again.value.code == "sharing.request.not_pending"


def test_withdraw_by_the_consumer(db: Session, world: World) -> None:
    req = share_request_create(db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional))
    with pytest.raises(PermissionDenied):
        share_request_withdraw(db, actor=world.actor(db, world.p_admin), request_id=req.id)
    out = share_request_withdraw(db, actor=world.actor(db, world.c_dev), request_id=req.id)
    assert out.status == RequestStatus.WITHDRAWN


@pytest.mark.parametrize(
    ("which", "error", "code"),
    [
        ("unshared", Conflict, "sharing.resource.not_shareable"),
        ("withdrawn", Conflict, "sharing.resource.not_published"),
        ("draft", NotFound, "sharing.resource.not_found"),
    ],
)
def test_only_published_shareable_resources_can_be_requested(
    db: Session, world: World, which: str, error: type[Exception], code: str
) -> None:
    with pytest.raises(error) as err:
        share_request_create(db, actor=world.actor(db, world.c_admin), data=request_in(getattr(world, which)))
    assert err.value.code == code  # type: ignore[attr-defined]
    assert db.scalar(select(ShareRequest.id)) is None


def test_unknown_resource_and_own_resource(db: Session, world: World) -> None:
    with pytest.raises(NotFound) as err:
        share_request_create(
            db,
            actor=world.actor(db, world.c_admin),
            data=request_in(world.conditional, resource_code="NOPE-1"),
        )
    assert err.value.field == "resource_code"
    with pytest.raises(Conflict) as own:
        share_request_create(db, actor=world.actor(db, world.p_admin), data=request_in(world.conditional))
    assert own.value.code == "sharing.request.own_resource"


def test_bad_elements_and_dates(db: Session, world: World) -> None:
    actor = world.actor(db, world.c_admin)
    with pytest.raises(ValidationError) as unknown:
        share_request_create(
            db, actor=actor, data=request_in(world.conditional, elements=["uscc", "no_such"])
        )
    assert unknown.value.code == "sharing.element.unknown" and unknown.value.details["unknown"] == ["no_such"]
    with pytest.raises(ValidationError) as reversed_:
        share_request_create(
            db,
            actor=actor,
            data=request_in(world.conditional, valid_from=D(2027, 1, 1), valid_until=D(2026, 12, 1)),
        )
    assert reversed_.value.code == "sharing.period.reversed" and reversed_.value.field == "valid_until"
    with pytest.raises(ValidationError) as past:
        share_request_create(
            db,
            actor=actor,
            data=request_in(world.conditional, valid_from=D(2020, 1, 1), valid_until=D(2020, 12, 31)),
            now=MONDAY_MORNING,
        )
    assert past.value.code == "sharing.period.past"
    with pytest.raises(ValidationError) as too_long:
        share_request_create(db, actor=actor, data=request_in(world.conditional, valid_until=D(2206, 1, 1)))
    assert too_long.value.code == "sharing.period.too_long"
    assert db.scalar(select(ShareRequest.id)) is None


def test_duplicate_pending_request_is_refused(db: Session, world: World) -> None:
    actor = world.actor(db, world.c_admin)
    first = share_request_create(db, actor=actor, data=request_in(world.conditional))
    with pytest.raises(Conflict) as err:
        share_request_create(db, actor=actor, data=request_in(world.conditional))
    assert err.value.details["request_id"] == first.id


def test_elements_of_the_version_in_force_count(db: Session, world: World) -> None:
    """While a revision is edited, a new element of the working copy cannot be requested yet."""
    resource = make_resource(db, provider_id=world.provider.id, elements=2)  # uscc, org_name
    system = factories_catalog.CATALOG_SYSTEM
    resource_revise(db, actor=system, code=resource.code)
    current = resource_get(db, actor=system, code=resource.code, working=True)
    elements = [e.model_dump(include=set(ElementIn.model_fields)) for e in current.elements]
    elements.append({"name": "注册资本", "name_en": "registered_capital", "data_type": "decimal"})
    resource_update(
        db, actor=system, code=resource.code, data=factories_catalog.update_data(current, elements=elements)
    )
    assert {e.name_en for e in resource.elements} == {"uscc", "org_name", "registered_capital"}
    actor = world.actor(db, world.c_admin)
    with pytest.raises(ValidationError) as err:
        share_request_create(
            db, actor=actor, data=request_in(resource, elements=["uscc", "registered_capital"])
        )
    assert err.value.details["unknown"] == ["registered_capital"]
    out = share_request_create(db, actor=actor, data=request_in(resource, elements=["uscc"]))
    assert out.requested_elements == ["uscc"]
    # Once the revision is published, the new element can be asked for.
    resource_submit(db, actor=system, code=resource.code)
    resource_approve(db, actor=system, code=resource.code)
    later = share_request_create(
        db,
        actor=actor,
        data=request_in(resource, elements=["registered_capital"], consumer_system="另一系统"),
    )
    assert later.requested_elements == ["registered_capital"] and later.resource_version == 2


# --- permissions -------------------------------------------------------------------------------------


def test_who_may_request(db: Session, world: World) -> None:
    for user in (world.c_norole, world.public):
        with pytest.raises(PermissionDenied):
            share_request_create(db, actor=world.actor(db, user), data=request_in(world.conditional))
    with pytest.raises(PermissionDenied):
        share_request_create(
            db,
            actor=world.actor(db, world.c_admin),
            data=request_in(world.conditional, consumer_department_id=world.other.id),
        )
    # A platform admin may file a request on a department's behalf.
    out = share_request_create(
        db,
        actor=world.actor(db, world.platform),
        data=request_in(world.conditional, consumer_department_id=world.consumer.id),
    )
    assert out.consumer_id == world.consumer.id


def test_other_departments_cannot_read_or_answer(db: Session, world: World) -> None:
    req = share_request_create(db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional))
    outsider = world.actor(db, world.o_admin)
    with pytest.raises(PermissionDenied):
        share_request_get(db, actor=outsider, request_id=req.id)
    with pytest.raises(PermissionDenied):
        share_request_approve(db, actor=outsider, request_id=req.id)
    with pytest.raises(PermissionDenied):
        share_request_refuse(db, actor=outsider, request_id=req.id, reason="x")
    # The consumer cannot answer its own request; a provider developer cannot answer either.
    with pytest.raises(PermissionDenied):
        share_request_approve(db, actor=world.actor(db, world.c_admin), request_id=req.id)
    assert share_request_list(db, actor=outsider, box="mine") == []
    assert share_request_list(db, actor=outsider, box="to_me") == []
    with pytest.raises(PermissionDenied):
        share_request_list(db, actor=world.actor(db, world.c_norole), box="mine")
    with pytest.raises(PermissionDenied):
        share_request_list(db, actor=outsider, box="all")
    # Both parties and the platform read it.
    for user in (world.c_dev, world.p_admin, world.platform):
        assert share_request_get(db, actor=world.actor(db, user), request_id=req.id).id == req.id
    assert [r.id for r in share_request_list(db, actor=world.actor(db, world.p_admin), box="to_me")] == [
        req.id
    ]
    assert [r.id for r in share_request_list(db, actor=world.actor(db, world.c_dev), box="mine")] == [req.id]


# --- deadlines, overdue and escalation ---------------------------------------------------------------


def test_countdown_overdue_and_escalation(db: Session, world: World) -> None:
    req = share_request_create(
        db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional), now=MONDAY_MORNING
    )
    reader = world.actor(db, world.p_admin)
    assert share_request_get(db, actor=reader, request_id=req.id, today=D(2026, 6, 1)).working_days_left == 10
    due_day = share_request_get(db, actor=reader, request_id=req.id, today=D(2026, 6, 15))
    assert due_day.working_days_left == 0 and not due_day.overdue
    late = share_request_get(db, actor=reader, request_id=req.id, today=D(2026, 6, 17))
    assert late.overdue and late.working_days_left == -2

    assert share_request_escalate_overdue(db, today=D(2026, 6, 15)).escalated == 0
    result = share_request_escalate_overdue(db, today=D(2026, 6, 16))
    assert result.escalated == 1 and result.request_ids == [req.id]
    # Once only.
    assert share_request_escalate_overdue(db, today=D(2026, 6, 17)).escalated == 0
    escalated = share_request_list(
        db, actor=world.actor(db, world.platform), box="escalated", today=D(2026, 6, 16)
    )
    assert [r.id for r in escalated] == [req.id] and escalated[0].escalated_at is not None
    assert "sharing.request.escalate" in _actions(db, req.id)
    note = db.scalar(select(SharingEvent.note).where(SharingEvent.action == "request.escalate"))
    assert note is not None and "逾期 1 个工作日" in note

    # Answered late: recorded as late with the working days taken.
    answered = share_request_refuse(
        db, actor=reader, request_id=req.id, reason="迟复", now=dt.datetime(2026, 6, 17, 2, tzinfo=dt.UTC)
    )
    assert answered.answered_on_time is False and answered.working_days_taken == 12
    assert share_request_list(db, actor=world.actor(db, world.platform), box="escalated") == []


def test_escalation_needs_the_platform(db: Session, world: World) -> None:
    with pytest.raises(PermissionDenied):
        share_request_escalate_overdue(db, today=D(2026, 6, 16), actor=world.actor(db, world.p_admin))


def test_escalation_recomputes_estimated_deadlines(db: Session, world: World) -> None:
    req = share_request_create(
        db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional), now=MONDAY_MORNING
    )
    row = db.get(ShareRequest, req.id)
    assert row is not None
    row.due_on = D(2026, 6, 12)  # as if computed with older holiday data
    db.flush()
    result = share_request_escalate_overdue(db, today=D(2026, 6, 14))
    assert result.deadlines_recomputed == 1 and result.escalated == 0
    assert row.due_on == D(2026, 6, 15)


def test_withdrawn_resource_cannot_be_approved(db: Session, world: World) -> None:
    req = share_request_create(db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional))
    resource_withdraw(db, actor=factories_catalog.CATALOG_SYSTEM, code=world.conditional.code, reason="停用")
    with pytest.raises(Conflict) as err:
        share_request_approve(db, actor=world.actor(db, world.p_admin), request_id=req.id)
    assert err.value.code == "sharing.resource.not_published"


def test_injection_strings_are_stored_verbatim(db: Session, world: World) -> None:
    nasty = "'; DROP TABLE sharing_requests; -- <script>alert(1)</script>"
    out = share_request_create(
        db,
        actor=world.actor(db, world.c_admin),
        data=request_in(world.conditional, purpose=nasty, consumer_system=nasty[:200]),
    )
    assert share_request_get(db, actor=world.actor(db, world.c_admin), request_id=out.id).purpose == nasty
    assert world.unconditional.share_type == ShareType.UNCONDITIONAL  # the table is still there
