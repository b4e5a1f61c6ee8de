"""Batch ingestion into the base registries: read, validate, stage, apply set-wise, record.

One call of :func:`ingest` is one batch:

1. the delivery is fingerprinted (SM3 of the file's bytes and the source department; for a SQL
   query, of the rows as they stream); a fingerprint already applied to the registry makes the call a
   no-op that returns the earlier batch (re-running a batch changes nothing). A person CSV into the
   empty population registry on PostgreSQL is fingerprinted beside its load instead
   (:mod:`zhengwu.registries.filescan`), and a repeat found at the end rolls everything back;
2. the header is checked (missing, unknown or repeated columns reject the whole file), then every row
   is validated (:mod:`zhengwu.registries.validation`) and valid rows go in chunks into a staging
   table: on PostgreSQL an ``UNLOGGED`` table of this batch filled by ``COPY`` (no WAL, shared
   buffers), on SQLite a temporary table filled by ``executemany``; no ORM object per row. Person CSV
   files take the column-wise fast path (:mod:`zhengwu.registries.fastpath`), which applies the same
   rules to whole Arrow columns and hands the rows it cannot vouch for to the row validator;
3. set-wise checks run on the staging table: keys repeated inside the batch, and for legal entities
   the reference of the legal representative to the population registry;
4. ``mode="atomic"`` (default): any problem rejects the batch and nothing is applied.
   ``mode="partial"``: valid rows are applied and the others are listed in the error file;
5. applying is set-based: drop staged rows that would leave the current one as it is (every value
   compared in SQL; unchanged: no new version), copy the current rows of changed keys into the versions
   table closed at the batch's time (``INSERT ... SELECT``), upsert the current-state rows
   (``INSERT ... ON CONFLICT DO UPDATE``).
   Into an empty registry (the first load) the current-state table takes a plain ``INSERT ... SELECT``
   with its primary key and indexes built once afterwards; on PostgreSQL a person CSV the fast path
   reads skips the staging table altogether (:mod:`zhengwu.registries.firstload`).

SQL text here is assembled only from table and column names defined in this package (hence the
``noqa: S608`` markers), never from delivered data, which always travels as bound values or COPY data.

Everything runs in the caller's transaction (the unlogged staging table is created and dropped in it
too), so a crash leaves nothing behind; a rejected batch still
leaves its ``registry_batches`` row and error file for the ingestion history.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department
from zhengwu.accounts.permissions import Actor, require_department_admin
from zhengwu.audit.services import audit_record
from zhengwu.crypto import Sm3Hasher
from zhengwu.db import UTCDateTime, utcnow
from zhengwu.errors import NotFound, ValidationError
from zhengwu.registries import fastpath, filescan, firstload, readers
from zhengwu.registries.firstload import bulk_indexes
from zhengwu.registries.models import (
    BatchStatus,
    Registry,
    RegistryBatch,
)
from zhengwu.registries.staging import Stage
from zhengwu.registries.validation import ENTITY_SPEC, PERSON_SPEC, Spec, clean

Mode = Literal["atomic", "partial"]
Progress = Callable[[int], None]
CHUNK: Final = 10_000
#: Errors kept in memory for the result and the pages; the error file has them all.
ERRORS_SHOWN: Final = 100

SPECS: Final = {Registry.POPULATION: PERSON_SPEC, Registry.ENTITIES: ENTITY_SPEC}
TABLES: Final = {
    Registry.POPULATION: ("registry_persons", "registry_person_versions"),
    Registry.ENTITIES: ("registry_entities", "registry_entity_versions"),
}


@dataclass(frozen=True)
class RowError:
    """One rejected value: the row as a person sees it in the file, the column, the reason."""

    row: int
    column: str
    reason: str


@dataclass
class IngestResult:
    """What a batch did; ``duplicate_of`` is set when the same delivery had already been applied."""

    batch_id: int | None
    status: str
    rows_read: int = 0
    rows_invalid: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    error_file: str | None = None
    message: str | None = None
    notes: list[str] = field(default_factory=list)
    duplicate_of: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON output."""
        out = dict(self.__dict__)
        out["errors"] = [e.__dict__ for e in self.errors]
        return out


