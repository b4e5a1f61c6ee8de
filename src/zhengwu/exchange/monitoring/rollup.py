"""Rolling the message log up into the per-minute monitoring summary (``exchange_monitoring_minutes``).

A roll-up reads the log records after the watermark (``exchange_monitoring_rollup.rolled_up_to``, a
leaf index) in leaf order, adds them to their minute rows, and moves the watermark, all in one
transaction. The watermark row is locked ``FOR UPDATE`` first, so two roll-ups never count a record
twice: the second waits (or, for the lazy roll-up before a monitoring query, skips and reads what is
there). Records become visible in leaf order (the log writer reserves leaf indices under a lock held
until its commit, see :mod:`zhengwu.exchange.messagelog`), so every record at or below the watermark
is in the summary and every record above it is not: monitoring queries read the summary for leaves
``<= rolled_up_to`` and the raw records for the rest, and the result is exact whatever the lag.

Durations, outcomes and latency buckets are computed here once, for the roll-up and for the raw
records a query reads, so both give the same numbers.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.db import utcnow
from zhengwu.errors import ValidationError
from zhengwu.exchange.models import ExchangeLogRecord
from zhengwu.exchange.monitoring.models import (
    BUCKET_COLUMNS,
    BUCKETS,
    LATENCY_BOUNDS_MS,
    MonitoringMinute,
    MonitoringRollup,
)

_ROW_ID = 1
#: Records one roll-up transaction reads at most (the command loops; a monitoring query does one).
BATCH = 50_000
#: Records the lazy roll-up before a monitoring query handles at most (bounded work per page view).
LAZY_BATCH = 20_000


@dataclass(frozen=True)
class Call:
    """One log record as monitoring needs it."""

    leaf_index: int
    client_id: str
    service_id: str | None
    http_status: int
    error_type: str | None
    logged_at: dt.datetime
    duration_ms: float
    request_size: int
    response_size: int

    @property
    def is_error(self) -> bool:
        return self.http_status >= 400 or self.error_type is not None

    @property
    def is_client_error(self) -> bool:
        if self.error_type:
            return self.error_type.startswith("Client.")
        return 400 <= self.http_status < 500

    @property
    def outcome(self) -> str:
        """``""`` for a success, else the error key of the error report."""
        if not self.is_error:
            return ""
        return (self.error_type or f"HTTP {self.http_status}")[:255]


def calls_load(db: Session, *conditions: ColumnElement[bool], first: int | None = None) -> list[Call]:
    """The log records matching ``conditions`` (durations in ms, never negative); with ``first``, only
    that many in leaf order."""
    r = ExchangeLogRecord
    # PostgreSQL subtracts the timestamps itself (one float per row instead of two datetimes to
    # convert, ~2x faster); SQLite's julianday() would lose microseconds, so there Python subtracts.
    on_postgresql = db.get_bind().dialect.name == "postgresql"
    timing = (
        [(func.extract("epoch", r.finished_at - r.started_at) * 1000).label("duration_ms")]
        if on_postgresql
        else [r.started_at, r.finished_at]
    )
    query = select(
        r.leaf_index,
        r.client_id,
        r.service_id,
        r.http_status,
        r.error_type,
        r.logged_at,
        r.request_size,
        r.response_size,
        *timing,
    ).where(*conditions)
    if first is not None:
        query = query.order_by(r.leaf_index).limit(first)
    calls = []
    for row in db.execute(query):
        # UTCDateTime already returns aware UTC values.
        duration = (
            float(row.duration_ms)
            if on_postgresql
            else (row.finished_at - row.started_at).total_seconds() * 1000
        )
        calls.append(
            Call(
                int(row.leaf_index),
                row.client_id,
                row.service_id,
                row.http_status,
                row.error_type,
                row.logged_at,
                max(duration, 0.0),
                row.request_size,
                row.response_size,
            )
        )
    return calls


def bucket_of(duration_ms: float) -> int:
    """The latency bucket of a duration: the first whose upper bound is at least the duration."""
    return bisect.bisect_left(LATENCY_BOUNDS_MS, duration_ms)


@dataclass
class Agg:
    """Sums over some calls: what a summary row holds, and what monitoring adds up."""

    calls: int = 0
    errors: int = 0
    client_errors: int = 0
    request_bytes: int = 0
    response_bytes: int = 0
    latency_sum_ms: float = 0.0
    latency_max_ms: float = 0.0
    hist: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    # Every duration, while all the calls came from raw records (exact percentiles); None once a
    # summary row is merged in. The roll-up does not keep them.
    durations: list[float] | None = None

    def add_call(self, call: Call) -> None:
        if self.durations is not None:
            self.durations.append(call.duration_ms)
        self.calls += 1
        if call.is_error:
            self.errors += 1
            self.client_errors += call.is_client_error
        self.request_bytes += call.request_size
        self.response_bytes += call.response_size
        self.latency_sum_ms += call.duration_ms
        self.latency_max_ms = max(self.latency_max_ms, call.duration_ms)
        self.hist[bucket_of(call.duration_ms)] += 1

    def merge(self, other: Agg) -> None:
        if self.durations is not None and other.durations is not None:
            self.durations.extend(other.durations)
        else:
            self.durations = None
        self.calls += other.calls
        self.errors += other.errors
        self.client_errors += other.client_errors
        self.request_bytes += other.request_bytes
        self.response_bytes += other.response_bytes
        self.latency_sum_ms += other.latency_sum_ms
        self.latency_max_ms = max(self.latency_max_ms, other.latency_max_ms)
        for i, n in enumerate(other.hist):
            self.hist[i] += n

    def percentile(self, p: float) -> float | None:
        """The nearest-rank percentile, estimated inside its bucket (linear within the bucket).

        The estimate always falls in the bucket of the exact value: above the bucket's lower bound and
        at most its upper bound (the slowest bucket's upper bound is the exact maximum).
        """
        if self.calls <= 0:
            return None
        rank = max(1, math.ceil(p / 100 * self.calls))
        seen = 0
        for i, count in enumerate(self.hist):
            if count and seen + count >= rank:
                lower = LATENCY_BOUNDS_MS[i - 1] if i > 0 else 0.0
                upper = LATENCY_BOUNDS_MS[i] if i < len(LATENCY_BOUNDS_MS) else self.latency_max_ms
                value = lower + (upper - lower) * (rank - seen) / count
                # Not rounded: rounding could move a value onto the bucket's lower bound.
                return min(value, self.latency_max_ms)
            seen += count
        return self.latency_max_ms


def key_hash(service_id: str, client_id: str, outcome: str) -> str:
    """The short unique key of a (service, client, outcome) within a minute."""
    return hashlib.sha256("\x1f".join((service_id, client_id, outcome)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RollupResult:
    """What one roll-up did."""

    records: int
    minutes_touched: int
    rolled_up_to: int
    remaining: int


def _ensure_row(db: Session) -> None:
    if db.scalar(select(MonitoringRollup.id).where(MonitoringRollup.id == _ROW_ID)) is not None:
        return
    try:
        # A concurrent first roll-up may insert the row too: the loser's savepoint rolls back.
        with db.begin_nested():
            db.execute(insert(MonitoringRollup).values(id=_ROW_ID, rolled_up_to=-1, updated_at=utcnow()))
    except IntegrityError:
        pass


def _lock(db: Session, *, wait: bool) -> int | None:
    """Lock the watermark row (FOR UPDATE); its value, or None when ``wait`` is off and it is taken."""
    _ensure_row(db)
    query = (
        select(MonitoringRollup.rolled_up_to)
        .where(MonitoringRollup.id == _ROW_ID)
        .with_for_update(skip_locked=not wait)
    )
    value = db.scalar(query)
    return None if value is None else int(value)


def watermark_read(db: Session) -> int:
    """The watermark for a query, held steady until the caller's transaction ends (FOR SHARE)."""
    value = db.scalar(
        select(MonitoringRollup.rolled_up_to).where(MonitoringRollup.id == _ROW_ID).with_for_update(read=True)
    )
    return -1 if value is None else int(value)


def _minute_of(call: Call) -> int:
    return int(call.logged_at.timestamp() // 60)


def _write(db: Session, calls: Sequence[Call]) -> int:
    """Add ``calls`` to their minute rows; returns how many minute rows were touched."""
    groups: dict[tuple[int, str], tuple[Call, Agg]] = {}
    for call in calls:
        service = call.service_id or ""
        key = (_minute_of(call), key_hash(service, call.client_id, call.outcome))
        found = groups.get(key)
        if found is None:
            found = groups[key] = (call, Agg())
        found[1].add_call(call)
    if not groups:
        return 0
    minutes = sorted({m for m, _ in groups})
    existing: dict[tuple[int, str], Any] = {}
    m = MonitoringMinute
    columns = [m.id, m.minute, m.key_hash, m.calls, m.request_bytes, m.response_bytes]
    columns += [m.latency_sum_ms, m.latency_max_ms, *(getattr(m, c) for c in BUCKET_COLUMNS)]
    for start in range(0, len(minutes), 500):
        chunk = minutes[start : start + 500]
        for hit in db.execute(select(*columns).where(m.minute.in_(chunk))):
            if (hit.minute, hit.key_hash) in groups:
                existing[(hit.minute, hit.key_hash)] = hit
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for (minute, digest), (first, agg) in groups.items():
        row = existing.get((minute, digest))
        values: dict[str, Any] = {
            "calls": agg.calls,
            "request_bytes": agg.request_bytes,
            "response_bytes": agg.response_bytes,
            "latency_sum_ms": agg.latency_sum_ms,
            "latency_max_ms": agg.latency_max_ms,
            **dict(zip(BUCKET_COLUMNS, agg.hist, strict=True)),
        }
        if row is None:
            inserts.append(
                {
                    "minute": minute,
                    "key_hash": digest,
                    "service_id": first.service_id or "",
                    "client_id": first.client_id,
                    "outcome": first.outcome,
                    "client_error": first.is_error and first.is_client_error,
                    **values,
                }
            )
        else:
            merged = {k: getattr(row, k) + v for k, v in values.items() if k != "latency_max_ms"}
            merged["latency_max_ms"] = max(row.latency_max_ms, agg.latency_max_ms)
            updates.append({"id": row.id, **merged})
    # Core executemany, not the ORM's bulk paths (a third of the time per row on PostgreSQL).
    table = cast(Table, MonitoringMinute.__table__)
    conn = db.connection()
    if inserts:
        conn.execute(insert(table), inserts)
    if updates:
        names = [k for k in updates[0] if k != "id"]
        statement = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({k: bindparam("new_" + k) for k in names})
        )
        conn.execute(statement, [{"row_id": u["id"], **{"new_" + k: u[k] for k in names}} for u in updates])
    return len(groups)


def _bucket_sql() -> str:
    """SQL of :func:`bucket_of` over the column ``d`` (same bounds, same ``<=``)."""
    whens = " ".join(f"WHEN d <= {bound!r} THEN {i}" for i, bound in enumerate(LATENCY_BOUNDS_MS))
    return f"CASE {whens} ELSE {len(LATENCY_BOUNDS_MS)} END"


#: The roll-up of a leaf range inside PostgreSQL: the same duration (``extract(epoch ...)``, as
#: :func:`calls_load` reads it), outcome, bucket, minute and key hash as the Python path, aggregated
#: and added to existing rows with ON CONFLICT, so no record crosses the wire. ``OFFSET 0`` keeps
#: the subqueries from being flattened: flattened, the bucket CASE (and the duration inside each of
#: its branches) was evaluated once per FILTER, 500 numeric expressions a record (50x slower).
_PG_ROLLUP = f"""
INSERT INTO exchange_monitoring_minutes (
    minute, key_hash, service_id, client_id, outcome, client_error, calls, request_bytes,
    response_bytes, latency_sum_ms, latency_max_ms, {", ".join(BUCKET_COLUMNS)})
SELECT minute,
       encode(sha256(convert_to(service || chr(31) || client_id || chr(31) || outcome, 'UTF8')), 'hex'),
       service, client_id, outcome, client_error, count(*), sum(request_size), sum(response_size),
       sum(d), max(d), {", ".join(f"count(*) FILTER (WHERE b = {i})" for i in range(BUCKETS))}
FROM (
    SELECT floor(extract(epoch FROM logged_at) / 60)::bigint AS minute,
           coalesce(service_id, '') AS service, client_id, outcome, client_error,
           request_size, response_size, d, {_bucket_sql()} AS b
    FROM (
        SELECT *,
               CASE WHEN http_status >= 400 OR error_type IS NOT NULL
                    THEN left(coalesce(nullif(error_type, ''), 'HTTP ' || http_status), 255)
                    ELSE '' END AS outcome,
               (http_status >= 400 OR error_type IS NOT NULL) AND CASE
                    WHEN coalesce(error_type, '') <> '' THEN error_type LIKE 'Client.%'
                    ELSE http_status BETWEEN 400 AND 499 END AS client_error,
               greatest(CAST(extract(epoch FROM finished_at - started_at) * 1000 AS double precision), 0)
                    AS d
        FROM exchange_log_records
        WHERE leaf_index > :mark AND leaf_index <= :upto
        OFFSET 0
    ) AS r
    OFFSET 0
) AS c
GROUP BY minute, service, client_id, outcome, client_error
ON CONFLICT (minute, key_hash) DO UPDATE SET
    calls = exchange_monitoring_minutes.calls + excluded.calls,
    request_bytes = exchange_monitoring_minutes.request_bytes + excluded.request_bytes,
    response_bytes = exchange_monitoring_minutes.response_bytes + excluded.response_bytes,
    latency_sum_ms = exchange_monitoring_minutes.latency_sum_ms + excluded.latency_sum_ms,
    latency_max_ms = greatest(exchange_monitoring_minutes.latency_max_ms, excluded.latency_max_ms),
    {", ".join(f"{c} = exchange_monitoring_minutes.{c} + excluded.{c}" for c in BUCKET_COLUMNS)}
"""  # noqa: S608 - built from this module's constants only, the values are bound parameters


def _rollup_in_postgresql(db: Session, mark: int, limit: int) -> tuple[int, int, int]:
    """(records, minute rows touched, new watermark) of the next ``limit`` leaves, aggregated by SQL."""
    r = ExchangeLogRecord
    first = select(r.leaf_index).where(r.leaf_index > mark).order_by(r.leaf_index).limit(limit).subquery()
    found = db.execute(select(func.count(), func.max(first.c.leaf_index))).one()
    records, upto = int(found[0]), found[1]
    if not records:
        return 0, 0, mark
    touched = db.execute(text(_PG_ROLLUP), {"mark": mark, "upto": int(upto)})
    return records, int(getattr(touched, "rowcount", 0) or 0), int(upto)


def rollup_step(db: Session, *, limit: int = BATCH, wait: bool = True) -> RollupResult | None:
    """Roll up to ``limit`` records after the watermark in the caller's transaction (which commits).

    None when ``wait`` is off and another roll-up holds the watermark. The lock is kept until the
    caller's transaction ends, so what the caller reads next is consistent with the watermark.
    PostgreSQL aggregates inside the database; SQLite (embedded use) in Python.
    """
    mark = _lock(db, wait=wait)
    if mark is None:
        return None
    r = ExchangeLogRecord
    if limit <= 0:
        records, touched, new_mark = 0, 0, mark
    elif db.get_bind().dialect.name == "postgresql":
        records, touched, new_mark = _rollup_in_postgresql(db, mark, limit)
    else:
        # Leaf order from the watermark on; archived (deleted) leaves leave gaps that this skips.
        calls = calls_load(db, r.leaf_index > mark, first=limit)
        records, touched = len(calls), _write(db, calls)
        new_mark = calls[-1].leaf_index if calls else mark
    if new_mark != mark:
        db.execute(
            update(MonitoringRollup)
            .where(MonitoringRollup.id == _ROW_ID)
            .values(rolled_up_to=new_mark, updated_at=utcnow())
        )
    remaining = int(db.scalar(select(func.count()).select_from(r).where(r.leaf_index > new_mark)) or 0)
    return RollupResult(records, touched, new_mark, remaining)


def monitoring_rollup(db: Session, *, actor: Actor, limit: int = BATCH) -> RollupResult:
    """Roll up at most ``limit`` records (platform admins and the system; the command loops)."""
    require_roles(actor, Role.PLATFORM_ADMIN)
    if limit < 1:
        raise ValidationError(
            "每批记录数至少为 1",
            message_en="limit must be at least 1",
            code="monitoring.rollup.limit",
            field="limit",
        )
    result = rollup_step(db, limit=limit, wait=True)
    assert result is not None
    return result
