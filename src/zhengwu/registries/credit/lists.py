"""Red and black lists, their joint measures (联合奖惩措施) and the entries managed by the issuing department.

The catalog of lists and measures is public information (anyone may read it); creating a list, adding
measures, adding or removing entries is for the platform administrator or a data administrator of
the list's issuing department, and is audited. Removing an entry closes its version with status
``revoked``: the entry and its history stay.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department
from zhengwu.accounts.permissions import Actor, require_authenticated, require_department_admin
from zhengwu.audit.services import audit_record
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotFound, ValidationError
from zhengwu.registries.credit.history import entry_changed
from zhengwu.registries.credit.ingest import References
from zhengwu.registries.credit.models import (
    CreditList,
    CreditListEntry,
    CreditMeasure,
    CreditMeasureItem,
    ListType,
    MeasureKind,
    Status,
)
from zhengwu.registries.credit.schemas import (
    EntryIn,
    EntryOut,
    ListIn,
    ListOut,
    MeasureIn,
    MeasureItemOut,
    MeasureOut,
)
from zhengwu.registries.credit.services import department_names, entry_out, today_cn
from zhengwu.registries.credit.validation import check_subject
from zhengwu.registries.schemas import Page
from zhengwu.registries.services import may_see_clear
from zhengwu.registries.validation import clean, row_hash


def _department(db: Session, code: str, field: str) -> Department:
    department = db.scalars(select(Department).where(Department.code == code)).first()
    if department is None:
        raise NotFound(
            f"部门“{code}”不存在",
            message_en=f"unknown department '{code}'",
            code="credit.department.unknown",
            field=field,
        )
    return department


def list_by_code(db: Session, code: str) -> CreditList:
    """A list by its code, or ``NotFound``."""
    found = db.scalars(select(CreditList).where(CreditList.code == code)).first()
    if found is None:
        raise NotFound(
            f"名单“{code}”不存在", message_en=f"no list '{code}'", code="credit.list.not_found", field="code"
        )
    return found


def list_measures(db: Session, lists: list[CreditList]) -> dict[int, list[MeasureOut]]:
    """The active joint measures of each of these lists (by list id), with their service items."""
    ids = [c.id for c in lists]
    if not ids:
        return {}
    measures = list(
        db.scalars(select(CreditMeasure).where(CreditMeasure.list_id.in_(ids)).order_by(CreditMeasure.code))
    )
    items: dict[int, list[MeasureItemOut]] = {}
    if measures:
        for item in db.scalars(
            select(CreditMeasureItem)
            .where(CreditMeasureItem.measure_id.in_([m.id for m in measures]))
            .order_by(CreditMeasureItem.item_code)
        ):
            items.setdefault(item.measure_id, []).append(
                MeasureItemOut(code=item.item_code, name=item.item_name)
            )
    names = department_names(db, (m.implementing_department for m in measures))
    out: dict[int, list[MeasureOut]] = {}
    for m in measures:
        if not m.is_active:
            continue
        out.setdefault(m.list_id, []).append(
            MeasureOut(
                code=m.code,
                kind=m.kind,
                implementing_department=m.implementing_department,
                implementing_department_name=names.get(m.implementing_department),
                content=m.content,
                basis=m.basis,
                items=items.get(m.id, []),
            )
        )
    return out


def _list_out(db: Session, lists: list[CreditList]) -> list[ListOut]:
    measures = list_measures(db, lists)
    names = department_names(db, (c.issuing_department for c in lists))
    day = today_cn()
    counts = dict(
        db.execute(
            select(CreditListEntry.list_id, func.count())
            .where(
                CreditListEntry.status == Status.ACTIVE.value,
                CreditListEntry.period_from <= day,
                (CreditListEntry.period_to.is_(None)) | (CreditListEntry.period_to >= day),
            )
            .group_by(CreditListEntry.list_id)
        )
        .tuples()
        .all()
    )
    return [
        ListOut(
            code=c.code,
            name=c.name,
            list_type=c.list_type,
            issuing_department=c.issuing_department,
            issuing_department_name=names.get(c.issuing_department),
            basis=c.basis,
            description=c.description,
            active_entries=int(counts.get(c.id, 0)),
            measures=measures.get(c.id, []),
        )
        for c in lists
    ]


def list_catalog(db: Session, *, actor: Actor, list_type: ListType | str | None = None) -> list[ListOut]:
    """Every list with its measures (public information)."""
    query = select(CreditList).order_by(CreditList.list_type.desc(), CreditList.code)
    if list_type:
        query = query.where(CreditList.list_type == ListType(list_type).value)
    return _list_out(db, list(db.scalars(query)))


def list_get(db: Session, *, actor: Actor, code: str) -> ListOut:
    """One list with its measures."""
    return _list_out(db, [list_by_code(db, code)])[0]


def list_create(db: Session, *, actor: Actor, data: ListIn) -> ListOut:
    """Create a list issued by ``data.issuing_department`` (its administrators or the platform's)."""
    require_authenticated(actor)
    department = _department(db, data.issuing_department, "issuing_department")
    require_department_admin(actor, department.id)
    if db.scalars(select(CreditList.id).where(CreditList.code == data.code)).first() is not None:
        raise Conflict(
            f"名单代码“{data.code}”已存在",
            message_en="list code exists",
            code="credit.list.exists",
            field="code",
        )
    row = CreditList(
        code=data.code,
        name=data.name.strip(),
        list_type=data.list_type.value,
        issuing_department=department.code,
        basis=data.basis.strip(),
        description=(data.description or "").strip() or None,
        created_at=utcnow(),
    )
    db.add(row)
    db.flush()
    audit_record(db, actor=actor, action="credit.list.create", target_type="credit_list", target_id=row.code)
    return _list_out(db, [row])[0]


def measure_create(db: Session, *, actor: Actor, list_code: str, data: MeasureIn) -> MeasureOut:
    """Attach a measure to a list. Rewards go with red lists, punishments with black lists."""
    require_authenticated(actor)
    credit_list = list_by_code(db, list_code)
    require_department_admin(actor, _department(db, credit_list.issuing_department, "list").id)
    _department(db, data.implementing_department, "implementing_department")
    expected = MeasureKind.REWARD if credit_list.list_type == ListType.RED.value else MeasureKind.PUNISHMENT
    if data.kind is not expected:
        raise ValidationError(
            "红名单只能附激励措施，黑名单只能附惩戒措施",
            message_en="red lists carry rewards, black lists punishments",
            code="credit.measure.kind",
            field="kind",
        )
    if db.scalars(select(CreditMeasure.id).where(CreditMeasure.code == data.code)).first() is not None:
        raise Conflict(
            f"措施代码“{data.code}”已存在", message_en="measure code exists", code="credit.measure.exists"
        )
    codes = [(clean(i.code) or "") for i in data.items]
    if any(not c for c in codes) or len(set(codes)) != len(codes):
        raise ValidationError(
            "适用事项编码不能为空或重复",
            message_en="item codes must be non-empty and unique",
            code="credit.measure.items",
        )
    measure = CreditMeasure(
        list_id=credit_list.id,
        code=data.code,
        kind=data.kind.value,
        implementing_department=data.implementing_department,
        content=data.content.strip(),
        basis=data.basis.strip(),
        is_active=True,
        created_at=utcnow(),
    )
    db.add(measure)
    db.flush()
    for code, item in zip(codes, data.items, strict=True):
        db.add(CreditMeasureItem(measure_id=measure.id, item_code=code, item_name=item.name.strip()))
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="credit.measure.create",
        target_type="credit_measure",
        target_id=measure.code,
        details={"list": credit_list.code, "items": codes},
    )
    return next(m for m in list_measures(db, [credit_list])[credit_list.id] if m.code == measure.code)


