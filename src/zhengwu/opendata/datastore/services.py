"""Use cases of the datastore, in CKAN's shapes: create (load), delete, info, search, search_sql.

The CKAN action layer calls these with the parsed parameters and wraps the returned dicts in its
envelope; errors are :mod:`zhengwu.errors` classes whose ``field`` names the CKAN parameter.

Who may do what: loading and deleting need a platform or data administrator; reading an open table
needs nobody; a table not (yet) open is visible to administrators only, and to others it does not
exist (NotFound, so its existence is not disclosed).
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any, Final

import psycopg
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotFound, ValidationError
from zhengwu.opendata.datastore import loader
from zhengwu.opendata.datastore.models import DatastoreTable
from zhengwu.opendata.datastore.query import (
    ROWS_MAX,
    SearchParams,
    build_search,
    jsonable,
    run_search,
)
from zhengwu.opendata.datastore.readers import Source, file_sha256, open_records, open_source
from zhengwu.opendata.datastore.schemas import DatastoreField, DatastoreTableOut
from zhengwu.opendata.datastore.sqlguard import ALLOWED_FUNCTIONS, check_sql

ADMIN_ROLES: Final = (Role.PLATFORM_ADMIN, Role.DATA_ADMIN)
RESOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
SQL_TIMEOUT_MS: Final = 5_000
# Functions SQLite must never run for a caller even if the parser let them through.
_SQLITE_DENIED_FUNCTIONS: Final = frozenset(
    {"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"}
)
_PG_TYPES: Final = {20: "int", 21: "int", 23: "int", 1700: "numeric", 700: "numeric", 701: "numeric",
                    1082: "date", 1114: "timestamp", 1184: "timestamp"}  # fmt: skip


def _check_resource_id(resource_id: str) -> None:
    if not isinstance(resource_id, str) or not RESOURCE_ID.fullmatch(resource_id):
        raise ValidationError(
            "resource_id 格式无效",
            message_en="resource_id must be 1-100 letters, digits, '-', '_' or '.'",
            code="datastore.resource_id",
            field="resource_id",
        )


def _not_found(resource_id: str) -> NotFound:
    return NotFound(
        f"数据表 {resource_id} 不存在",
        message_en=f"resource {resource_id} has no datastore table",
        code="datastore.not_found",
        field="resource_id",
    )


def _readable(db: Session, actor: Actor, resource_id: str) -> DatastoreTable:
    """The table of ``resource_id`` if ``actor`` may read it; NotFound otherwise."""
    _check_resource_id(resource_id)
    row = db.scalar(select(DatastoreTable).where(DatastoreTable.resource_id == resource_id))
    if row is None or not (row.is_open or actor.has(*ADMIN_ROLES)):
        raise _not_found(resource_id)
    return row


def _out(row: DatastoreTable, notes: list[str] | None = None) -> DatastoreTableOut:
    return DatastoreTableOut(
        resource_id=row.resource_id,
        fields=[DatastoreField(id=f["id"], type=f["type"]) for f in row.fields],
        indexes=list(row.indexes),
        row_count=row.row_count,
        is_open=row.is_open,
        source_format=row.source_format,
        source_encoding=row.source_encoding,
        source_sha256=row.source_sha256,
        source_size=row.source_size,
        loaded_by=row.loaded_by,
        loaded_at=row.loaded_at,
        notes=notes or [],
    )


def datastore_create(
    db: Session,
    *,
    actor: Actor,
    resource_id: str,
    path: Path | None = None,
    records: list[dict[str, Any]] | None = None,
    file_format: str | None = None,
    types: dict[str, str] | None = None,
    indexes: list[str] | None = None,
    is_open: bool = False,
    progress: loader.Progress | None = None,
) -> DatastoreTableOut:
    """Load a file (``path``) or inline ``records`` as the table of ``resource_id``, replacing the old one.

    The whole file is checked first (a malformed one raises ValidationError with every problem found,
    and nothing changes); then rows go into a new ``ds_<hex>`` table, the filter ``indexes`` are built,
    and the metadata is switched to the new table and the old one dropped, in one savepoint: readers
    see the old table or the new one, never a half-loaded one. ``types`` overrides inferred field
    types (``{"field": "date"}``); ``progress(phase, done, total)`` is called during long loads.
    """
    require_roles(actor, *ADMIN_ROLES)
    _check_resource_id(resource_id)
    if (path is None) == (records is None):
        raise ValidationError(
            "需要提供文件或 records 之一",
            message_en="give exactly one of a file or records",
            code="datastore.source",
            field="records",
        )
    source: Source
    if path is not None:
        source = open_source(path, file_format)
        sha256, size = file_sha256(path)
    else:
        source = open_records(records or [])
        sha256, size = "", 0
    inspection = loader.inspect_source(source, types=types, progress=progress)
    wanted = list(dict.fromkeys(indexes or []))
    unknown = [name for name in wanted if name not in source.header]
    if unknown:
        raise ValidationError(
            f"索引字段不存在：{'、'.join(unknown)}",
            message_en=f"unknown index fields: {', '.join(unknown)}",
            code="datastore.indexes",
            field="indexes",
        )
    table = "ds_" + uuid.uuid4().hex
    try:
        with db.begin_nested():
            conn = db.connection()
            loader.create_table(conn, table, inspection.fields, primary_key=False)
            count = loader.write_rows(conn, table, inspection, progress)
            loader.create_indexes(conn, table, wanted, progress)
            # Read (and on PostgreSQL lock) the current row only now: a concurrent load of the same
            # resource waits here, then replaces the table the other one installed, orphaning none.
            existing = db.scalar(
                select(DatastoreTable).where(DatastoreTable.resource_id == resource_id).with_for_update()
            )
            old_table = existing.table_name if existing is not None else None
            row = existing if existing is not None else DatastoreTable(resource_id=resource_id)
            if existing is None:
                db.add(row)
            row.table_name = table
            row.fields = inspection.fields
            row.indexes = wanted
            row.row_count = count
            row.is_open = is_open
            row.source_format = source.file_format
            row.source_encoding = source.encoding
            row.source_sha256 = sha256
            row.source_size = size
            row.loaded_by = actor.username
            row.loaded_at = utcnow()
            db.flush()
            if old_table is not None:
                loader.drop_table(conn, old_table)
    except (IntegrityError, OperationalError, sqlite3.OperationalError) as exc:
        # Unique resource_id taken by a concurrent first load, or SQLite's writer lock held by one.
        if not isinstance(exc, IntegrityError) and "locked" not in str(exc):
            raise
        raise Conflict(
            "同一资源正在被另一次导入更新，请稍后重试",
            message_en="another load of this resource is in progress; retry",
            code="datastore.concurrent_load",
            field="resource_id",
        ) from exc
    audit_record(
        db,
        actor=actor,
        action="datastore.create",
        target_type="datastore_table",
        target_id=resource_id,
        details={
            "rows": count,
            "format": source.file_format,
            "sha256": sha256,
            "replaced": old_table is not None,
        },
    )
    return _out(row, source.notes)


def datastore_set_open(db: Session, *, actor: Actor, resource_id: str, is_open: bool) -> DatastoreTableOut:
    """Open a table to the public (when its dataset is published) or close it again."""
    require_roles(actor, *ADMIN_ROLES)
    row = _readable(db, actor, resource_id)
    row.is_open = is_open
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="datastore.open" if is_open else "datastore.close",
        target_type="datastore_table",
        target_id=resource_id,
    )
    return _out(row)


def datastore_delete(db: Session, *, actor: Actor, resource_id: str) -> None:
    """Drop the table of ``resource_id`` and its metadata (CKAN ``datastore_delete`` without filters)."""
    require_roles(actor, *ADMIN_ROLES)
    row = _readable(db, actor, resource_id)
    loader.drop_table(db.connection(), row.table_name)
    db.delete(row)
    db.flush()
    audit_record(
        db, actor=actor, action="datastore.delete", target_type="datastore_table", target_id=resource_id
    )


def datastore_table(db: Session, *, actor: Actor, resource_id: str) -> DatastoreTableOut:
    """The metadata of one table (for pages and the portal's resource view)."""
    return _out(_readable(db, actor, resource_id))


def datastore_source(db: Session, *, actor: Actor, resource_id: str) -> tuple[DatastoreTableOut, str]:
    """The metadata and the physical table name of a readable table (for streamed downloads)."""
    row = _readable(db, actor, resource_id)
    return _out(row), row.table_name


def datastore_info(db: Session, *, actor: Actor, resource_id: str) -> dict[str, Any]:
    """CKAN ``datastore_info``: ``{"meta": {...}, "fields": [{"id", "type", "schema"}]}``."""
    row = _readable(db, actor, resource_id)
    return {
        "meta": {
            "id": row.resource_id,
            "count": row.row_count,
            "table_type": "BASE TABLE",
            "is_open": row.is_open,
            "source_format": row.source_format,
            "source_sha256": row.source_sha256,
            "loaded_at": row.loaded_at.isoformat(),
        },
        "fields": [
            {
                "id": f["id"],
                "type": f["type"],
                "schema": {"native_type": f["type"], "is_index": f["id"] in row.indexes},
            }
            for f in row.fields
        ],
    }


def datastore_search(
    db: Session,
    *,
    actor: Actor,
    resource_id: str,
    filters: dict[str, Any] | None = None,
    q: str | dict[str, str] | None = None,
    fields: list[str] | str | None = None,
    sort: list[str] | str | None = None,
    limit: int = 100,
    offset: int = 0,
    include_total: bool = True,
    distinct: bool = False,
) -> dict[str, Any]:
    """CKAN ``datastore_search``: records of an open table, filtered, searched, sorted and paged.

    ``filters`` maps a field to a value or a list of values (any of them); ``q`` is a text searched
    in every text field, or a ``{field: text}`` dict; ``fields`` and ``sort`` are lists or CKAN's
    comma-separated strings (``"a desc, b"``). Returns ``resource_id``, ``fields``, ``records``,
    ``total`` (with ``total_was_estimated``), ``limit``, ``offset`` and ``_links``.
    """
    row = _readable(db, actor, resource_id)
    params = SearchParams.parse(
        row.fields,
        filters=filters,
        q=q,
        fields=fields,
        sort=sort,
        limit=limit,
        offset=offset,
        distinct=distinct,
        backend=db.get_bind().dialect.name,
    )
    query = build_search(row.table_name, params)
    records, total, estimated = run_search(
        db, query, params, include_total=include_total, row_count=row.row_count
    )
    result: dict[str, Any] = {
        "resource_id": resource_id,
        "fields": [{"id": f["id"], "type": f["type"]} for f in params.selected],
        "records": records,
        "limit": params.limit,
        "offset": params.offset,
        "_links": _links(resource_id, params),
    }
    if params.filters:
        result["filters"] = filters
    if q:
        result["q"] = q
    if params.sort_text:
        result["sort"] = params.sort_text
    if include_total:
        result["total"] = total
        result["total_was_estimated"] = estimated
    return result


def _links(resource_id: str, params: SearchParams) -> dict[str, str]:
    base = f"/api/3/action/datastore_search?resource_id={resource_id}"
    extra = "" if params.limit == 100 else f"&limit={params.limit}"
    return {"start": base + extra, "next": f"{base}{extra}&offset={params.offset + params.limit}"}


def datastore_search_sql(
    db: Session, *, actor: Actor, sql: str, timeout_ms: int = SQL_TIMEOUT_MS, rows_max: int = ROWS_MAX
) -> dict[str, Any]:
    """CKAN ``datastore_search_sql``: one read-only, time-limited SELECT over open tables.

    Tables are named by their ``resource_id`` (``SELECT * FROM "<resource id>"``). The query is
    checked by :mod:`~zhengwu.opendata.datastore.sqlguard`, then run in a savepoint that is always
    rolled back, read-only and under a statement timeout (PostgreSQL) or under an authorizer and a
    deadline (SQLite). At most ``rows_max`` records come back (``records_truncated`` says so).
    """
    backend = db.get_bind().dialect.name
    tables: dict[str, str] = {}

    def resolve(resource_id: str) -> str | None:
        if resource_id not in tables:
            row = db.scalar(select(DatastoreTable).where(DatastoreTable.resource_id == resource_id))
            # Only open tables, even for administrators: the public SQL surface is the same for all.
            if row is None or not row.is_open:
                return None
            tables[resource_id] = row.table_name
        return tables[resource_id]

    checked = check_sql(sql, dialect="postgres" if backend == "postgresql" else "sqlite", resolve=resolve)
    allowed = {tables[r] for r in checked.resource_ids} | set(checked.cte_names)
    savepoint = db.begin_nested()
    raw: Any = db.connection().connection.driver_connection
    try:
        if backend == "postgresql":
            columns, types, rows = _run_pg(raw, checked.sql, timeout_ms, rows_max)
        else:
            columns, types, rows = _run_sqlite(raw, checked.sql, allowed, timeout_ms, rows_max)
    finally:
        savepoint.rollback()
    truncated = len(rows) > rows_max
    rows = rows[:rows_max]
    records = [{c: jsonable(v) for c, v in zip(columns, r, strict=True)} for r in rows]
    if types is None:
        types = [_guess_type(i, rows) for i in range(len(columns))]
    result: dict[str, Any] = {
        "sql": sql,
        "records": records,
        "fields": [{"id": c, "type": t} for c, t in zip(columns, types, strict=True)],
    }
    if truncated:
        result["records_truncated"] = True
    return result


def _sql_failed(exc: Exception, *, timeout: bool) -> ValidationError:
    if timeout:
        return ValidationError(
            "查询超时，已被终止",
            message_en="query timed out and was cancelled",
            code="datastore.sql.timeout",
            field="sql",
        )
    reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
    return ValidationError(
        f"查询无法执行：{reason}",
        message_en=f"query failed: {reason}",
        code="datastore.sql.failed",
        field="sql",
    )


def _run_pg(
    raw: Any, sql: str, timeout_ms: int, rows_max: int
) -> tuple[list[str], list[str] | None, list[Any]]:
    try:
        with raw.cursor() as cur:
            cur.execute("SET LOCAL transaction_read_only = on")
            cur.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
            cur.execute(sql)
            description = cur.description or []
            rows = cur.fetchmany(rows_max + 1)
    except psycopg.errors.QueryCanceled as exc:
        raise _sql_failed(exc, timeout=True) from exc
    except psycopg.Error as exc:
        raise _sql_failed(exc, timeout=False) from exc
    columns = [d.name for d in description]
    types = [_PG_TYPES.get(d.type_code, "text") for d in description]
    return columns, types, rows


def _run_sqlite(
    raw: sqlite3.Connection, sql: str, allowed: set[str], timeout_ms: int, rows_max: int
) -> tuple[list[str], None, list[Any]]:
    deadline = time.monotonic() + timeout_ms / 1000
    timed_out = False

    def authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _src: str | None) -> int:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            return sqlite3.SQLITE_OK if arg1 in allowed else sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            name = (arg2 or "").lower()
            ok = name not in _SQLITE_DENIED_FUNCTIONS and (
                name.upper() in ALLOWED_FUNCTIONS or _sqlite_pure(name)
            )
            return sqlite3.SQLITE_OK if ok else sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_DENY

    def over_time() -> int:
        nonlocal timed_out
        if time.monotonic() > deadline:
            timed_out = True
            return 1
        return 0

    raw.set_authorizer(authorize)
    raw.set_progress_handler(over_time, 10_000)
    try:
        cur = raw.execute(sql)
        rows = cur.fetchmany(rows_max + 1)
        columns = [d[0] for d in cur.description or []]
        cur.close()
    except sqlite3.Error as exc:
        raise _sql_failed(exc, timeout=timed_out) from exc
    finally:
        raw.set_authorizer(None)
        raw.set_progress_handler(None, 0)
    return columns, None, rows


# SQLite's own names for functions the parser allowed under a dialect-neutral name.
_SQLITE_PURE: Final = frozenset(
    {"substr", "instr", "ifnull", "iif", "julianday", "printf", "format", "total", "unicode", "char",
     "like", "glob", "strftime", "date", "datetime", "time", "group_concat", "typeof", "quote", "nullif"}
)  # fmt: skip


def _sqlite_pure(name: str) -> bool:
    return name in _SQLITE_PURE


def _guess_type(index: int, rows: list[Any]) -> str:
    for r in rows:
        value = r[index]
        if value is None:
            continue
        if isinstance(value, bool):
            return "text"
        if isinstance(value, int):
            return "int"
        if isinstance(value, float):
            return "numeric"
        return "text"
    return "text"
