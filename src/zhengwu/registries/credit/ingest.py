"""Ingestion of 双公示 records and list entries from CSV, Excel or Parquet, one batch per delivery.

The shape is that of :mod:`zhengwu.registries.ingest` and its files are read by the same readers:

1. the delivery is fingerprinted (SM3 of the bytes and the source department); a fingerprint already
   applied makes the call a no-op returning the earlier batch;
2. the header is mapped (missing, unknown or repeated columns reject the file); every row is validated
   (:mod:`zhengwu.registries.credit.validation`), then its references: the issuing department exists
   and is the delivering one (or under the platform's authority), the subject is registered in the
   population or legal entity registry under that name, the list exists and is issued by the
   delivering department, the key is not repeated in the batch;
3. ``mode="atomic"`` (default): any problem rejects the batch and nothing is applied;
   ``mode="partial"``: valid rows are applied, the others go to the error file (row, column, reason);
4. applying compares ``row_hash`` with the current row: equal means unchanged (no version), otherwise
   the current row is inserted or updated and a version appended. A repaired or revoked record keeps
   its status when the department re-delivers it: re-sending a file never re-publishes a repaired record.

Credit deliveries are thousands of rows, not millions: rows are applied through the ORM within the
caller's transaction, which keeps the code short; the batch and its error file are recorded in the
shared ``registry_batches`` history (``registry`` = ``credit_records`` or ``credit_lists``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department
from zhengwu.accounts.permissions import Actor, require_authenticated, require_department_admin
from zhengwu.audit.services import audit_record
from zhengwu.db import Base, utcnow
from zhengwu.errors import NotFound, ValidationError
from zhengwu.registries import readers
from zhengwu.registries.credit.history import entry_changed, record_changed
from zhengwu.registries.credit.models import (
    BATCH_LIST_ENTRIES,
    BATCH_RECORDS,
    CreditList,
    CreditListEntry,
    CreditListEntryVersion,
    CreditRecord,
    CreditRecordVersion,
    Status,
    SubjectType,
)
from zhengwu.registries.credit.validation import ENTRY_SPEC, RECORD_SPEC, validate_entry, validate_record
from zhengwu.registries.ingest import BatchErrors, IngestResult, batch_finish, map_header
from zhengwu.registries.models import BatchStatus, Entity, Person, RegistryBatch
from zhengwu.registries.validation import clean

Mode = Literal["atomic", "partial"]
Kind = Literal["records", "list_entries"]
Progress = Callable[[int], None]
BATCH_NAMES: Final = {"records": BATCH_RECORDS, "list_entries": BATCH_LIST_ENTRIES}
#: Keys per IN list of the set-wise lookups.
CHUNK: Final = 1000


class References:
    """Lookups of the references of a batch, cached (a file names the same subjects many times)."""

    def __init__(self, db: Session, *, allow_unregistered: bool) -> None:
        self.db = db
        self.allow_unregistered = allow_unregistered
        self.departments: dict[str, bool] = {}
        self.lists: dict[str, CreditList | None] = {}
        self.names: dict[str, str | None] = {}

    def department_known(self, code: str) -> bool:
        if code not in self.departments:
            found = self.db.scalar(select(Department.id).where(Department.code == code))
            self.departments[code] = found is not None
        return self.departments[code]

    def credit_list(self, code: str) -> CreditList | None:
        if code not in self.lists:
            self.lists[code] = self.db.scalars(select(CreditList).where(CreditList.code == code)).first()
        return self.lists[code]

    def prefetch_subjects(self, rows: list[dict[str, Any]]) -> None:
        """Read the registered names of every subject of a batch, a thousand keys per query."""
        for model, key, wanted in (
            (Person, Person.resident_id, SubjectType.PERSON.value),
            (Entity, Entity.uscc, SubjectType.ENTITY.value),
        ):
            ids = sorted({v["subject_id"] for v in rows if v["subject_type"] == wanted} - set(self.names))
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                found = dict(self.db.execute(select(key, model.name).where(key.in_(chunk))).tuples().all())
                self.names.update({i: found.get(i) for i in chunk})

    def subject_problem(self, values: dict[str, Any]) -> str | None:
        """Why the subject does not match the registry it belongs to, or None."""
        key, name = values["subject_id"], values["subject_name"]
        person = values["subject_type"] == SubjectType.PERSON.value
        label = "人口基础库" if person else "法人单位基础库"
        if key not in self.names:
            row: Person | Entity | None = self.db.get(Person, key) if person else self.db.get(Entity, key)
            self.names[key] = row.name if row is not None else None
        registered = self.names[key]
        if registered is None:
            return None if self.allow_unregistered else f"主体不在{label}中"
        if registered != name:
            return f"主体名称与{label}登记的名称不一致"
        return None


def _department(db: Session, code: str) -> Department:
    department = db.scalars(select(Department).where(Department.code == code)).first()
    if department is None:
        raise NotFound(
            f"来源部门“{code}”不存在",
            message_en=f"unknown source department '{code}'",
            code="credit.source.unknown",
            field="source",
        )
    return department


def _open(path: Path) -> readers.Delivery:
    opener = {"csv": readers.read_csv, "xlsx": readers.read_xlsx, "parquet": readers.read_parquet}
    return opener[readers.format_of(path)](path)


def ingest_credit(
    db: Session,
    *,
    actor: Actor,
    kind: Kind,
    source: str,
    path: Path | str,
    mode: Mode = "atomic",
    error_dir: Path,
    allow_unregistered: bool = False,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> IngestResult:
    """Ingest one file of 双公示 records (``kind="records"``) or list entries (``"list_entries"``).

    ``source`` is the delivering department's code; the actor must administer it. Subjects must be
    registered in the population or legal entity registry under the delivered name, unless
    ``allow_unregistered`` (a deployment whose base registries are not loaded yet). Malformed files
    never raise: the result says ``rejected`` with the reason and the batch is recorded.
    """
    require_authenticated(actor)
    if kind not in BATCH_NAMES:
        raise ValidationError(
            f"未知的数据类型“{kind}”", message_en=f"unknown kind '{kind}'", code="credit.kind", field="kind"
        )
    if mode not in ("atomic", "partial"):
        raise ValidationError(
            f"未知的入库方式“{mode}”，应为 atomic 或 partial",
            message_en=f"unknown mode '{mode}'",
            code="credit.mode",
            field="mode",
        )
    department = _department(db, source)
    require_department_admin(actor, department.id)
    today = today or dt.date.today()
    file_path = Path(path)
    if not file_path.is_file():
        raise NotFound(
            f"文件“{file_path.name}”不存在",
            message_en=f"no such file: {file_path.name}",
            code="credit.file.missing",
            field="path",
        )
    batch_name = BATCH_NAMES[kind]
    fingerprint = readers.fingerprint_file(file_path, source)
    earlier = db.scalars(
        select(RegistryBatch)
        .where(
            RegistryBatch.registry_name == batch_name,
            RegistryBatch.fingerprint == fingerprint,
            RegistryBatch.status.in_((BatchStatus.APPLIED.value, BatchStatus.PARTIAL.value)),
        )
        .order_by(RegistryBatch.id)
        .limit(1)
    ).first()
    if earlier is not None:
        audit_record(
            db,
            actor=actor,
            action="credit.ingest.duplicate",
            target_type="registry_batch",
            target_id=earlier.id,
        )
        return IngestResult(
            batch_id=earlier.id,
            status=earlier.status,
            duplicate_of=earlier.id,
            rows_read=earlier.rows_read,
            message=f"该批次与第 {earlier.id} 批完全相同，已入库，本次未做任何更改",
        )
    batch = RegistryBatch(
        registry_name=batch_name,
        source_department=source,
        file_name=file_path.name,
        file_format=file_path.suffix.lstrip(".").lower()[:16] or "csv",
        fingerprint=fingerprint,
        mode=mode,
        status=BatchStatus.RUNNING.value,
        actor_username=actor.username,
        started_at=utcnow(),
    )
    db.add(batch)
    db.flush()
    errors = BatchErrors()
    result = IngestResult(batch_id=batch.id, status=BatchStatus.RUNNING.value)
    refs = References(db, allow_unregistered=allow_unregistered)
    try:
        delivery = _open(file_path)
        result.notes = delivery.notes
        valid = _read(kind, delivery, source, refs, errors, today, progress, result)
    except ValidationError as exc:
        return batch_finish(
            db,
            actor,
            batch,
            result,
            errors,
            error_dir,
            BatchStatus.REJECTED,
            exc.message,
            audit_action="credit.ingest",
            kind_key="kind",
        )
    if errors.all and mode == "atomic":
        message = (
            f"{len(errors.bad_rows)} 行有错误，按“全部或全不”方式整批拒绝，未写入任何数据；"
            "请修正后重新提交，或选择部分入库"
        )
        return batch_finish(
            db,
            actor,
            batch,
            result,
            errors,
            error_dir,
            BatchStatus.REJECTED,
            message,
            audit_action="credit.ingest",
            kind_key="kind",
        )
    counts = _apply(db, kind, valid, batch)
    result.inserted, result.updated, result.unchanged = (
        counts["inserted"],
        counts["updated"],
        counts["unchanged"],
    )
    status = BatchStatus.PARTIAL if errors.all else BatchStatus.APPLIED
    message = f"新增 {result.inserted} 条，更新 {result.updated} 条，未变化 {result.unchanged} 条" + (
        f"；{len(errors.bad_rows)} 行有错误未入库，见错误文件" if errors.all else ""
    )
    return batch_finish(
        db,
        actor,
        batch,
        result,
        errors,
        error_dir,
        status,
        message,
        audit_action="credit.ingest",
        kind_key="kind",
    )


def _read(
    kind: Kind,
    delivery: readers.Delivery,
    source: str,
    refs: References,
    errors: BatchErrors,
    today: dt.date,
    progress: Progress | None,
    result: IngestResult,
) -> list[dict[str, Any]]:
    spec = RECORD_SPEC if kind == "records" else ENTRY_SPEC
    columns = map_header(delivery.columns, spec)
    validate = validate_record if kind == "records" else validate_entry
    width = len(columns)
    seen: dict[tuple[Any, ...], int] = {}
    valid: list[dict[str, Any]] = []
    numbered: list[tuple[int, dict[str, Any]]] = []
    for number, raw in delivery.rows:
        result.rows_read += 1
        if progress is not None and result.rows_read % 1000 == 0:
            progress(result.rows_read)
        if len(raw) != width:
            errors.add(number, "*", f"该行有 {len(raw)} 列，表头有 {width} 列（引号或分隔符可能有误）")
            continue
        row = {c: clean(v) for c, v in zip(columns, raw, strict=True)}
        values = validate(row, today)
        if isinstance(values, list):
            for column, reason in values:
                errors.add(number, column, reason)
            continue
        problems = _reference_problems(kind, values, source, refs)
        key = _key(kind, values)
        if key in seen:
            problems.append(
                ("decision_number", f"与第 {seen[key]} 行重复（同一批次内同一文书号只能出现一次）")
            )
        if problems:
            for column, reason in problems:
                errors.add(number, column, reason)
            continue
        seen[key] = number
        numbered.append((number, values))
    # Subjects are checked set-wise: one query per thousand subjects instead of one per row.
    refs.prefetch_subjects([v for _, v in numbered])
    for number, values in numbered:
        problem = refs.subject_problem(values)
        if problem:
            errors.add(number, "subject_id", problem)
        else:
            valid.append(values)
    if progress is not None:
        progress(result.rows_read)
    return valid


def _key(kind: Kind, values: dict[str, Any]) -> tuple[Any, ...]:
    if kind == "records":
        return (values["kind"], values["issuing_department"], values["decision_number"])
    return (values["list_id"], values["decision_number"])


def _reference_problems(
    kind: Kind, values: dict[str, Any], source: str, refs: References
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if kind == "records":
        issuer = values["issuing_department"] or source
        values["issuing_department"] = issuer
        if not refs.department_known(issuer):
            problems.append(("issuing_department", f"决定机关“{issuer}”不是平台登记的部门"))
    else:
        found = refs.credit_list(values["list_code"])
        values["list_id"] = found.id if found else None
        if found is None:
            problems.append(("list_code", f"名单“{values['list_code']}”不存在"))
        elif found.issuing_department != source:
            problems.append(
                ("list_code", f"名单“{found.name}”由部门 {found.issuing_department} 认定，本部门不能报送")
            )
    return problems


def _new_ids(db: Session, table: str, count: int) -> list[int]:
    """``count`` fresh primary keys of ``table`` (the sequence on PostgreSQL; SQLite serialises writers)."""
    if db.get_bind().dialect.name == "postgresql":
        return list(
            db.execute(
                text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"),
                {"table": table, "n": count},
            ).scalars()
        )
    start = int(db.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()) + 1  # noqa: S608
    return list(range(start, start + count))


def _bulk_insert(db: Session, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows with their keys: PostgreSQL ``COPY``, SQLite a Core executemany.

    ``table`` is one of this package's table names, never delivered data (hence ``noqa: S608``).
    """
    db.flush()
    if db.get_bind().dialect.name != "postgresql":
        db.execute(Base.metadata.tables[table].insert(), rows)
        return
    columns = list(rows[0])
    raw = db.connection().connection.driver_connection
    assert raw is not None  # a live session always has a DBAPI connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row[c] for c in columns))


