# ruff: noqa: S608 - only quoted identifiers (checked field names, generated table names) go into SQL text.
"""Loading a table: inspect every value (types, problems), then write it in bulk into a new table.

Two passes over the file. The first reads everything, infers the column types and collects every
problem (a malformed file is refused before any table exists, with row, column and reason). The second
converts and writes: PostgreSQL through ``COPY ... FROM STDIN`` (psycopg), SQLite through
``executemany`` in chunks, both inside the caller's transaction so the new table appears atomically
with its metadata (see :func:`zhengwu.opendata.datastore.services.datastore_create`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection

from zhengwu.opendata.datastore.inference import ColumnGuess, canonical_type, convert
from zhengwu.opendata.datastore.readers import MAX_ERRORS, Problem, Source, file_error

Progress = Callable[[str, int, int], None]
"""``progress(phase, rows_done, rows_total)``; phase is ``inspect``, ``load`` or ``index``."""

PROGRESS_EVERY: Final = 50_000
_SQLITE_CHUNK: Final = 10_000
PG_TYPES: Final = {
    "int": "BIGINT",
    "numeric": "NUMERIC",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "text": "TEXT",
}
# SQLite keeps dates as ISO text; the declared names give readers of the schema the intended type.
SQLITE_TYPES: Final = {
    "int": "INTEGER",
    "numeric": "NUMERIC",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "text": "TEXT",
}


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier (names were checked to hold no quote or control character)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Inspection:
    """What the first pass found: the fields with their types and the number of data rows."""

    source: Source
    fields: list[dict[str, str]]
    row_count: int


def inspect_source(
    source: Source, *, types: dict[str, str] | None = None, progress: Progress | None = None
) -> Inspection:
    """Read every row: infer types, check declared ones; raise one report of every problem found."""
    header = source.header
    declared: dict[int, str] = {}
    problems: list[Problem] = []
    for name, kind in (types or {}).items():
        canonical = canonical_type(kind)
        if name not in header:
            problems.append(Problem(None, name, "声明类型的字段不在表头中"))
        elif canonical is None:
            problems.append(
                Problem(None, name, f"未知类型 {kind}（可用 int、numeric、date、timestamp、text）")
            )
        else:
            declared[header.index(name)] = canonical
    if problems:
        raise file_error("字段类型声明有误", "bad field type declarations", code="types", problems=problems)
    guesses = [ColumnGuess(name) for name in header]
    open_columns = [i for i in range(len(header)) if i not in declared]
    count = 0
    for number, values in source.rows():
        count += 1
        for i in open_columns:
            guesses[i].see(values[i])
        for i, kind in declared.items():
            try:
                convert(values[i], kind)
            except ValueError as exc:
                shown = str(values[i])
                problems.append(Problem(number, header[i], f"{exc}：{shown[:40]}"))
        if len(problems) >= MAX_ERRORS:
            break
        if progress and count % PROGRESS_EVERY == 0:
            progress("inspect", count, 0)
        # A column already known to be text needs no more tests.
        if count % 1000 == 0:
            open_columns = [i for i in open_columns if _undecided(guesses[i])]
    if problems:
        raise file_error(
            f"有 {len(problems)} 处数据与声明的类型不符，未导入任何数据",
            f"{len(problems)} values do not fit their declared types; nothing loaded",
            code="values",
            problems=problems,
        )
    spreadsheet = source.file_format == "xlsx"
    fields = [
        {"id": name, "type": declared.get(i) or guesses[i].type(spreadsheet=spreadsheet)}
        for i, name in enumerate(header)
    ]
    return Inspection(source, fields, count)


def _undecided(guess: ColumnGuess) -> bool:
    return guess.could_int or guess.could_num or guess.could_date or guess.could_ts or guess.could_serial


def _slow(kind: str, as_text_dates: bool) -> Callable[[Any], Any]:
    def conv(value: Any) -> Any:
        converted = convert(value, kind)
        if as_text_dates and converted is not None:
            # SQLite has no date type: ISO text sorts and compares correctly.
            if isinstance(converted, dt.date):
                return converted.isoformat()
            if isinstance(converted, Decimal):
                return float(converted)
        return converted

    return conv


def converter(kind: str, as_text_dates: bool) -> Callable[[Any], Any]:
    """A fast converter for one column: the plain ISO/ASCII case directly, anything else via ``convert``.

    Safe because the first pass already proved every value of the column converts: the fast path only
    has to agree with :func:`convert` where it succeeds.
    """
    slow = _slow(kind, as_text_dates)
    if kind == "text":
        return lambda v: v if v is None or isinstance(v, str) else slow(v)
    fast: Callable[[str], Any]
    if kind == "int":
        fast = int
    elif kind == "numeric":
        fast = float if as_text_dates else Decimal
    elif kind == "date":
        fast = dt.date.fromisoformat
        if as_text_dates:
            return lambda v: (
                v if isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-" else slow(v)
            )
    else:

        def fast(v: str) -> Any:
            stamp = dt.datetime.fromisoformat(v)
            if stamp.tzinfo is not None:
                raise ValueError(v)
            return stamp.isoformat() if as_text_dates else stamp

    def conv(value: Any) -> Any:
        if type(value) is str and value.isascii() and value == value.strip() and value:
            try:
                return fast(value)
            except ValueError:
                pass
        return slow(value)

    return conv


def _converted_rows(inspection: Inspection, *, as_text_dates: bool) -> Iterator[tuple[Any, ...]]:
    converters = [converter(f["type"], as_text_dates) for f in inspection.fields]
    for row_id, (_, values) in enumerate(inspection.source.rows(), start=1):
        yield (row_id, *[c(v) for c, v in zip(converters, values, strict=True)])


def execute_ddl(conn: Connection, sql: str) -> None:
    """Run one statement on the driver's own cursor, without parameters.

    Not ``exec_driver_sql``: with psycopg that still parses ``%`` as a placeholder, and field names
    from files may contain one (``增长率%``).
    """
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur:
            cur.execute(sql)
    else:
        raw.execute(sql)


def create_table(conn: Connection, table: str, fields: list[dict[str, str]], *, primary_key: bool) -> None:
    """``CREATE TABLE`` for ``fields`` plus CKAN's ``_id`` row number."""
    sqlite = conn.dialect.name == "sqlite"
    types = SQLITE_TYPES if sqlite else PG_TYPES
    id_column = '"_id" INTEGER PRIMARY KEY' if sqlite else '"_id" BIGINT NOT NULL'
    if primary_key and not sqlite:
        id_column += " PRIMARY KEY"
    columns = ", ".join(f"{quote_ident(f['id'])} {types[f['type']]}" for f in fields)
    execute_ddl(conn, f"CREATE TABLE {quote_ident(table)} ({id_column}, {columns})")


