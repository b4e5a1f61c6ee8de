"""The staging table of one ingestion batch (:mod:`zhengwu.registries.ingest`) and how rows get into it.

On PostgreSQL an ``UNLOGGED`` table of this batch filled by ``COPY`` (no WAL, shared buffers), on SQLite
a temporary table filled by ``executemany``. Table and column names come from this package only.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import text
from sqlalchemy.orm import Session

from zhengwu.registries.firstload import MAINTENANCE_WORK_MEM
from zhengwu.registries.models import Registry
from zhengwu.registries.validation import Spec

#: Memory of one ingestion's sorts and index builds on PostgreSQL (``SET LOCAL``, this transaction only).
WORK_MEM: Final = "128MB"
_STAGE_TYPES: Final = {
    "birth_date": "DATE",
    "status_date": "DATE",
    "established_date": "DATE",
    "registered_capital": "BIGINT",
    "business_scope": "TEXT",
}


class Stage:
    """The temporary staging table of one batch and how rows get into it on each backend."""

    def __init__(self, db: Session, registry: Registry, spec: Spec, batch_id: int) -> None:
        self.db = db
        self.spec = spec
        self.columns = ("row_no", *spec.staged)
        self.postgres = db.get_bind().dialect.name == "postgresql"
        types = [f"{c} {_STAGE_TYPES.get(c, 'VARCHAR(4000)')}" for c in spec.staged]
        columns = f"(row_no BIGINT, {', '.join(types)}, existed INTEGER DEFAULT 0)"
        if self.postgres:
            # Unlogged: no WAL for rows that live one transaction; a regular table, so it sits in shared
            # buffers (a temporary table gets 8 MB of backend-local buffers and spills). One per batch:
            # the name carries the batch id, so concurrent batches never meet.
            self.name = f"zw_stage_{registry.value}_{batch_id}"
            db.execute(text(f"CREATE UNLOGGED TABLE {self.name} {columns}"))
            # Sorts, hashes and index builds of a million rows fit in memory instead of spilling to disk.
            db.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
            db.execute(text(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'"))
        else:
            self.name = f"tmp_zw_stage_{registry.value}"
            db.execute(text(f"DROP TABLE IF EXISTS {self.name}"))
            db.execute(text(f"CREATE TEMPORARY TABLE {self.name} {columns}"))

    def load(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        raw = self.db.connection().connection.driver_connection
        assert raw is not None  # a live session always has a DBAPI connection
        if self.postgres:
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY {self.name} ({', '.join(self.columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            # SQLAlchemy's SQLite Date type stores ISO text; the staging rows must match it.
            iso = [tuple(v.isoformat() if isinstance(v, dt.date) else v for v in row) for row in rows]
            marks = ", ".join("?" * len(self.columns))
            raw.executemany(f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES ({marks})", iso)  # noqa: S608

    def load_arrow(self, columns: list[pa.Array]) -> None:
        """Stage columns in :attr:`columns` order: PostgreSQL copies Arrow's CSV, SQLite inserts rows."""
        batch = pa.RecordBatch.from_arrays(columns, names=list(self.columns))
        if not self.postgres:
            self.load([tuple(r.values()) for r in batch.to_pylist()])
            return
        buffer = io.BytesIO()
        # Arrow writes null unquoted and "" quoted, which is exactly how COPY's CSV format tells them apart.
        pacsv.write_csv(batch, buffer, write_options=pacsv.WriteOptions(include_header=False))
        raw = self.db.connection().connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {self.name} ({', '.join(self.columns)}) FROM STDIN (FORMAT csv)") as copy,
        ):
            copy.write(buffer.getvalue())

    @contextmanager
    def arrow_copy(self) -> Iterator[Callable[[list[pa.Array]], None]]:
        """One ``COPY`` for many column chunks (PostgreSQL), fed through a writer thread.

        ``write(columns)`` renders a chunk as CSV and queues it: a psycopg ``QueuedLibpqWriter`` thread
        sends it while the caller validates the next chunk, so validation in this process overlaps
        PostgreSQL's parsing and storing in its own (at most 128 MB queued). On SQLite, rows are inserted.
        """
        if not self.postgres:
            yield self.load_arrow
            return
        raw = self.db.connection().connection.driver_connection
        assert raw is not None
        names = list(self.columns)
        options = pacsv.WriteOptions(include_header=False)
        sql = f"COPY {self.name} ({', '.join(names)}) FROM STDIN (FORMAT csv)"
        # A caller's exception aborts the COPY, and with it the transaction: the savepoint keeps the
        # batch's transaction usable (the caller then falls back to the row reader).
        raw.execute("SAVEPOINT zw_stage_copy")
        try:
            with raw.cursor() as cursor, cursor.copy(sql, writer=QueuedLibpqWriter(cursor)) as copy:

                def write(columns: list[pa.Array]) -> None:
                    buffer = io.BytesIO()
                    # Arrow writes null unquoted and "" quoted, as COPY's CSV format tells them apart.
                    batch = pa.RecordBatch.from_arrays(columns, names=names)
                    pacsv.write_csv(batch, buffer, write_options=options)
                    copy.write(buffer.getbuffer())

                yield write
        except BaseException:
            raw.execute("ROLLBACK TO SAVEPOINT zw_stage_copy")
            raise
        raw.execute("RELEASE SAVEPOINT zw_stage_copy")

    def clear(self) -> None:
        self.db.execute(text(f"DELETE FROM {self.name}"))  # noqa: S608

    def drop(self) -> None:
        self.db.execute(text(f"DROP TABLE IF EXISTS {self.name}"))
