"""信息资源代码: ``{类-项-目-细目}-{provider code}-{sequence}``, unique, stable and never reused.

The guideline builds a code from a 前段码 (the classification 类-项-目-细目) and a 后段码 (a sequence
number). Sequences are kept per prefix (classification + provider) so that two departments filing under
the same classification never collide, and every code names its provider. The code is assigned once at
creation and never changes, even if the entry is later re-classified, because consumers, grants and
exchange logs refer to it.

The counter is advanced with one atomic ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` statement, so two
transactions creating entries at the same time on PostgreSQL serialise on the counter's row (the second
waits for the first to commit and then reads its value); SQLite has a single writer anyway. Counters only
grow: a number handed out by a committed transaction is never handed out again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from zhengwu.catalog.models import ResourceSequence


def code_prefix(classification: str, provider_code: str) -> str:
    """The part of a code before the sequence number."""
    return f"{classification}-{provider_code}"


def format_code(prefix: str, sequence: int) -> str:
    """A full resource code; five digits of sequence, more when a prefix passes 99 999 entries."""
    return f"{prefix}-{sequence:05d}"


def _upsert(dialect: str) -> Any:
    table = ResourceSequence.__table__
    assert isinstance(table, Table)
    values: dict[str, Any] = {"prefix": bindparam("prefix"), "last_value": bindparam("count")}
    if dialect == "postgresql":
        pg_stmt = pg_insert(table).values(values)
        return pg_stmt.on_conflict_do_update(
            index_elements=[table.c.prefix],
            set_={"last_value": table.c.last_value + pg_stmt.excluded.last_value},
        ).returning(table.c.last_value)
    if dialect == "sqlite":
        lite_stmt = sqlite_insert(table).values(values)
        return lite_stmt.on_conflict_do_update(
            index_elements=[table.c.prefix],
            set_={"last_value": table.c.last_value + lite_stmt.excluded.last_value},
        ).returning(table.c.last_value)
    raise RuntimeError(f"unsupported database dialect {dialect}")  # pragma: no cover - two backends only


_STATEMENTS: dict[str, Any] = {}


def next_sequence(db: Session, prefix: str, *, count: int = 1) -> int:
    """Advance the counter of ``prefix`` by ``count`` and return its new value, safely under concurrency.

    The numbers ``value - count + 1 … value`` belong to the caller (``count`` > 1 for bulk loads).
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    dialect = db.get_bind().dialect.name
    stmt = _STATEMENTS.get(dialect)
    if stmt is None:
        stmt = _STATEMENTS[dialect] = _upsert(dialect)
    value = db.execute(stmt, {"prefix": prefix, "count": count}).scalar_one()
    # The ORM may hold a stale copy of the counter row; the statement above is the truth.
    for obj in list(db.identity_map.values()):
        if isinstance(obj, ResourceSequence) and obj.prefix == prefix:
            db.expire(obj)
    return int(value)


def next_sequences(db: Session, counts: dict[str, int]) -> dict[str, int]:
    """Advance many counters in one statement (bulk loads); returns each prefix's new last value."""
    if not counts:
        return {}
    if min(counts.values()) < 1:
        raise ValueError("counts must be at least 1")
    table = ResourceSequence.__table__
    assert isinstance(table, Table)
    rows = [{"prefix": p, "last_value": n} for p, n in sorted(counts.items())]
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        pg_stmt = pg_insert(table).values(rows)
        stmt: Any = pg_stmt.on_conflict_do_update(
            index_elements=[table.c.prefix],
            set_={"last_value": table.c.last_value + pg_stmt.excluded.last_value},
        )
    else:
        lite_stmt = sqlite_insert(table).values(rows)
        stmt = lite_stmt.on_conflict_do_update(
            index_elements=[table.c.prefix],
            set_={"last_value": table.c.last_value + lite_stmt.excluded.last_value},
        )
    result = db.execute(stmt.returning(table.c.prefix, table.c.last_value)).tuples()
    return {str(prefix): int(value) for prefix, value in result}


def current_sequence(db: Session, prefix: str) -> int:
    """The last number handed out for ``prefix`` (0 if none)."""
    value = db.scalar(select(ResourceSequence.last_value).where(ResourceSequence.prefix == prefix))
    return int(value or 0)