class BatchErrors:
    """All row errors of a batch, written to the error file; the first few kept for display."""

    def __init__(self) -> None:
        self.all: list[RowError] = []
        self.bad_rows: set[int] = set()

    def add(self, row: int, column: str, reason: str) -> None:
        self.all.append(RowError(row, column, reason))
        self.bad_rows.add(row)

    def clear(self) -> None:
        self.all.clear()
        self.bad_rows.clear()

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # UTF-8 with BOM so that the Excel operators use opens it with the right encoding.
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["行号", "列", "原因"])
            for error in sorted(self.all, key=lambda e: e.row):
                writer.writerow([error.row, error.column, error.reason])


def _department(db: Session, code: str) -> Department:
    department = db.scalars(select(Department).where(Department.code == code)).first()
    if department is None:
        raise NotFound(
            f"来源部门“{code}”不存在",
            message_en=f"unknown source department '{code}'",
            code="registries.source.unknown",
            field="source",
        )
    return department


def check_mode(mode: str) -> None:
    """Refuse an ingestion mode other than ``atomic`` (all or nothing) and ``partial``."""
    if mode not in ("atomic", "partial"):
        raise ValidationError(
            f"未知的入库方式“{mode}”，应为 atomic 或 partial",
            message_en=f"unknown mode '{mode}'",
            code="registries.mode",
            field="mode",
        )


def delivery_file(path: str | Path) -> Path:
    """The delivered file as a path; a missing file is a 404 naming the ``path`` field."""
    file_path = Path(path)
    if not file_path.is_file():
        raise NotFound(
            f"文件“{file_path}”不存在",
            message_en=f"no such file: {file_path}",
            code="registries.file.missing",
            field="path",
        )
    return file_path


def map_header(columns: list[str], spec: Spec) -> list[str]:
    """Canonical column names of a header; missing, unknown or repeated columns reject the file."""
    mapped: list[str] = []
    for column in columns:
        name = clean(str(column)) or ""
        name = spec.aliases.get(name, name.lower())
        mapped.append(name)
    repeated = sorted({c for c in mapped if mapped.count(c) > 1})
    missing = [c for c in spec.required if c not in mapped]
    extra = [c for c in mapped if c not in spec.accepted]
    problems: list[str] = []
    problems_en: list[str] = []
    if missing:
        problems.append("缺少必填列：" + "、".join(missing))
        problems_en.append("missing columns: " + ", ".join(missing))
    if extra:
        problems.append("有无法识别的列：" + "、".join(c or "（空列名）" for c in extra))
        problems_en.append("unknown columns: " + ", ".join(extra))
    if repeated:
        problems.append("列重复：" + "、".join(repeated))
        problems_en.append("repeated columns: " + ", ".join(repeated))
    if problems:
        raise readers.file_error(
            "表头不符合约定格式。" + "；".join(problems) + "。可接受的列：" + "、".join(spec.accepted),
            "; ".join(problems_en),
            code="header",
            missing=missing,
            extra=extra,
            repeated=repeated,
        )
    return mapped


def _read(
    registry: Registry,
    spec: Spec,
    delivery: readers.Delivery,
    stage: Stage,
    errors: BatchErrors,
    today: dt.date,
    progress: Progress | None,
    chunk_size: int,
    syntax: Callable[[], None] | None = None,
) -> int:
    columns = map_header(delivery.columns, spec)
    if (
        registry is Registry.POPULATION
        and delivery.file_format == "csv"
        and delivery.path is not None
        and delivery.encoding is not None
    ):
        read = _read_fast(delivery, columns, stage, errors, today, progress, syntax)
        if read is not None:
            return read
        if delivery.close is not None:
            delivery.close()
        delivery = readers.read_csv(delivery.path)
    return _read_rows(spec, delivery, columns, stage, errors, today, progress, chunk_size)


def _read_fast(
    delivery: readers.Delivery,
    columns: list[str],
    stage: Stage,
    errors: BatchErrors,
    today: dt.date,
    progress: Progress | None,
    syntax: Callable[[], None] | None,
) -> int | None:
    """Rows read by the column-wise fast path, or None (nothing staged) when the file's syntax is doubtful.

    Rows the fast path does not vouch for go through the row validator, the reference for every rule
    and every error message.
    """
    assert delivery.path is not None and delivery.encoding is not None  # checked by the caller
    validate = PERSON_SPEC.validate
    read = 0
    # Rows the row validator accepted are staged after the one COPY of the vouched-for rows.
    checked: list[tuple[Any, ...]] = []
    try:
        with stage.arrow_copy() as write:
            for chunk in fastpath.read_clean(delivery.path, delivery.encoding, columns, today, syntax=syntax):
                write(chunk.staged)
                for number, values in chunk.doubtful:
                    result = validate({c: clean(v) for c, v in zip(columns, values, strict=True)}, today)
                    if isinstance(result, list):
                        for column, reason in result:
                            errors.add(number, column, reason)
                    else:
                        checked.append((number, *result))
                read += chunk.rows
                if progress is not None:
                    progress(read)
        stage.load(checked)
    except fastpath.NotClean:
        stage.clear()
        errors.clear()
        return None
    return read


