"""The first load of an empty population registry on PostgreSQL: one ``COPY`` straight into the table.

The general path (:mod:`zhengwu.registries.ingest`) stages rows in an unlogged table, checks them there
and copies them into the current-state table with ``INSERT … SELECT``: every row is written twice. An
empty registry has nothing to compare with and nothing to close, so its first load from a person CSV
that the fast path (:mod:`.fastpath`) reads goes in **once**: the vouched-for rows, then the rows the
row validator accepted, ``COPY``'d into ``registry_persons`` with the batch's provenance as the
columns' defaults for the duration, its primary key and indexes dropped and built once afterwards
(:func:`bulk_indexes`), the validation of the next chunk overlapping PostgreSQL's work on the last one
(a ``QueuedLibpqWriter`` thread sends the data).

Same outcome as the general path, by construction: everything happens under a savepoint, and whenever
the general path would do something this one does not (a key repeated in the file, whose error names
both row numbers, found for free by the primary key's build; an atomic batch with invalid rows, whose
error file must list repeated keys too; a file whose CSV syntax needs the row reader) the savepoint is
rolled back and the batch takes the general path from the start: rare files, read twice. A partial
batch with invalid rows keeps its valid rows here.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, Protocol

import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Table, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhengwu.registries import fastpath, readers
from zhengwu.registries.models import Entity, Person, Registry, RegistryBatch
from zhengwu.registries.validation import PERSON_SPEC, clean

_TABLE: Final = "registry_persons"
_SAVEPOINT: Final = "zw_first_load"
#: Memory of one sort for an index build (and the staging table's sorts): the primary key of ten million
#: persons then sorts in memory instead of in temporary files (PostgreSQL's default is 64 MB).
MAINTENANCE_WORK_MEM: Final = "1GB"


class Errors(Protocol):
    """What this module needs of :class:`zhengwu.registries.ingest.BatchErrors`."""

    all: list[Any]

    def add(self, row: int, column: str, reason: str) -> None: ...

    def clear(self) -> None: ...


@contextmanager
def bulk_indexes(db: Session, registry: Registry) -> Iterator[None]:
    """Build the current table's primary key and indexes once, after the rows are in, not row by row.

    Only for an empty registry: dropping an index takes an exclusive lock on the table until the
    transaction ends, which nobody notices on a registry that has no data yet. The primary key comes
    back with the same name (a sorted build instead of one probe per row); a repeated key cannot slip
    in, the rows were checked for repeats and the table was empty. The versions table is not written by
    a first load, so its indexes stay.
    """
    table: Table = (Person if registry is Registry.POPULATION else Entity).__table__  # type: ignore[assignment]
    pk = table.primary_key
    columns = ", ".join(c.name for c in pk.columns)
    bind = db.connection()
    for index in table.indexes:
        index.drop(bind)
    db.execute(text(f"ALTER TABLE {table.name} DROP CONSTRAINT {pk.name}"))
    yield
    # The first load skips the staging table, which is where the session's sort memory was raised.
    db.execute(text(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
    # Parallel builds: PostgreSQL's default of 2 workers at least (a server set lower gets 2 for this
    # transaction only; the leader sorts too, so 3 sorts share the memory above, each still in memory
    # at 10 million persons). On 2 cores this halves the index builds (measured: ≈ 17 → 9 s at 1 M).
    db.execute(
        text(
            "SELECT set_config('max_parallel_maintenance_workers', "
            "greatest(current_setting('max_parallel_maintenance_workers')::int, 2)::text, true)"
        )
    )
    db.execute(text(f"ALTER TABLE {table.name} ADD CONSTRAINT {pk.name} PRIMARY KEY ({columns})"))
    for index in table.indexes:
        index.create(bind)


def eligible(db: Session, registry: Registry, delivery: readers.Delivery) -> bool:
    """True for a person CSV the fast path may read, into an empty registry, on PostgreSQL."""
    return (
        db.get_bind().dialect.name == "postgresql"
        and registry is Registry.POPULATION
        and delivery.file_format == "csv"
        and delivery.path is not None
        and delivery.encoding is not None
        and db.execute(text(f"SELECT 1 FROM {_TABLE} LIMIT 1")).first() is None  # noqa: S608
    )


def first_load(
    db: Session,
    *,
    delivery: readers.Delivery,
    columns: list[str],
    batch: RegistryBatch,
    errors: Errors,
    atomic: bool,
    today: dt.date,
    progress: Callable[[int], None] | None,
    syntax: Callable[[], None] | None = None,
    finish: Callable[[], None] | None = None,
) -> tuple[int, int] | None:
    """Load the batch straight into the empty registry: (rows read, rows inserted), or None when the
    batch must take the general path (nothing of this attempt is left; ``errors`` is cleared): an atomic
    batch with invalid rows, a key repeated in the file, a CSV syntax the fast path does not read.

    ``syntax`` is the CSV syntax check when another thread does it (see :func:`fastpath.read_clean`).
    ``finish`` runs once everything is in and indexed, before the savepoint is released: whatever it
    raises undoes the load and propagates (the ingestion uses it for a repeated delivery whose
    fingerprint was computed meanwhile).
    """
    assert delivery.path is not None and delivery.encoding is not None  # see eligible()
    raw = db.connection().connection.driver_connection
    assert raw is not None  # a live session always has a DBAPI connection
    raw.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        with bulk_indexes(db, Registry.POPULATION):
            # Provenance is the same for every row of the batch: column defaults, not bytes per row.
            provenance = {
                "source_department": batch.source_department,
                "valid_from": batch.started_at.isoformat(),
                "batch_id": batch.id,
            }
            raw.execute(_defaults(provenance))
            read, inserted = _copy(raw, delivery, columns, errors, today, progress, syntax)
            raw.execute(_defaults(dict.fromkeys(provenance)))
            if errors.all and atomic:
                # Rejected: the general path lists every problem, repeated keys included.
                raise _GeneralPath
            # Leaving the block builds the primary key, which refuses a key repeated in the file.
        if finish is not None:
            finish()
    except (_GeneralPath, fastpath.NotClean, IntegrityError):
        raw.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        errors.clear()
        return None
    except BaseException:
        raw.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        raise
    raw.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
    return read, inserted


class _GeneralPath(Exception):
    """Something only the general path reports properly (invalid rows of an atomic batch, repeated keys)."""


def _defaults(values: dict[str, Any]) -> sql.Composed:
    """``ALTER TABLE … ALTER COLUMN … SET DEFAULT <literal>`` (or ``DROP DEFAULT`` for None)."""
    parts = [
        sql.SQL("ALTER COLUMN {} DROP DEFAULT").format(sql.Identifier(name))
        if value is None
        else sql.SQL("ALTER COLUMN {} SET DEFAULT {}").format(sql.Identifier(name), sql.Literal(value))
        for name, value in values.items()
    ]
    return sql.SQL("ALTER TABLE {} ").format(sql.Identifier(_TABLE)) + sql.SQL(", ").join(parts)


def _copy(
    raw: Any,
    delivery: readers.Delivery,
    columns: list[str],
    errors: Errors,
    today: dt.date,
    progress: Callable[[int], None] | None,
    syntax: Callable[[], None] | None,
) -> tuple[int, int]:
    """Rows read and rows copied into the registry."""
    assert delivery.path is not None and delivery.encoding is not None
    names = list(PERSON_SPEC.staged)
    options = pacsv.WriteOptions(include_header=False)
    statement = f"COPY {_TABLE} ({', '.join(names)}) FROM STDIN"
    validate = PERSON_SPEC.validate
    checked: list[tuple[Any, ...]] = []
    read = copied = 0
    with raw.cursor() as cursor:
        with cursor.copy(statement + " (FORMAT csv)", writer=QueuedLibpqWriter(cursor)) as copy:
            for chunk in fastpath.read_clean(delivery.path, delivery.encoding, columns, today, syntax=syntax):
                buffer = io.BytesIO()
                # staged[0] is the row number, which the registry does not keep. Arrow writes null
                # unquoted and "" quoted, which is how COPY's CSV format tells them apart.
                pacsv.write_csv(
                    pa.RecordBatch.from_arrays(chunk.staged[1:], names=names), buffer, write_options=options
                )
                copy.write(buffer.getbuffer())
                copied += len(chunk.staged[0])
                for number, values in chunk.doubtful:
                    result = validate({c: clean(v) for c, v in zip(columns, values, strict=True)}, today)
                    if isinstance(result, list):
                        for column, reason in result:
                            errors.add(number, column, reason)
                    else:
                        checked.append(tuple(result))
                read += chunk.rows
                if progress is not None:
                    progress(read)
        if checked:
            with cursor.copy(statement) as copy:
                for row in checked:
                    copy.write_row(row)
    return read, copied + len(checked)
