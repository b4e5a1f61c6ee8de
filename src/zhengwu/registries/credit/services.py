"""Search, subject credit pages, the credit check (信用核查) and credit repair (信用修复).

Who may see what
----------------
* The public (anyone, signed in or not) sees what is **published**: records and list entries whose
  status is ``active`` and whose publication period covers the day, as on the national credit portals.
  Repaired or revoked items and repair decisions are never shown to the public.
* Staff roles (those that may read the base registries) see every record with its status and the
  repair history, and may look at the registry "as of" an earlier time.
* Personal data of natural-person subjects (resident ID, name) is masked unless the caller may see
  it in clear (:func:`zhengwu.registries.services.may_see_clear`); entity subjects are public data.
* The credit check is for staff (the one-stop-service window); every subject view, check and repair
  is written to the audit trail with the subject's key.
* ``public_view=True`` (search and subject view) answers what the public sees even to staff: the GovStack
  API (:mod:`zhengwu.registries.govstack.credit`) serves the published registry only. ``context`` (the
  calling system and the purpose) goes into the access record.

Invalid identifiers raise ``ValidationError`` (400), unknown valid subjects ``NotFound`` (404).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, Final

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department
from zhengwu.accounts.permissions import Actor, require_authenticated, require_department_admin, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.db import BEIJING, utcnow
from zhengwu.errors import Conflict, NotFound, ValidationError
from zhengwu.identifiers import mask_name, mask_resident_id
from zhengwu.registries.credit.history import as_of_clause, entry_changed, record_changed
from zhengwu.registries.credit.models import (
    ALL_ITEMS,
    CreditList,
    CreditListEntry,
    CreditListEntryVersion,
    CreditMeasure,
    CreditMeasureItem,
    CreditRecord,
    CreditRecordVersion,
    CreditRepair,
    RecordKind,
    Status,
    SubjectType,
)
from zhengwu.registries.credit.schemas import (
    CheckMeasure,
    CheckOut,
    EntryOut,
    RecordOut,
    RepairIn,
    RepairOut,
    SubjectCredit,
)
from zhengwu.registries.credit.validation import Subject, check_subject
from zhengwu.registries.models import Entity, Person
from zhengwu.registries.schemas import Page
from zhengwu.registries.services import READ_ROLES, may_see_clear
from zhengwu.registries.validation import clean

CHECK_ROLES: Final = READ_ROLES
MAX_PER_PAGE: Final = 100


def is_staff(actor: Actor) -> bool:
    """True for callers who see unpublished items, statuses and repairs."""
    return actor.is_authenticated and actor.has(*READ_ROLES)


def today_cn() -> dt.date:
    """Today in Beijing: publication periods are calendar days there."""
    return dt.datetime.now(BEIJING).date()


def subject_key(value: str | None) -> Subject:
    """The subject named by a resident ID or USCC, or ``ValidationError`` (400) with the reason."""
    subject = check_subject(clean(value or ""), None)
    if isinstance(subject, str):
        raise ValidationError(
            subject,
            message_en="not a valid resident ID or unified social credit code",
            code="credit.subject.invalid",
            field="subject_id",
        )
    return subject


def department_names(db: Session, codes: Iterable[str]) -> dict[str, str]:
    """Names of the departments with these codes."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = db.execute(select(Department.code, Department.name).where(Department.code.in_(wanted))).all()
    return {code: name for code, name in rows}


def record_published(row: CreditRecord | CreditRecordVersion, day: dt.date) -> bool:
    """Whether a record is shown to the public on ``day``."""
    return (
        row.status == Status.ACTIVE.value
        and row.decision_date <= day
        and (row.publication_to is None or row.publication_to >= day)
    )


def entry_in_force(row: CreditListEntry | CreditListEntryVersion, day: dt.date) -> bool:
    """Whether a list entry is in force (and published) on ``day``."""
    return (
        row.status == Status.ACTIVE.value
        and row.period_from <= day
        and (row.period_to is None or row.period_to >= day)
    )


def _masked(subject_type: str, subject_id: str, name: str, clear: bool) -> tuple[str, str]:
    if clear or subject_type != SubjectType.PERSON.value:
        return subject_id, name
    return mask_resident_id(subject_id), mask_name(name)