def _read_rows(
    spec: Spec,
    delivery: readers.Delivery,
    columns: list[str],
    stage: Stage,
    errors: BatchErrors,
    today: dt.date,
    progress: Progress | None,
    chunk_size: int,
) -> int:
    width = len(columns)
    validate = spec.validate
    chunk: list[tuple[Any, ...]] = []
    read = 0
    for number, values in delivery.rows:
        read += 1
        if len(values) != width:
            errors.add(number, "*", f"该行有 {len(values)} 列，表头有 {width} 列（引号或分隔符可能有误）")
            continue
        row = {c: clean(v) for c, v in zip(columns, values, strict=True)}
        result = validate(row, today)
        if isinstance(result, list):
            for column, reason in result:
                errors.add(number, column, reason)
            continue
        chunk.append((number, *result))
        if len(chunk) >= chunk_size:
            stage.load(chunk)
            chunk = []
            if progress is not None:
                progress(read)
    stage.load(chunk)
    if progress is not None:
        progress(read)
    return read


def _set_checks(registry: Registry, stage: Stage, errors: BatchErrors) -> None:
    db, key, name = stage.db, stage.spec.key, stage.name
    if stage.postgres and not _empty(db, TABLES[registry][0]):
        # A new table has no statistics until analysed; without them the joins with the current table
        # go nested-loop. Into an empty registry there are no such joins.
        db.execute(text(f"ANALYZE {name}"))
    # A hash aggregate finds repeated keys in one pass; the costlier detail query runs only if there are any.
    repeated = db.execute(
        text(f"SELECT 1 FROM {name} GROUP BY {key} HAVING count(*) > 1 LIMIT 1")  # noqa: S608
    ).first()
    dups: list[Any] = []
    if repeated is not None:
        dups = list(
            db.execute(
                text(
                    f"SELECT s.row_no, f.first FROM {name} s JOIN (SELECT {key}, min(row_no) AS first "  # noqa: S608
                    f"FROM {name} GROUP BY {key} HAVING count(*) > 1) f ON f.{key} = s.{key} "
                    f"WHERE s.row_no > f.first"
                )
            ).all()
        )
    for row_no, first in dups:
        errors.add(row_no, key, f"与第 {first} 行重复（同一批次内同一标识只能出现一次）")
    if registry is Registry.ENTITIES:
        orphans = (
            db.execute(
                text(
                    f"SELECT row_no FROM {name} s WHERE NOT EXISTS "  # noqa: S608
                    f"(SELECT 1 FROM registry_persons p WHERE p.resident_id = s.legal_representative_id)"
                )
            )
            .scalars()
            .all()
        )
        for row_no in orphans:
            errors.add(row_no, "legal_representative_id", "法定代表人不在人口基础库中")
    if dups or (registry is Registry.ENTITIES and orphans):
        bad = [r for r, _ in dups] + (list(orphans) if registry is Registry.ENTITIES else [])
        for start in range(0, len(bad), 1000):
            db.execute(
                text(f"DELETE FROM {name} WHERE row_no IN :rows").bindparams(  # noqa: S608
                    bindparam("rows", expanding=True)
                ),
                {"rows": bad[start : start + 1000]},
            )