def write_rows(conn: Connection, table: str, inspection: Inspection, progress: Progress | None = None) -> int:
    """Write every row of ``inspection`` into the (new, empty) ``table``; return the number written."""
    total = inspection.row_count
    names = ["_id", *(f["id"] for f in inspection.fields)]
    column_list = ", ".join(quote_ident(n) for n in names)
    done = 0
    if conn.dialect.name == "postgresql":
        raw: Any = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {quote_ident(table)} ({column_list}) FROM STDIN") as copy:
            for row in _converted_rows(inspection, as_text_dates=False):
                copy.write_row(row)
                done += 1
                if progress and done % PROGRESS_EVERY == 0:
                    progress("load", done, total)
        # Primary key after the bulk write: one sort instead of ten million index insertions.
        pkey = quote_ident(table + "_pkey")
        execute_ddl(conn, f"ALTER TABLE {quote_ident(table)} ADD CONSTRAINT {pkey} PRIMARY KEY (_id)")
    else:
        placeholders = ", ".join("?" for _ in names)
        sql = f"INSERT INTO {quote_ident(table)} ({column_list}) VALUES ({placeholders})"
        raw_sqlite: Any = conn.connection.driver_connection
        chunk: list[tuple[Any, ...]] = []
        for row in _converted_rows(inspection, as_text_dates=True):
            chunk.append(row)
            if len(chunk) >= _SQLITE_CHUNK:
                raw_sqlite.executemany(sql, chunk)
                done += len(chunk)
                chunk.clear()
                if progress and done % PROGRESS_EVERY == 0:
                    progress("load", done, total)
        if chunk:
            raw_sqlite.executemany(sql, chunk)
            done += len(chunk)
    if progress:
        progress("load", done, total)
    return done


def create_indexes(
    conn: Connection, table: str, columns: list[str], progress: Progress | None = None
) -> None:
    """One B-tree index per filter column, then fresh planner statistics.

    Each index is ``(column, _id)``: a filtered page in ``_id`` order (the default sort) is read from
    the index in order, 100 rows and no sort, and the capped count can be an index-only scan once
    autovacuum has set the visibility map, however many rows match.
    """
    for n, column in enumerate(columns, start=1):
        name, target = quote_ident(f"{table}_i{n}"), quote_ident(table)
        execute_ddl(conn, f'CREATE INDEX {name} ON {target} ({quote_ident(column)}, "_id")')
        if progress:
            progress("index", n, len(columns))
    execute_ddl(conn, f"ANALYZE {quote_ident(table)}")


def drop_table(conn: Connection, table: str) -> None:
    execute_ddl(conn, f"DROP TABLE IF EXISTS {quote_ident(table)}")
