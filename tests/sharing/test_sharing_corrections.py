"""Correction requests (校核): report, answer within the deadline, history, escalation."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from sharing.sharing_helpers import MONDAY_MORNING, World
from zhengwu.audit.models import AuditEvent
from zhengwu.errors import Conflict, PermissionDenied, ValidationError
from zhengwu.sharing.corrections import (
    CORRECTION_DEADLINE_WORKING_DAYS,
    correction_answer,
    correction_create,
    correction_escalate_overdue,
    correction_get,
    correction_history,
    correction_list,
)
from zhengwu.sharing.models import CorrectionRequest, CorrectionStatus
from zhengwu.sharing.schemas import CorrectionAnswerIn, CorrectionIn

D = dt.date


def _report(world: World, **overrides: object) -> CorrectionIn:
    data: dict[str, object] = {
        "resource_code": world.conditional.code,
        "element": "legal_rep_name",
        "record_key": "91330000MA2XXXXX0X",
        "value_seen": "张三",
        "value_expected": "李四",
        "evidence": "2026年5月变更登记通知书",
    }
    data.update(overrides)
    return CorrectionIn.model_validate(data)


def test_report_and_answer_corrected(db: Session, world: World) -> None:
    out = correction_create(db, actor=world.actor(db, world.c_dev), data=_report(world), now=MONDAY_MORNING)
    assert out.status == CorrectionStatus.OPEN and out.element_label == "法定代表人姓名"
    assert out.deadline_days == CORRECTION_DEADLINE_WORKING_DAYS == 10 and out.due_on == D(2026, 6, 15)
    answered = correction_answer(
        db,
        actor=world.actor(db, world.p_admin),
        correction_id=out.id,
        data=CorrectionAnswerIn(outcome=CorrectionStatus.CORRECTED, answer="已按变更登记更正"),
        now=MONDAY_MORNING + dt.timedelta(days=2),
    )
    assert answered.status == CorrectionStatus.CORRECTED and answered.answered_on == D(2026, 6, 3)
    history = correction_history(db, actor=world.actor(db, world.c_admin), correction_id=out.id)
    assert [(e.action, e.from_status, e.to_status) for e in history] == [
        ("correction.create", None, "open"),
        ("correction.answer", "open", "corrected"),
    ]
    actions = list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_type == "sharing_correction")
            .order_by(AuditEvent.id)
        )
    )
    assert actions == ["sharing.correction.create", "sharing.correction.answer"]
    with pytest.raises(Conflict):
        correction_answer(
            db,
            actor=world.actor(db, world.p_admin),
            correction_id=out.id,
            data=CorrectionAnswerIn(outcome=CorrectionStatus.NOT_AN_ERROR, answer="x"),
        )


def test_not_an_error_needs_a_reason(db: Session, world: World) -> None:
    with pytest.raises(PydanticValidationError):
        CorrectionAnswerIn.model_validate({"outcome": "not_an_error", "answer": "  "})
    out = correction_create(db, actor=world.actor(db, world.c_admin), data=_report(world))
    with pytest.raises(ValidationError) as err:
        correction_answer(
            db,
            actor=world.actor(db, world.p_admin),
            correction_id=out.id,
            data=CorrectionAnswerIn(outcome=CorrectionStatus.OPEN, answer="x"),
        )
    assert err.value.field == "outcome"
    done = correction_answer(
        db,
        actor=world.actor(db, world.p_admin),
        correction_id=out.id,
        data=CorrectionAnswerIn(outcome=CorrectionStatus.NOT_AN_ERROR, answer="经核对登记档案，原值无误"),
    )
    assert done.status == CorrectionStatus.NOT_AN_ERROR and done.answer == "经核对登记档案，原值无误"


def test_configurable_deadline_across_national_day(db: Session, world: World) -> None:
    out = correction_create(
        db,
        actor=world.actor(db, world.c_admin),
        data=_report(world),
        deadline_working_days=3,
        now=dt.datetime(2026, 9, 30, 1, tzinfo=dt.UTC),
    )
    assert out.due_on == D(2026, 10, 10)  # 10/8, 10/9, 10/10 (Saturday working day)


def test_permissions_and_bad_input(db: Session, world: World) -> None:
    with pytest.raises(PermissionDenied):
        correction_create(db, actor=world.actor(db, world.c_norole), data=_report(world))
    with pytest.raises(Conflict):
        correction_create(db, actor=world.actor(db, world.p_admin), data=_report(world))
    with pytest.raises(ValidationError) as err:
        correction_create(db, actor=world.actor(db, world.c_admin), data=_report(world, element="nope"))
    assert err.value.field == "element"
    out = correction_create(db, actor=world.actor(db, world.c_admin), data=_report(world))
    with pytest.raises(PermissionDenied):
        correction_get(db, actor=world.actor(db, world.o_admin), correction_id=out.id)
    with pytest.raises(PermissionDenied):
        correction_answer(
            db,
            actor=world.actor(db, world.c_admin),
            correction_id=out.id,
            data=CorrectionAnswerIn(outcome=CorrectionStatus.CORRECTED, answer="x"),
        )
    assert correction_list(db, actor=world.actor(db, world.o_admin), box="to_me") == []
    assert [c.id for c in correction_list(db, actor=world.actor(db, world.p_admin), box="to_me")] == [out.id]
    assert [c.id for c in correction_list(db, actor=world.actor(db, world.platform), box="all")] == [out.id]
    assert db.scalar(select(CorrectionRequest).where(CorrectionRequest.element_name == "nope")) is None


def test_overdue_corrections_are_escalated_once(db: Session, world: World) -> None:
    out = correction_create(db, actor=world.actor(db, world.c_admin), data=_report(world), now=MONDAY_MORNING)
    late = correction_get(
        db, actor=world.actor(db, world.p_admin), correction_id=out.id, today=D(2026, 6, 16)
    )
    assert late.overdue and late.working_days_left == -1
    assert correction_escalate_overdue(db, today=D(2026, 6, 15)).escalated == 0
    assert correction_escalate_overdue(db, today=D(2026, 6, 16)).correction_ids == [out.id]
    assert correction_escalate_overdue(db, today=D(2026, 6, 17)).escalated == 0