def _apply(registry: Registry, stage: Stage, batch: RegistryBatch) -> tuple[int, int, int]:
    """Apply the staged rows; return (inserted, updated, unchanged)."""
    db, key, stg = stage.db, stage.spec.key, stage.name
    current, versions = TABLES[registry]
    attrs = [c for c in stage.spec.staged if c != key]
    staged = db.execute(text(f"SELECT count(*) FROM {stg}")).scalar_one()  # noqa: S608
    params = {"now": batch.started_at, "batch": batch.id, "source": batch.source_department}
    now = bindparam("now", type_=UTCDateTime())
    if _empty(db, current):
        # The first load: nothing to compare with, nothing to close; one plain insert.
        if stage.postgres:
            with bulk_indexes(db, registry):
                _write(db, key, attrs, stg, current, versions, now, params, first_load=True)
        else:
            _write(db, key, attrs, stg, current, versions, now, params, first_load=True)
        return int(staged), 0, 0
    # Unchanged: applying the row would leave the current one as it is. Every value the same (nulls
    # equal), except former names, which the current row may have accumulated: a delivery without
    # them keeps the current ones (see below).
    same = " AND ".join(
        f"c.{a} {'IS NOT DISTINCT FROM' if stage.postgres else 'IS'} {stg}.{a}"
        for a in attrs
        if a != "former_names"
    )
    db.execute(
        text(
            f"DELETE FROM {stg} WHERE EXISTS (SELECT 1 FROM {current} c "  # noqa: S608
            f"WHERE c.{key} = {stg}.{key} AND {same} "
            f"AND ({stg}.former_names IS NULL OR {stg}.former_names = c.former_names))"
        )
    )
    # Former names: kept as delivered, else accumulated when the delivered name differs.
    db.execute(
        text(
            f"UPDATE {stg} SET existed = 1, former_names = CASE "  # noqa: S608
            f"WHEN {stg}.former_names IS NOT NULL THEN {stg}.former_names "
            f"WHEN c.name <> {stg}.name THEN CASE WHEN c.former_names IS NULL THEN c.name "
            f"ELSE c.former_names || '；' || c.name END "
            f"ELSE c.former_names END FROM {current} c WHERE c.{key} = {stg}.{key}"
        )
    )
    updated = db.execute(text(f"SELECT count(*) FROM {stg} WHERE existed = 1")).scalar_one()  # noqa: S608
    inserted = db.execute(text(f"SELECT count(*) FROM {stg} WHERE existed = 0")).scalar_one()  # noqa: S608
    _write(db, key, attrs, stg, current, versions, now, params, first_load=False)
    return int(inserted), int(updated), int(staged) - int(inserted) - int(updated)


def _empty(db: Session, table: str) -> bool:
    return db.execute(text(f"SELECT 1 FROM {table} LIMIT 1")).first() is None  # noqa: S608


def _write(
    db: Session,
    key: str,
    attrs: list[str],
    stg: str,
    current: str,
    versions: str,
    now: Any,
    params: dict[str, Any],
    *,
    first_load: bool,
) -> None:
    cols = ", ".join([key, *attrs, "source_department", "valid_from", "batch_id"])
    values = ", ".join([key, *attrs, ":source", ":now", ":batch"])
    if not first_load:
        # History by a set operation: the current rows about to be replaced become closed versions.
        db.execute(
            text(
                f"INSERT INTO {versions} ({cols}, valid_to) SELECT {cols}, :now FROM {current} "  # noqa: S608
                f"WHERE {key} IN (SELECT {key} FROM {stg} WHERE existed = 1)"
            ).bindparams(now),
            params,
        )
    sets = ", ".join(f"{c} = excluded.{c}" for c in [*attrs, "source_department", "valid_from", "batch_id"])
    # "WHERE true" resolves SQLite's parsing ambiguity between a join's ON and the upsert's ON CONFLICT.
    db.execute(
        text(
            f"INSERT INTO {current} ({cols}) SELECT {values} FROM {stg} WHERE true "  # noqa: S608
            # An empty registry has nothing to conflict with: a plain insert skips one probe per row.
            + ("" if first_load else f"ON CONFLICT ({key}) DO UPDATE SET {sets}")
        ).bindparams(now),
        params,
    )


def _previous_batch(db: Session, registry: str, fingerprint: str) -> RegistryBatch | None:
    """The applied batch of ``registry`` with this fingerprint, if any."""
    done = (BatchStatus.APPLIED.value, BatchStatus.PARTIAL.value)
    return db.scalars(
        select(RegistryBatch)
        .where(
            RegistryBatch.registry_name == registry,
            RegistryBatch.fingerprint == fingerprint,
            RegistryBatch.status.in_(done),
        )
        .order_by(RegistryBatch.id)
        .limit(1)
    ).first()


def _duplicate(db: Session, actor: Actor, registry: str, earlier: RegistryBatch) -> IngestResult:
    audit_record(
        db,
        actor=actor,
        action="registries.ingest.duplicate",
        target_type="registry_batch",
        target_id=earlier.id,
        details={"registry": registry},
    )
    return IngestResult(
        batch_id=earlier.id,
        status=earlier.status,
        duplicate_of=earlier.id,
        rows_read=earlier.rows_read,
        message=f"该批次与第 {earlier.id} 批完全相同，已入库，本次未做任何更改",
    )


