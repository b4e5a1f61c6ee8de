"""Publication, credit repair with history and "as of", the credit check, lists, authorization."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from factories import SYSTEM
from registries.credit.credit_helpers import TODAY, Credit
from zhengwu.accounts.permissions import Actor
from zhengwu.audit.models import AuditEvent
from zhengwu.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationError
from zhengwu.registries.credit.lists import entry_add, entry_remove, list_catalog, list_create, measure_create
from zhengwu.registries.credit.models import (
    CreditListEntryVersion,
    CreditRecord,
    CreditRecordVersion,
    CreditRepair,
    ListType,
    MeasureKind,
)
from zhengwu.registries.credit.schemas import EntryIn, ListIn, MeasureIn, MeasureItemOut, RepairIn
from zhengwu.registries.credit.services import credit_check, record_search, repair_apply, subject_credit

ANON = Actor.anonymous()


def _repair(credit: Credit, target_type: str, target_id: int, actor: Actor | None = None) -> None:
    repair_apply(
        credit.db,
        actor=actor or credit.admin,
        data=RepairIn(
            target_type=target_type,
            target_id=target_id,
            decision_number="修〔2026〕1号",
            decision_date=TODAY,
            rectification="已缴清罚款并补报年报，整改到位",
        ),
    )


def test_repair_hides_from_publication_but_keeps_history(credit: Credit) -> None:
    assert credit.ingest(credit.records_file("r.csv", [credit.record_row(0)])).status == "applied"
    uscc = credit.entities[0].uscc
    record = credit.db.scalars(select(CreditRecord)).one()
    public = subject_credit(credit.db, actor=ANON, subject_id=uscc)
    assert public.public_view and [r.decision_number for r in public.records] == [record.decision_number]
    assert record_search(credit.db, actor=ANON, q=uscc).total == 1
    before = dt.datetime.now(dt.UTC)
    _repair(credit, "record", record.id)
    assert subject_credit(credit.db, actor=ANON, subject_id=uscc).records == []
    assert record_search(credit.db, actor=ANON, q=uscc).total == 0
    staff = subject_credit(credit.db, actor=SYSTEM, subject_id=uscc)
    assert [(r.status, r.published) for r in staff.records] == [("repaired", False)]
    assert [p.decision_number for p in staff.repairs] == ["修〔2026〕1号"]
    # Nothing deleted: the record, two versions, the repair decision; "as of" before the repair says active.
    assert credit.db.get(CreditRecord, record.id) is not None
    versions = credit.db.scalars(
        select(CreditRecordVersion)
        .where(CreditRecordVersion.record_id == record.id)
        .order_by(CreditRecordVersion.id)
    ).all()
    assert [v.status for v in versions] == ["active", "repaired"] and versions[0].valid_to is not None
    then = subject_credit(credit.db, actor=SYSTEM, subject_id=uscc, as_of=before)
    assert [r.status for r in then.records] == ["active"] and then.repairs == []
    with pytest.raises(Conflict):
        _repair(credit, "record", record.id)
    assert credit.db.scalar(select(func.count()).select_from(CreditRepair)) == 1
    actions = set(credit.db.scalars(select(AuditEvent.action).where(AuditEvent.action.like("credit.%"))))
    assert {"credit.repair", "credit.subject.view", "credit.ingest"} <= actions
    # Re-delivering the same decision in another file does not re-publish it.
    again = credit.ingest(credit.records_file("r2.csv", [credit.record_row(0)], encoding="utf-8-sig"))
    assert again.unchanged == 1 and subject_credit(credit.db, actor=ANON, subject_id=uscc).records == []


def test_public_sees_published_only_and_persons_masked(credit: Credit) -> None:
    person = credit.persons[0]
    row = credit.record_row(
        0, subject_id=person.resident_id, subject_name=person.name, decision_number="个罚〔2026〕1号"
    )
    old = credit.record_row(1, decision_date="2019-01-02", publication_to="2022-01-02")
    assert credit.ingest(credit.records_file("p.csv", [row, old])).status == "applied"
    view = subject_credit(credit.db, actor=ANON, subject_id=person.resident_id)
    assert view.masked and view.subject_id != person.resident_id and "*" in view.subject_id
    assert view.records[0].subject_name != person.name
    # The expired publication is not public, but staff see it.
    uscc = credit.entities[1].uscc
    assert subject_credit(credit.db, actor=ANON, subject_id=uscc).records == []
    assert len(subject_credit(credit.db, actor=SYSTEM, subject_id=uscc).records) == 1
    # The public may not search persons by name; staff may.
    assert record_search(credit.db, actor=ANON, q=person.name[:1]).total == 0
    assert record_search(credit.db, actor=SYSTEM, q=person.name).total >= 1
    with pytest.raises(PermissionDenied):
        subject_credit(credit.db, actor=credit.public, subject_id=uscc, as_of=TODAY)


def test_invalid_and_unknown_subjects(credit: Credit) -> None:
    with pytest.raises(ValidationError):
        subject_credit(credit.db, actor=ANON, subject_id="91330100MA2H3K4L5X")
    with pytest.raises(ValidationError):
        record_search(credit.db, actor=ANON, q="  ")
    with pytest.raises(NotFound):
        subject_credit(credit.db, actor=ANON, subject_id="11010519491231002X")


def test_credit_check_answers_which_measures_apply(credit: Credit) -> None:
    credit.black_list()
    credit.red_list()
    bad, good, clean = credit.entities[0], credit.entities[1], credit.entities[2]
    entry_id = credit.put_on("BLK-1", bad, until=TODAY + dt.timedelta(days=100))
    credit.put_on("RED-1", good, number="A-1")
    check = credit_check(credit.db, actor=credit.developer, subject_id=bad.uscc, item_code="FGW-001")
    assert check.punishment and not check.reward
    assert sorted(m.measure_code for m in check.measures) == ["BLK-1-M0", "BLK-1-M1"]
    first = check.measures[0]
    assert (first.list_code, first.list_type, first.issuing_department) == ("BLK-1", "black", credit.source)
    assert first.implementing_department == credit.other_code and first.entry_reason == "提交虚假材料"
    other_item = credit_check(credit.db, actor=credit.developer, subject_id=bad.uscc, item_code="SW-001")
    assert [m.measure_code for m in other_item.measures] == ["BLK-1-M1"]  # the "every item" measure
    reward = credit_check(credit.db, actor=credit.developer, subject_id=good.uscc, item_code="SW-001")
    assert reward.reward and not reward.punishment and reward.measures[0].kind == "reward"
    none = credit_check(credit.db, actor=credit.developer, subject_id=clean.uscc, item_code="FGW-001")
    assert none.measures == [] and not none.reward and not none.punishment
    later = credit_check(
        credit.db,
        actor=credit.developer,
        subject_id=bad.uscc,
        item_code="FGW-001",
        on=TODAY + dt.timedelta(days=101),
    )
    assert later.measures == []
    # After repair, the list entry has no more consequences; its history stays.
    _repair(credit, "list_entry", entry_id)
    after = credit_check(credit.db, actor=credit.developer, subject_id=bad.uscc, item_code="FGW-001")
    assert after.measures == []
    statuses = credit.db.scalars(
        select(CreditListEntryVersion.status).where(CreditListEntryVersion.entry_id == entry_id)
    ).all()
    assert sorted(statuses) == ["active", "repaired"]
    assert (
        credit.db.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "credit.check")
        )
        == 6
    )


def test_credit_check_refusals_and_bad_input(credit: Credit) -> None:
    uscc = credit.entities[0].uscc
    with pytest.raises(NotAuthenticated):
        credit_check(credit.db, actor=ANON, subject_id=uscc, item_code="X")
    with pytest.raises(PermissionDenied):
        credit_check(credit.db, actor=credit.public, subject_id=uscc, item_code="X")
    with pytest.raises(ValidationError):
        credit_check(credit.db, actor=credit.developer, subject_id="123", item_code="X")
    with pytest.raises(ValidationError):
        credit_check(credit.db, actor=credit.developer, subject_id=uscc, item_code="   ")


def test_person_on_a_list_and_entry_removal(credit: Credit) -> None:
    credit.black_list()
    person = credit.persons[0]
    entry_id = credit.put_on("BLK-1", person)
    check = credit_check(
        credit.db, actor=credit.developer, subject_id=person.resident_id, item_code="FGW-001"
    )
    assert check.punishment and check.subject_id != person.resident_id  # masked for a developer
    with pytest.raises(PermissionDenied):
        entry_remove(credit.db, actor=credit.other_admin, entry_id=entry_id, reason="误列")
    removed = entry_remove(credit.db, actor=credit.admin, entry_id=entry_id, reason="误列")
    assert removed.status == "revoked" and not removed.in_force
    assert (
        credit_check(
            credit.db, actor=credit.developer, subject_id=person.resident_id, item_code="FGW-001"
        ).measures
        == []
    )
    assert [c.active_entries for c in list_catalog(credit.db, actor=ANON)] == [0]


def test_authorization_of_lists_measures_entries_and_repairs(credit: Credit) -> None:
    data = ListIn(
        code="BLK-X", name="名单", list_type=ListType.BLACK, issuing_department=credit.source, basis="办法"
    )
    with pytest.raises(PermissionDenied):
        list_create(credit.db, actor=credit.other_admin, data=data)
    with pytest.raises(PermissionDenied):
        list_create(credit.db, actor=credit.public, data=data)
    list_create(credit.db, actor=credit.admin, data=data)
    with pytest.raises(Conflict):
        list_create(credit.db, actor=credit.admin, data=data)
    reward = MeasureIn(
        code="BLK-X-R",
        kind=MeasureKind.REWARD,
        implementing_department=credit.source,
        content="奖励",
        basis="备忘录",
        items=[MeasureItemOut(code="A", name="事项")],
    )
    with pytest.raises(ValidationError):
        measure_create(credit.db, actor=credit.admin, list_code="BLK-X", data=reward)
    with pytest.raises(PermissionDenied):
        measure_create(credit.db, actor=credit.other_admin, list_code="BLK-X", data=reward)
    with pytest.raises(PermissionDenied):
        entry_add(
            credit.db,
            actor=credit.other_admin,
            list_code="BLK-X",
            data=EntryIn(
                decision_number="X-1",
                subject_id=credit.entities[0].uscc,
                subject_name=credit.entities[0].name,
                reason="理由",
                basis="依据",
                period_from=TODAY,
            ),
        )
    assert credit.ingest(credit.records_file("r.csv", [credit.record_row(0)])).status == "applied"
    record = credit.db.scalars(select(CreditRecord)).one()
    with pytest.raises(PermissionDenied):
        _repair(credit, "record", record.id, actor=credit.other_admin)
    with pytest.raises(PermissionDenied):
        _repair(credit, "record", record.id, actor=credit.developer)
    with pytest.raises(NotFound):
        _repair(credit, "record", record.id + 1000)
    assert record.status == "active"