def list_entries(
    db: Session, *, actor: Actor, list_code: str, status: str | None = None, page: int = 1, per_page: int = 50
) -> Page:
    """The entries of one list, for its issuing department's management page."""
    require_authenticated(actor)
    credit_list = list_by_code(db, list_code)
    require_department_admin(actor, _department(db, credit_list.issuing_department, "list").id)
    page, per_page = max(page, 1), min(max(per_page, 1), 100)
    query = select(CreditListEntry).where(CreditListEntry.list_id == credit_list.id)
    if status:
        query = query.where(CreditListEntry.status == Status(status).value)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(
        query.order_by(CreditListEntry.period_from.desc(), CreditListEntry.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    audit_record(
        db, actor=actor, action="credit.list.entries", target_type="credit_list", target_id=list_code
    )
    lists = {credit_list.id: credit_list}
    clear, day = may_see_clear(actor), today_cn()
    items = [entry_out(r, lists, clear=clear, day=day).model_dump(mode="json") for r in rows]
    return Page(items=items, total=total, page=page, per_page=per_page)


def entry_add(db: Session, *, actor: Actor, list_code: str, data: EntryIn) -> EntryOut:
    """Put a subject on a list (by the issuing department); the subject must be in the base registries."""
    require_authenticated(actor)
    credit_list = list_by_code(db, list_code)
    require_department_admin(actor, _department(db, credit_list.issuing_department, "list").id)
    subject = check_subject(clean(data.subject_id), data.subject_type)
    if isinstance(subject, str):
        raise ValidationError(
            subject,
            message_en="invalid subject identifier",
            code="credit.subject.invalid",
            field="subject_id",
        )
    if data.period_to is not None and data.period_to < data.period_from:
        raise ValidationError(
            "有效期至早于有效期自",
            message_en="period ends before it starts",
            code="credit.entry.period",
            field="period_to",
        )
    if data.period_from > today_cn():
        raise ValidationError(
            "列入日期晚于今天",
            message_en="period starts in the future",
            code="credit.entry.period",
            field="period_from",
        )
    values = {
        "subject_type": subject.subject_type.value,
        "subject_id": subject.subject_id,
        "subject_name": data.subject_name.strip(),
    }
    problem = References(db, allow_unregistered=False).subject_problem(values)
    if problem:
        raise ValidationError(
            problem,
            message_en="subject does not match the base registries",
            code="credit.subject.unregistered",
            field="subject_id",
        )
    number = data.decision_number.strip()
    existing = db.scalars(
        select(CreditListEntry).where(
            CreditListEntry.list_id == credit_list.id, CreditListEntry.decision_number == number
        )
    ).first()
    if existing is not None:
        raise Conflict(
            "该认定文书号已列入本名单",
            message_en="decision number already on this list",
            code="credit.entry.exists",
            field="decision_number",
        )
    canonical = {
        **values,
        "decision_number": number,
        "list_code": credit_list.code,
        "reason": data.reason.strip(),
        "basis": data.basis.strip(),
        "period_from": data.period_from,
        "period_to": data.period_to,
    }
    entry = CreditListEntry(
        list_id=credit_list.id,
        decision_number=number,
        reason=canonical["reason"],
        basis=canonical["basis"],
        period_from=data.period_from,
        period_to=data.period_to,
        status=Status.ACTIVE.value,
        row_hash=row_hash([canonical[k] for k in sorted(canonical)]),
        source_department=credit_list.issuing_department,
        batch_id=None,
        **values,
    )
    db.add(entry)
    entry_changed(db, entry, utcnow())
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="credit.entry.add",
        target_type="credit_list_entry",
        target_id=entry.id,
        details={"list": credit_list.code, "subject_id": entry.subject_id},
    )
    return entry_out(entry, {credit_list.id: credit_list}, clear=may_see_clear(actor), day=today_cn())


def entry_remove(db: Session, *, actor: Actor, entry_id: int, reason: str) -> EntryOut:
    """Take a subject off a list before its period ends (status ``revoked``; history kept)."""
    require_authenticated(actor)
    entry = db.get(CreditListEntry, entry_id)
    if entry is None:
        raise NotFound("名单记录不存在", message_en="no such list entry", code="credit.entry.not_found")
    credit_list = db.get(CreditList, entry.list_id)
    assert credit_list is not None
    require_department_admin(actor, _department(db, credit_list.issuing_department, "list").id)
    if entry.status != Status.ACTIVE.value:
        raise Conflict(
            "该名单记录已不在有效状态", message_en="entry is not active", code="credit.entry.not_active"
        )
    text = (reason or "").strip()
    if not text:
        raise ValidationError(
            "请填写移出原因", message_en="give a reason", code="credit.entry.reason", field="reason"
        )
    entry.status = Status.REVOKED.value
    entry_changed(db, entry, utcnow())
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="credit.entry.remove",
        target_type="credit_list_entry",
        target_id=entry.id,
        details={"reason": text[:500], "subject_id": entry.subject_id},
    )
    return entry_out(entry, {credit_list.id: credit_list}, clear=may_see_clear(actor), day=today_cn())