def ingest(
    db: Session,
    *,
    actor: Actor,
    registry: Registry | str,
    source: str,
    path: Path | str | None = None,
    sql_url: str | None = None,
    sql_query: str | None = None,
    mode: Mode = "atomic",
    error_dir: Path,
    progress: Progress | None = None,
    today: dt.date | None = None,
    chunk_size: int = CHUNK,
) -> IngestResult:
    """Ingest one delivery (a file at ``path``, or ``sql_query`` against ``sql_url``) as one batch.

    ``source`` is the delivering department's code; the actor must be a platform administrator or a
    data administrator of that department. ``mode`` is ``"atomic"`` (all or nothing) or ``"partial"``.
    Malformed files never raise: the result says ``rejected`` with the reason, and the batch is recorded.
    """
    registry = Registry(registry)
    spec = SPECS[registry]
    check_mode(mode)
    department = _department(db, source)
    require_department_admin(actor, department.id)
    today = today or dt.date.today()
    hasher = Sm3Hasher()
    scan: filescan.FileScan | None = None
    if path is not None:
        file_path = delivery_file(path)
        file_format = readers.format_of(file_path)
        if _first_load_ahead(db, registry, file_format):
            # The fingerprint and the CSV syntax check run beside the load (see filescan): a delivery
            # applied before is then found at the end, and everything done meanwhile rolled back.
            fingerprint = ""
            scan = filescan.FileScan(file_path, source).start()
        else:
            fingerprint = readers.fingerprint_file(file_path, source)
            earlier = _previous_batch(db, registry.value, fingerprint)
            if earlier is not None:
                return _duplicate(db, actor, registry.value, earlier)
        file_name = file_path.name
    elif sql_url and sql_query:
        file_format, fingerprint, file_name = "sql", "", sql_query[:500]
        hasher.update(sql_query.encode() + b"\x00source=" + source.encode())
    else:
        raise ValidationError(
            "请提供文件，或数据库地址与查询语句",
            message_en="give a file or a SQL URL and query",
            code="registries.source.missing",
            field="path",
        )

    batch = RegistryBatch(
        registry_name=registry.value,
        source_department=source,
        file_name=file_name,
        file_format=file_format,
        fingerprint=fingerprint or "pending",
        mode=mode,
        status=BatchStatus.RUNNING.value,
        actor_username=actor.username,
        started_at=utcnow(),
    )
    db.add(batch)
    db.flush()
    errors = BatchErrors()
    result = IngestResult(batch_id=batch.id, status=BatchStatus.RUNNING.value)
    stage = Stage(db, registry, spec, batch.id)
    syntax = None if scan is None else scan.syntax

    def repeat_check() -> None:
        # Run by the first load before its savepoint is released: a repeat undoes the load.
        if (earlier := _late_repeat(db, registry, batch, hasher, scan)) is not None:
            raise _Repeat(earlier)

    try:
        try:
            delivery = _open(file_format, path, sql_url, sql_query, hasher)
            result.notes = delivery.notes
            direct = None
            if firstload.eligible(db, registry, delivery):
                direct = firstload.first_load(
                    db,
                    delivery=delivery,
                    columns=map_header(delivery.columns, spec),
                    batch=batch,
                    errors=errors,
                    atomic=mode == "atomic",
                    today=today,
                    progress=progress,
                    syntax=syntax,
                    finish=None if scan is None else repeat_check,
                )
            if direct is not None:
                # Straight into the empty registry (zhengwu.registries.firstload): checked and applied.
                result.rows_read, result.inserted = direct
            else:
                result.rows_read = _read(
                    registry, spec, delivery, stage, errors, today, progress, chunk_size, syntax
                )
        except _Repeat as repeat:
            return _drop_repeat(db, actor, registry, batch, repeat.earlier)
        except ValidationError as exc:
            if scan is not None and (earlier := _late_repeat(db, registry, batch, hasher, scan)):
                return _drop_repeat(db, actor, registry, batch, earlier)
            return batch_finish(
                db, actor, batch, result, errors, error_dir, BatchStatus.REJECTED, exc.message
            )
        if direct is None and (file_format == "sql" or scan is not None):
            earlier = _late_repeat(db, registry, batch, hasher, scan)
            if earlier is not None:
                return _drop_repeat(db, actor, registry, batch, earlier)
        if direct is None:
            _set_checks(registry, stage, errors)
        if errors.all and mode == "atomic":
            message = (
                f"{len(errors.bad_rows)} 行有错误，按“全部或全不”方式整批拒绝，未写入任何数据；"
                "请修正后重新提交，或选择部分入库"
            )
            return batch_finish(db, actor, batch, result, errors, error_dir, BatchStatus.REJECTED, message)
        if direct is None:
            result.inserted, result.updated, result.unchanged = _apply(registry, stage, batch)
    finally:
        stage.drop()
        if scan is not None:
            scan.cancel()
    status = BatchStatus.PARTIAL if errors.all else BatchStatus.APPLIED
    message = f"新增 {result.inserted} 条，更新 {result.updated} 条，未变化 {result.unchanged} 条" + (
        f"；{len(errors.bad_rows)} 行有错误未入库，见错误文件" if errors.all else ""
    )
    return batch_finish(db, actor, batch, result, errors, error_dir, status, message)