def record_out(
    row: CreditRecord | CreditRecordVersion, names: dict[str, str], *, clear: bool, day: dt.date
) -> RecordOut:
    """The outward form of a record (current or a version)."""
    subject_id, subject_name = _masked(row.subject_type, row.subject_id, row.subject_name, clear)
    return RecordOut(
        id=row.record_id if isinstance(row, CreditRecordVersion) else row.id,
        kind=row.kind,
        issuing_department=row.issuing_department,
        issuing_department_name=names.get(row.issuing_department),
        decision_number=row.decision_number,
        decision_name=row.decision_name,
        subject_type=row.subject_type,
        subject_id=subject_id,
        subject_name=subject_name,
        category=row.category,
        content=row.content,
        basis=row.basis,
        amount_yuan=row.amount_yuan,
        decision_date=row.decision_date,
        validity_from=row.validity_from,
        validity_to=row.validity_to,
        publication_to=row.publication_to,
        status=row.status,
        published=record_published(row, day),
        masked=not clear and row.subject_type == SubjectType.PERSON.value,
        source_department=row.source_department,
        batch_id=row.batch_id,
        valid_from=row.valid_from,
        valid_to=getattr(row, "valid_to", None),
    )


def entry_out(
    row: CreditListEntry | CreditListEntryVersion, lists: dict[int, CreditList], *, clear: bool, day: dt.date
) -> EntryOut:
    """The outward form of a list entry (current or a version)."""
    credit_list = lists[row.list_id]
    subject_id, subject_name = _masked(row.subject_type, row.subject_id, row.subject_name, clear)
    return EntryOut(
        id=row.entry_id if isinstance(row, CreditListEntryVersion) else row.id,
        list_code=credit_list.code,
        list_name=credit_list.name,
        list_type=credit_list.list_type,
        issuing_department=credit_list.issuing_department,
        decision_number=row.decision_number,
        subject_type=row.subject_type,
        subject_id=subject_id,
        subject_name=subject_name,
        reason=row.reason,
        basis=row.basis,
        period_from=row.period_from,
        period_to=row.period_to,
        status=row.status,
        in_force=entry_in_force(row, day),
        masked=not clear and row.subject_type == SubjectType.PERSON.value,
        valid_from=row.valid_from,
        valid_to=getattr(row, "valid_to", None),
    )