def _current_key(kind: Kind, row: CreditRecord | CreditListEntry) -> tuple[Any, ...]:
    if isinstance(row, CreditRecord):
        return (row.kind, row.issuing_department, row.decision_number)
    return (row.list_id, row.decision_number)


def _apply(db: Session, kind: Kind, rows: list[dict[str, Any]], batch: RegistryBatch) -> dict[str, int]:
    """Apply valid rows: unchanged ones are skipped, changed ones get a new version, new ones are
    inserted with their first version in two multi-row statements (one round trip per statement)."""
    model: type[CreditRecord] | type[CreditListEntry] = CreditRecord if kind == "records" else CreditListEntry
    existing: dict[tuple[Any, ...], CreditRecord | CreditListEntry] = {}
    numbers = sorted({v["decision_number"] for v in rows})
    for start in range(0, len(numbers), CHUNK):
        chunk = numbers[start : start + CHUNK]
        found: list[CreditRecord | CreditListEntry] = list(
            db.scalars(select(model).where(model.decision_number.in_(chunk)))
        )
        existing.update((_current_key(kind, row), row) for row in found)
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    fresh: list[dict[str, Any]] = []
    for values in rows:
        stored = {k: v for k, v in values.items() if k != "list_code"}
        current = existing.get(_key(kind, values))
        if current is None:
            fresh.append(stored)
            continue
        if current.row_hash == values["row_hash"]:
            counts["unchanged"] += 1
            continue
        # A repaired or revoked item keeps its status: re-delivery never re-publishes it.
        for column, value in stored.items():
            setattr(current, column, value)
        current.source_department = batch.source_department
        current.batch_id = batch.id
        if isinstance(current, CreditRecord):
            record_changed(db, current, batch.started_at)
        else:
            entry_changed(db, current, batch.started_at)
        counts["updated"] += 1
    if fresh:
        common = {
            "status": Status.ACTIVE.value,
            "repair_id": None,
            "source_department": batch.source_department,
            "batch_id": batch.id,
            "valid_from": batch.started_at,
        }
        version, link = (
            (CreditRecordVersion, "record_id") if kind == "records" else (CreditListEntryVersion, "entry_id")
        )
        ids = _new_ids(db, model.__tablename__, len(fresh))
        params = [{**values, **common, "id": i} for values, i in zip(fresh, ids, strict=True)]
        _bulk_insert(db, model.__tablename__, params)
        version_ids = _new_ids(db, version.__tablename__, len(fresh))
        _bulk_insert(
            db,
            version.__tablename__,
            [
                {**p, "id": v, link: p["id"], "valid_to": None}
                for p, v in zip(params, version_ids, strict=True)
            ],
        )
        counts["inserted"] = len(fresh)
    return counts