class _Repeat(Exception):
    """The delivery turned out to be one applied before (its fingerprint was computed late)."""

    def __init__(self, earlier: RegistryBatch) -> None:
        super().__init__(earlier.id)
        self.earlier = earlier


def _first_load_ahead(db: Session, registry: Registry, file_format: str) -> bool:
    """A person CSV into the empty population registry on PostgreSQL: the first load will likely
    take it (:func:`firstload.eligible`), so its fingerprint is computed beside the load."""
    return (
        db.get_bind().dialect.name == "postgresql"
        and registry is Registry.POPULATION
        and file_format == "csv"
        and _empty(db, TABLES[registry][0])
    )


def _late_repeat(
    db: Session, registry: Registry, batch: RegistryBatch, hasher: Sm3Hasher, scan: filescan.FileScan | None
) -> RegistryBatch | None:
    """Set the batch's fingerprint known only now (a query's rows, a file scanned beside the load) and
    return the applied batch with the same one, if any."""
    fingerprint = hasher.hexdigest() if scan is None else scan.fingerprint()
    earlier = _previous_batch(db, registry.value, fingerprint)
    batch.fingerprint = fingerprint
    return earlier


def _drop_repeat(
    db: Session, actor: Actor, registry: Registry, batch: RegistryBatch, earlier: RegistryBatch
) -> IngestResult:
    """A repeated delivery found late: its batch row goes, as if the repeat had been seen at the start."""
    db.delete(batch)
    db.flush()
    return _duplicate(db, actor, registry.value, earlier)


def _open(
    file_format: str, path: Path | str | None, sql_url: str | None, sql_query: str | None, hasher: Sm3Hasher
) -> readers.Delivery:
    if file_format == "sql":
        assert sql_url is not None and sql_query is not None  # checked by ingest()
        return readers.read_sql(sql_url, sql_query, hasher)
    assert path is not None
    opener = {"csv": readers.read_csv, "xlsx": readers.read_xlsx, "parquet": readers.read_parquet}
    return opener[file_format](Path(path))


def batch_finish(
    db: Session,
    actor: Actor,
    batch: RegistryBatch,
    result: IngestResult,
    errors: BatchErrors,
    error_dir: Path,
    status: BatchStatus,
    message: str,
    *,
    audit_action: str = "registries.ingest",
    kind_key: str = "registry",
) -> IngestResult:
    """Close a batch of any registry: error file, counts on the batch and the result, one audit event."""
    if errors.all:
        target = error_dir / f"{batch.registry_name}-batch-{batch.id}-errors.csv"
        errors.write(target)
        batch.error_file = str(target)
        result.error_file = str(target)
    result.status = batch.status = status.value
    result.message = batch.message = message
    result.rows_invalid = batch.rows_invalid = len(errors.bad_rows)
    result.errors = errors.all[:ERRORS_SHOWN]
    result.error_count = len(errors.all)
    batch.rows_read = result.rows_read
    batch.rows_inserted, batch.rows_updated, batch.rows_unchanged = (
        result.inserted,
        result.updated,
        result.unchanged,
    )
    batch.finished_at = utcnow()
    db.flush()
    audit_record(
        db,
        actor=actor,
        action=audit_action,
        target_type="registry_batch",
        target_id=batch.id,
        outcome="success" if status is not BatchStatus.REJECTED else "failure",
        details={
            kind_key: batch.registry_name,
            "source": batch.source_department,
            "status": status.value,
            "rows_read": result.rows_read,
            "rows_invalid": result.rows_invalid,
            "inserted": result.inserted,
            "updated": result.updated,
        },
    )
    return result