def lists_by_id(db: Session, ids: Iterable[int]) -> dict[int, CreditList]:
    """The lists with these ids."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {c.id: c for c in db.scalars(select(CreditList).where(CreditList.id.in_(wanted)))}


def aware(as_of: dt.datetime | dt.date | None) -> dt.datetime | None:
    """A point in time: a date means the end of that day in Beijing; a naive time is Beijing time."""
    if as_of is None:
        return None
    if not isinstance(as_of, dt.datetime):
        start = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), BEIJING)
        return start - dt.timedelta(microseconds=1)
    return as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=BEIJING)


def record_search(
    db: Session,
    *,
    actor: Actor,
    q: str | None,
    kind: RecordKind | str | None = None,
    page: int = 1,
    per_page: int = 20,
    public_view: bool = False,
    context: dict[str, Any] | None = None,
) -> Page:
    """Records of one subject (``q`` a resident ID or USCC) or of entities whose name starts with ``q``.

    The public (and every caller with ``public_view``) sees published records only and cannot search
    persons by name.
    """
    text = (clean(q or "") or "").strip() if isinstance(q, str) else ""
    if not text:
        raise ValidationError(
            "请输入统一社会信用代码、公民身份号码或名称",
            message_en="give a code or a name",
            code="credit.search.empty",
            field="q",
        )
    staff = is_staff(actor) and not public_view
    clear = may_see_clear(actor)
    page, per_page = max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)
    query = select(CreditRecord)
    subject = check_subject(text, None) if len(text) == 18 else None
    if isinstance(subject, Subject):
        query = query.where(CreditRecord.subject_id == subject.subject_id)
    else:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(CreditRecord.subject_name.like(escaped + "%", escape="\\"))
        if not staff:
            query = query.where(CreditRecord.subject_type == SubjectType.ENTITY.value)
    if kind:
        query = query.where(CreditRecord.kind == RecordKind(kind).value)
    day = today_cn()
    if not staff:
        query = query.where(
            CreditRecord.status == Status.ACTIVE.value,
            CreditRecord.decision_date <= day,
            or_(CreditRecord.publication_to.is_(None), CreditRecord.publication_to >= day),
        )
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(
        query.order_by(CreditRecord.decision_date.desc(), CreditRecord.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    names = department_names(db, (r.issuing_department for r in rows))
    audit_record(
        db,
        actor=actor,
        action="credit.record.search",
        target_type="credit_subject",
        target_id=subject.subject_id if isinstance(subject, Subject) else None,
        details={
            "q": text if not isinstance(subject, Subject) else None,
            "results": total,
            **(context or {}),
        },
    )
    items = [record_out(r, names, clear=clear, day=day).model_dump(mode="json") for r in rows]
    return Page(items=items, total=total, page=page, per_page=per_page)


def _subject_identity(db: Session, subject: Subject) -> tuple[bool, str | None, str | None]:
    row: Person | Entity | None
    if subject.subject_type is SubjectType.PERSON:
        row = db.get(Person, subject.subject_id)
    else:
        row = db.get(Entity, subject.subject_id)
    if row is None:
        return False, None, None
    return True, row.name, row.status


def subject_credit(
    db: Session,
    *,
    actor: Actor,
    subject_id: str,
    as_of: dt.datetime | dt.date | None = None,
    public_view: bool = False,
    context: dict[str, Any] | None = None,
) -> SubjectCredit:
    """Records, list entries and (for staff) repairs of one subject, now or ``as_of`` (staff only).

    With ``public_view`` the answer is the published profile whoever asks. Whoever sees the published
    profile (the public, or ``public_view``) gets 404 for a subject that neither base registry holds and
    that has nothing published, rather than an empty profile, so the answer does not tell that
    unpublished items exist.
    """
    subject = subject_key(subject_id)
    staff = is_staff(actor) and not public_view
    when = aware(as_of)
    if when is not None:
        require_roles(actor, *READ_ROLES)
    clear = may_see_clear(actor)
    key = subject.subject_id
    records: list[CreditRecord] | list[CreditRecordVersion]
    entries: list[CreditListEntry] | list[CreditListEntryVersion]
    if when is None:
        records = list(db.scalars(select(CreditRecord).where(CreditRecord.subject_id == key)))
        entries = list(db.scalars(select(CreditListEntry).where(CreditListEntry.subject_id == key)))
        day = today_cn()
    else:
        records = list(
            db.scalars(
                select(CreditRecordVersion).where(
                    CreditRecordVersion.subject_id == key, as_of_clause(CreditRecordVersion, when)
                )
            )
        )
        entries = list(
            db.scalars(
                select(CreditListEntryVersion).where(
                    CreditListEntryVersion.subject_id == key, as_of_clause(CreditListEntryVersion, when)
                )
            )
        )
        day = when.astimezone(BEIJING).date()
    registered, name, registry_status = _subject_identity(db, subject)
    audit_record(
        db,
        actor=actor,
        action="credit.subject.view",
        target_type="credit_subject",
        target_id=key,
        details={
            "as_of": str(when) if when else None,
            "records": len(records),
            "entries": len(entries),
            **(context or {}),
        },
    )
    if not staff:
        # The public see what is published; a subject neither base registry holds is then unknown when
        # nothing of it is published, so the answer does not tell that unpublished items exist.
        records = [r for r in records if record_published(r, day)]  # type: ignore[assignment]
        entries = [e for e in entries if entry_in_force(e, day)]  # type: ignore[assignment]
    if not registered and not records and not entries:
        raise NotFound(
            "信用信息库和基础库中都没有该主体",
            message_en="no such subject in the credit or base registries",
            code="credit.subject.not_found",
            field="subject_id",
        )
    names = department_names(db, (r.issuing_department for r in records))
    lists = lists_by_id(db, (e.list_id for e in entries))
    repairs: list[RepairOut] = []
    if staff:
        rows = db.scalars(
            select(CreditRepair).where(CreditRepair.subject_id == key).order_by(CreditRepair.id.desc())
        )
        repairs = [repair_out(r) for r in rows if when is None or r.created_at <= when]
    if name is None:
        latest = max([*records, *entries], key=lambda r: r.valid_from, default=None)
        name = latest.subject_name if latest is not None else None
    _, shown_name = _masked(subject.subject_type.value, key, name or "", clear)
    return SubjectCredit(
        subject_type=subject.subject_type.value,
        subject_id=_masked(subject.subject_type.value, key, "", clear)[0],
        subject_name=shown_name or None,
        registered=registered,
        registry_status=registry_status,
        as_of=when,
        public_view=not staff,
        masked=not clear and subject.subject_type is SubjectType.PERSON,
        records=sorted(
            (record_out(r, names, clear=clear, day=day) for r in records),
            key=lambda r: (r.decision_date, r.id),
            reverse=True,
        ),
        entries=sorted(
            (entry_out(e, lists, clear=clear, day=day) for e in entries),
            key=lambda e: (e.period_from, e.id),
            reverse=True,
        ),
        repairs=repairs,
    )


def repair_out(row: CreditRepair) -> RepairOut:
    """The outward form of a repair decision."""
    return RepairOut(
        id=row.id,
        target_type=row.target_type,
        target_id=row.target_id,
        decision_number=row.decision_number,
        decision_date=row.decision_date,
        department=row.department,
        rectification=row.rectification,
        actor_username=row.actor_username,
        created_at=row.created_at,
    )


def credit_check(
    db: Session, *, actor: Actor, subject_id: str, item_code: str, on: dt.date | None = None
) -> CheckOut:
    """信用核查: which joint measures apply to ``subject_id`` for service item ``item_code`` on ``on``.

    A measure applies when the subject is on a list in force that day and the measure (active) names
    the item or every item (``*``). The answer is the same whether or not the subject is registered.
    """
    require_roles(actor, *CHECK_ROLES)
    subject = subject_key(subject_id)
    code = (clean(item_code) or "").strip() if isinstance(item_code, str) else ""
    if not code or len(code) > 64:
        raise ValidationError(
            "请填写办理事项编码",
            message_en="give a service item code",
            code="credit.check.item",
            field="item_code",
        )
    day = on or today_cn()
    rows = db.execute(
        select(CreditListEntry, CreditList, CreditMeasure)
        .join(CreditList, CreditList.id == CreditListEntry.list_id)
        .join(CreditMeasure, CreditMeasure.list_id == CreditList.id)
        .where(
            CreditListEntry.subject_id == subject.subject_id,
            CreditListEntry.status == Status.ACTIVE.value,
            CreditListEntry.period_from <= day,
            or_(CreditListEntry.period_to.is_(None), CreditListEntry.period_to >= day),
            CreditMeasure.is_active.is_(True),
            CreditMeasure.id.in_(
                select(CreditMeasureItem.measure_id).where(CreditMeasureItem.item_code.in_((code, ALL_ITEMS)))
            ),
        )
        .order_by(CreditList.list_type, CreditMeasure.code, CreditListEntry.id)
    ).all()
    names = department_names(
        db, [m.implementing_department for _, _, m in rows] + [c.issuing_department for _, c, _ in rows]
    )
    measures = [
        CheckMeasure(
            measure_code=m.code,
            kind=m.kind,
            content=m.content,
            basis=m.basis,
            implementing_department=m.implementing_department,
            implementing_department_name=names.get(m.implementing_department),
            list_code=c.code,
            list_name=c.name,
            list_type=c.list_type,
            issuing_department=c.issuing_department,
            issuing_department_name=names.get(c.issuing_department),
            entry_decision_number=e.decision_number,
            entry_reason=e.reason,
            entry_basis=e.basis,
            period_from=e.period_from,
            period_to=e.period_to,
        )
        for e, c, m in rows
    ]
    out = CheckOut(
        subject_type=subject.subject_type.value,
        subject_id=_masked(subject.subject_type.value, subject.subject_id, "", may_see_clear(actor))[0],
        item_code=code,
        on=day,
        reward=any(m.kind == "reward" for m in measures),
        punishment=any(m.kind == "punishment" for m in measures),
        measures=measures,
    )
    audit_record(
        db,
        actor=actor,
        action="credit.check",
        target_type="credit_subject",
        target_id=subject.subject_id,
        details={"item_code": code, "on": day.isoformat(), "measures": [m.measure_code for m in measures]},
    )
    return out


def _department_of(db: Session, code: str) -> Department:
    department = db.scalars(select(Department).where(Department.code == code)).first()
    if department is None:
        raise NotFound(
            f"部门“{code}”不存在", message_en=f"unknown department '{code}'", code="credit.department.unknown"
        )
    return department


def repair_target(
    db: Session, target_type: str, target_id: int
) -> tuple[CreditRecord | CreditListEntry, str]:
    """The record or list entry to repair and the code of the department that decides on it."""
    if target_type == "record":
        record = db.get(CreditRecord, target_id)
        if record is not None:
            return record, record.issuing_department
    elif target_type == "list_entry":
        entry = db.get(CreditListEntry, target_id)
        if entry is not None:
            credit_list = db.get(CreditList, entry.list_id)
            assert credit_list is not None  # entries always belong to a list (foreign key by design)
            return entry, credit_list.issuing_department
    raise NotFound(
        "要修复的记录不存在",
        message_en="no such record or list entry",
        code="credit.repair.not_found",
        field="target_id",
    )


def repair_apply(db: Session, *, actor: Actor, data: RepairIn) -> RepairOut:
    """信用修复: take a record or list entry out of publication (and out of force), keeping everything.

    Only the platform administrator or a data administrator of the department that issued the
    decision may repair. The repair decision is stored, the item's history gains a version with status
    ``repaired``, and nothing is deleted.
    """
    require_authenticated(actor)
    target, department_code = repair_target(db, data.target_type, data.target_id)
    department = _department_of(db, department_code)
    require_department_admin(actor, department.id)
    if target.status != Status.ACTIVE.value:
        raise Conflict(
            "该记录已修复或已撤销，不能重复修复",
            message_en="the item is not active (already repaired or revoked)",
            code="credit.repair.not_active",
            field="target_id",
        )
    started = target.decision_date if isinstance(target, CreditRecord) else target.period_from
    if data.decision_date < started or data.decision_date > today_cn():
        raise ValidationError(
            "修复决定日期应在原决定日期之后、且不晚于今天",
            message_en="the repair decision date must be between the original decision and today",
            code="credit.repair.date",
            field="decision_date",
        )
    repair = CreditRepair(
        target_type=data.target_type,
        target_id=target.id,
        subject_id=target.subject_id,
        decision_number=data.decision_number.strip(),
        decision_date=data.decision_date,
        department=department_code,
        rectification=data.rectification.strip(),
        actor_username=actor.username,
        created_at=utcnow(),
    )
    db.add(repair)
    db.flush()
    target.status = Status.REPAIRED.value
    target.repair_id = repair.id
    now = repair.created_at
    if isinstance(target, CreditRecord):
        record_changed(db, target, now)
    else:
        entry_changed(db, target, now)
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="credit.repair",
        target_type=f"credit_{data.target_type}",
        target_id=target.id,
        details={
            "subject_id": target.subject_id,
            "decision_number": repair.decision_number,
            "repair_id": repair.id,
        },
    )
    return repair_out(repair)


def record_history(db: Session, *, actor: Actor, record_id: int) -> list[RecordOut]:
    """Every version of one record, newest first (staff only)."""
    require_roles(actor, *READ_ROLES)
    versions = list(
        db.scalars(
            select(CreditRecordVersion)
            .where(CreditRecordVersion.record_id == record_id)
            .order_by(CreditRecordVersion.valid_from.desc(), CreditRecordVersion.id.desc())
        )
    )
    if not versions:
        raise NotFound("记录不存在", message_en="no such record", code="credit.record.not_found")
    # A read of the subject's credit data (a person learns of it through myPersonalDataUsage).
    audit_record(
        db,
        actor=actor,
        action="credit.record.history",
        target_type="credit_subject",
        target_id=versions[0].subject_id,
        details={"record_id": record_id, "versions": len(versions)},
    )
    names = department_names(db, (v.issuing_department for v in versions))
    clear, day = may_see_clear(actor), today_cn()
    return [record_out(v, names, clear=clear, day=day) for v in versions]
