"""Operational monitoring computed from the message log (``exchange_log_records``).

Like X-Road's operational monitoring, every figure comes from the per-call records the gateway writes
anyway: calls, refusals and failures, bytes, and durations (``finished_at - started_at``), per service
and per client over a time window (by ``logged_at``, which is indexed).

At volume, reading every record of a window is slow (a busy day is millions of rows), so a window is
read as: the per-minute summary (:mod:`.models`, filled by :mod:`.rollup`) for its full minutes and
the records already rolled up, plus the raw records of its partial first and last minutes and those
not rolled up yet. Counts, errors, bytes, mean and maximum are exact; percentiles are estimated
inside fixed latency buckets. A window of at most :data:`EXACT_CALLS` calls is then recomputed from
its raw records, so small windows keep exact nearest-rank percentiles. Each query first rolls up a
bounded number of new records (``LAZY_BATCH``); ``zhengwu exchange monitoring-rollup`` does the rest.

Who sees what: platform admins and security auditors see every call; a department's data
administrators see the calls in which their department is the caller (its member id or one of its
subsystems) or the provider (a service of one of its subsystems), and nothing else.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_department_admin, require_roles
from zhengwu.db import utcnow
from zhengwu.errors import NotFound, PermissionDenied, ValidationError
from zhengwu.exchange.identifiers import ClientId, ServiceId
from zhengwu.exchange.models import ExchangeLogRecord, ExchangeService, ExchangeSubsystem
from zhengwu.exchange.monitoring.models import BUCKET_COLUMNS, MonitoringMinute
from zhengwu.exchange.monitoring.rollup import LAZY_BATCH, Agg, Call, calls_load, rollup_step, watermark_read
from zhengwu.exchange.monitoring.schemas import (
    CallStats,
    ClientSummary,
    DepartmentTraffic,
    ErrorCall,
    ErrorReport,
    Latency,
    Overview,
    SeriesPoint,
    ServiceOperationalData,
    ServiceSummary,
    Window,
)
from zhengwu.exchange.services import DEPARTMENT_MEMBER_CLASS

DEFAULT_WINDOW = dt.timedelta(hours=24)
MAX_WINDOW = dt.timedelta(days=366)
#: Buckets of the time series: the first whose window fits gives at most ~100 points.
_BUCKETS = ((dt.timedelta(hours=2), 60), (dt.timedelta(hours=12), 600), (dt.timedelta(days=3), 3600))


#: Windows with at most this many calls are recomputed from the raw records (exact percentiles).
EXACT_CALLS = 5_000


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def monitoring_window(
    start: dt.datetime | None = None, end: dt.datetime | None = None, *, now: dt.datetime | None = None
) -> Window:
    """The window ``[start, end)``: the last 24 hours by default; naive times are UTC."""
    end = _aware(end) if end else (now or utcnow())
    start = _aware(start) if start else end - DEFAULT_WINDOW
    if start >= end:
        raise ValidationError(
            "开始时间应早于结束时间",
            message_en="start must be before end",
            code="monitoring.window",
            field="from",
        )
    if end - start > MAX_WINDOW:
        raise ValidationError(
            "时间窗口最长 366 天",
            message_en="the window is at most 366 days",
            code="monitoring.window",
            field="from",
        )
    span = end - start
    bucket = next((seconds for limit, seconds in _BUCKETS if span <= limit), 86400)
    return Window(start=start, end=end, bucket_seconds=bucket)


def _member(dept: Department, instance: str) -> str:
    if not dept.uscc:
        raise ValidationError(
            f"部门“{dept.name}”没有统一社会信用代码，不是交换成员",
            message_en="the department has no USCC and is not an exchange member",
            code="exchange.member.no_uscc",
            field="department_id",
        )
    return str(ClientId(instance, DEPARTMENT_MEMBER_CLASS, dept.uscc))


def _involving(member: str, table: Any = ExchangeLogRecord) -> ColumnElement[bool]:
    """Calls of ``member`` as caller or provider (``table``: the log records or the summary)."""
    prefix = member + "/"
    return or_(
        table.client_id == member,
        table.client_id.startswith(prefix, autoescape=True),
        table.service_id.startswith(prefix, autoescape=True),
    )


def _scope(db: Session, actor: Actor, instance: str) -> str | None:
    """None when the actor sees everything, else the member id their view is limited to."""
    require_roles(actor, Role.PLATFORM_ADMIN, Role.AUDITOR, Role.DATA_ADMIN)
    if actor.has(Role.PLATFORM_ADMIN, Role.AUDITOR):
        return None
    dept = db.get(Department, actor.department_id) if actor.department_id else None
    if dept is None:
        raise PermissionDenied(
            "部门管理员须属于一个部门", message_en="a data administrator needs a department"
        )
    return _member(dept, instance)


def _load(db: Session, window: Window, *conditions: ColumnElement[bool]) -> list[Call]:
    r = ExchangeLogRecord
    return calls_load(db, r.logged_at >= window.start, r.logged_at < window.end, *conditions)


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None for no values)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# ----------------------------------------------------------------------------------------------
# gathering a window: summary rows for full, rolled-up minutes, raw records for the rest

#: Conditions of a query, for the log records or the summary (both have client_id and service_id).
Where = Callable[[Any], list[ColumnElement[bool]]]


@dataclass
class _Cell:
    """Calls of one series bucket, service, client and outcome."""

    index: int
    service_id: str | None
    client_id: str
    outcome: str
    agg: Agg


def _origin(window: Window) -> int:
    """The series' origin: the window's start, down to its minute (epoch seconds)."""
    return int(window.start.timestamp() // 60) * 60


def _series_count(window: Window) -> int:
    return max(1, math.ceil((window.end.timestamp() - _origin(window)) / window.bucket_seconds))


def _prepare(db: Session) -> int:
    """Roll up a bounded number of new records (unless another roll-up runs) and return the
    watermark, held steady until the request's transaction ends."""
    done = rollup_step(db, limit=LAZY_BATCH, wait=False)
    return done.rolled_up_to if done is not None else watermark_read(db)


def _raw_cells(calls: Iterable[Call], window: Window, cells: dict[tuple[Any, ...], _Cell]) -> None:
    origin, step = _origin(window), window.bucket_seconds
    for call in calls:
        index = int((call.logged_at.timestamp() - origin) // step)
        key = (index, call.service_id, call.client_id, call.outcome)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = _Cell(index, call.service_id, call.client_id, call.outcome, Agg(durations=[]))
        cell.agg.add_call(call)


def _summary_cells(
    db: Session, window: Window, first: int, last: int, where: Where, cells: dict[tuple[Any, ...], _Cell]
) -> None:
    m = MonitoringMinute
    step = window.bucket_seconds // 60
    index = ((m.minute - _origin(window) // 60) // step).label("index")
    query = (
        select(
            index,
            m.service_id,
            m.client_id,
            m.outcome,
            m.client_error,
            func.sum(m.calls),
            func.sum(m.request_bytes),
            func.sum(m.response_bytes),
            func.sum(m.latency_sum_ms),
            func.max(m.latency_max_ms),
            *(func.sum(getattr(m, c)) for c in BUCKET_COLUMNS),
        )
        .where(m.minute >= first, m.minute < last, *where(m))
        .group_by(index, m.service_id, m.client_id, m.outcome, m.client_error)
    )
    for row in db.execute(query):
        calls = int(row[5])
        agg = Agg(
            calls=calls,
            errors=calls if row.outcome else 0,
            client_errors=calls if row.outcome and row.client_error else 0,
            request_bytes=int(row[6]),
            response_bytes=int(row[7]),
            latency_sum_ms=float(row[8]),
            latency_max_ms=float(row[9]),
            hist=[int(v) for v in row[10:]],
        )
        service = row.service_id or None
        key = (int(row[0]), service, row.client_id, row.outcome)
        cell = cells.get(key)
        if cell is None:
            cells[key] = _Cell(int(row[0]), service, row.client_id, row.outcome, agg)
        else:
            cell.agg.merge(agg)


def _gather(db: Session, window: Window, mark: int, where: Where, exact_calls: int) -> list[_Cell]:
    """The window's calls matching ``where`` as cells: exact (raw) when at most ``exact_calls``."""
    r = ExchangeLogRecord
    cells: dict[tuple[Any, ...], _Cell] = {}
    first = math.ceil(window.start.timestamp() / 60)
    last = math.floor(window.end.timestamp() / 60)
    if first >= last:
        _raw_cells(_load(db, window, *where(r)), window, cells)
        return list(cells.values())
    _summary_cells(db, window, first, last, where, cells)
    full_start = dt.datetime.fromtimestamp(first * 60, dt.UTC)
    full_end = dt.datetime.fromtimestamp(last * 60, dt.UTC)
    # The partial minutes at both ends, and what the summary does not hold yet (leaves after the mark):
    # three queries, each one index range (an OR of them made PostgreSQL scan the whole table).
    _raw_cells(_load(db, window, r.logged_at < full_start, *where(r)), window, cells)
    _raw_cells(_load(db, window, r.logged_at >= full_end, *where(r)), window, cells)
    lagging = [r.leaf_index > mark, r.logged_at >= full_start, r.logged_at < full_end]
    _raw_cells(_load(db, window, *lagging, *where(r)), window, cells)
    if sum(c.agg.calls for c in cells.values()) <= exact_calls:
        cells.clear()
        _raw_cells(_load(db, window, *where(r)), window, cells)
    return list(cells.values())


def _total(aggs: Iterable[Agg]) -> Agg:
    out = Agg(durations=[])
    for agg in aggs:
        out.merge(agg)
    return out


def _stats(agg: Agg) -> CallStats:
    """Counts, bytes and latency of merged calls: percentiles exact over raw durations, else estimated."""
    if agg.calls == 0:
        return CallStats()
    if agg.durations is not None:
        ordered = sorted(agg.durations)
        points = [percentile(ordered, p) for p in (50, 90, 95, 99)]
    else:
        points = [agg.percentile(p) for p in (50, 90, 95, 99)]
    return CallStats(
        calls=agg.calls,
        errors=agg.errors,
        client_errors=agg.client_errors,
        server_errors=agg.errors - agg.client_errors,
        error_rate=round(agg.errors / agg.calls, 6),
        request_bytes=agg.request_bytes,
        response_bytes=agg.response_bytes,
        latency_ms=Latency(
            p50=points[0],
            p90=points[1],
            p95=points[2],
            p99=points[3],
            max=agg.latency_max_ms,
            mean=round(agg.latency_sum_ms / agg.calls, 3),
        ),
    )


def call_stats(calls: Iterable[Call]) -> CallStats:
    """Counts, bytes and exact latency percentiles of ``calls``."""
    agg = Agg(durations=[])
    for call in calls:
        agg.add_call(call)
    return _stats(agg)


def _series(cells: Iterable[_Cell], window: Window) -> list[SeriesPoint]:
    count = _series_count(window)
    buckets = [Agg(durations=[]) for _ in range(count)]
    for cell in cells:
        if 0 <= cell.index < count:
            buckets[cell.index].merge(cell.agg)
    origin = dt.datetime.fromtimestamp(_origin(window), dt.UTC)
    out = []
    for i, agg in enumerate(buckets):
        stats = _stats(agg)
        out.append(
            SeriesPoint(
                start=origin + dt.timedelta(seconds=i * window.bucket_seconds),
                calls=stats.calls,
                errors=stats.errors,
                p95_ms=stats.latency_ms.p95,
            )
        )
    return out


@dataclass
class _Labels:
    """Names from the directory: services by X-Road id, departments by member code (USCC)."""

    services: dict[str, str]
    departments: dict[str, str]

    def department_of(self, xroad_id: str | None) -> str | None:
        parts = (xroad_id or "").split("/")
        return self.departments.get(parts[2]) if len(parts) >= 3 else None


def _labels(db: Session, instance: str) -> _Labels:
    departments = {
        uscc: name for uscc, name in db.execute(select(Department.uscc, Department.name)) if uscc is not None
    }
    services: dict[str, str] = {}
    rows = db.execute(
        select(ExchangeService, ExchangeSubsystem.code, Department.uscc)
        .join(ExchangeSubsystem, ExchangeSubsystem.id == ExchangeService.subsystem_id)
        .join(Department, Department.id == ExchangeSubsystem.department_id)
        .where(Department.uscc.is_not(None))
    )
    for svc, sub_code, uscc in rows:
        client = ClientId(instance, DEPARTMENT_MEMBER_CLASS, uscc, sub_code)
        services[str(ServiceId(client, svc.service_code, svc.service_version or None))] = svc.name
    return _Labels(services, departments)


def _grouped(cells: Iterable[_Cell], key: Callable[[_Cell], str]) -> dict[str, Agg]:
    groups: dict[str, Agg] = defaultdict(lambda: Agg(durations=[]))
    for cell in cells:
        groups[key(cell)].merge(cell.agg)
    return groups


def _by_service(cells: Iterable[_Cell], labels: _Labels) -> list[ServiceSummary]:
    groups = _grouped(cells, lambda c: c.service_id or "（未识别的服务）")
    out = [
        ServiceSummary(
            service_id=sid,
            name=labels.services.get(sid),
            provider=labels.department_of(sid),
            stats=_stats(agg),
        )
        for sid, agg in groups.items()
    ]
    return sorted(out, key=lambda s: (-s.stats.calls, s.service_id))


def _by_client(cells: Iterable[_Cell], labels: _Labels) -> list[ClientSummary]:
    groups = _grouped(cells, lambda c: c.client_id)
    out = [
        ClientSummary(client_id=cid, consumer=labels.department_of(cid), stats=_stats(agg))
        for cid, agg in groups.items()
    ]
    return sorted(out, key=lambda c: (-c.stats.calls, c.client_id))


def _scoped(scope: str | None, *more: Where) -> Where:
    """The conditions ``more`` plus the caller's scope, for either table."""

    def where(table: Any) -> list[ColumnElement[bool]]:
        out = [c for w in more for c in w(table)]
        return out + ([_involving(scope, table)] if scope else [])

    return where


SORTS = ("calls", "slowest", "errors")


def monitoring_overview(
    db: Session,
    *,
    actor: Actor,
    instance: str,
    window: Window,
    sort: str = "calls",
    exact_calls: int = EXACT_CALLS,
) -> Overview:
    """Every service the caller may see over ``window``; ``sort`` by calls, slowest (p95) or errors."""
    if sort not in SORTS:
        raise ValidationError(
            "排序应为 calls、slowest 或 errors", message_en=f"sort must be one of {SORTS}", field="sort"
        )
    scope = _scope(db, actor, instance)
    cells = _gather(db, window, _prepare(db), _scoped(scope), exact_calls)
    services = _by_service(cells, _labels(db, instance))
    if sort == "slowest":
        services.sort(key=lambda s: (-(s.stats.latency_ms.p95 or 0.0), s.service_id))
    elif sort == "errors":
        services.sort(key=lambda s: (-s.stats.errors, -s.stats.error_rate, s.service_id))
    return Overview(
        window=window,
        scope=scope or "all",
        totals=_stats(_total(c.agg for c in cells)),
        services=services,
        series=_series(cells, window),
    )


def service_operational_data(
    db: Session,
    *,
    actor: Actor,
    instance: str,
    service_id: str,
    window: Window,
    exact_calls: int = EXACT_CALLS,
) -> ServiceOperationalData:
    """Operational data of one service: totals, per client and over time (within the caller's scope)."""
    if not service_id or len(service_id) > 1400:
        raise ValidationError("请给出服务标识", message_en="service_id is required", field="service_id")
    scope = _scope(db, actor, instance)
    where = _scoped(scope, lambda t: [t.service_id == service_id])
    cells = _gather(db, window, _prepare(db), where, exact_calls)
    labels = _labels(db, instance)
    return ServiceOperationalData(
        window=window,
        service=ServiceSummary(
            service_id=service_id,
            name=labels.services.get(service_id),
            provider=labels.department_of(service_id),
            stats=_stats(_total(c.agg for c in cells)),
        ),
        by_client=_by_client(cells, labels),
        series=_series(cells, window),
    )


def department_traffic(
    db: Session,
    *,
    actor: Actor,
    instance: str,
    department_id: int,
    window: Window,
    exact_calls: int = EXACT_CALLS,
) -> DepartmentTraffic:
    """A department's calls in and out: platform admins and auditors for any, data admins for their own."""
    if not actor.has(Role.PLATFORM_ADMIN, Role.AUDITOR):
        require_department_admin(actor, department_id)
    dept = db.get(Department, department_id)
    if dept is None:
        raise NotFound("部门不存在", message_en="department not found", field="department_id")
    member = _member(dept, instance)
    prefix = member + "/"
    mark = _prepare(db)
    incoming = _gather(
        db, window, mark, lambda t: [t.service_id.startswith(prefix, autoescape=True)], exact_calls
    )
    outgoing = _gather(
        db,
        window,
        mark,
        lambda t: [or_(t.client_id == member, t.client_id.startswith(prefix, autoescape=True))],
        exact_calls,
    )
    labels = _labels(db, instance)
    return DepartmentTraffic(
        window=window,
        department_id=dept.id,
        department=dept.name,
        member_id=member,
        incoming=_stats(_total(c.agg for c in incoming)),
        outgoing=_stats(_total(c.agg for c in outgoing)),
        incoming_by_client=_by_client(incoming, labels),
        outgoing_by_service=_by_service(outgoing, labels),
        series_in=_series(incoming, window),
        series_out=_series(outgoing, window),
    )


def _errors(table: Any) -> list[ColumnElement[bool]]:
    if table is MonitoringMinute:
        return [MonitoringMinute.outcome != ""]
    r = ExchangeLogRecord
    return [or_(r.http_status >= 400, r.error_type.is_not(None))]


def error_report(
    db: Session,
    *,
    actor: Actor,
    instance: str,
    window: Window,
    limit: int = 50,
    exact_calls: int = EXACT_CALLS,
) -> ErrorReport:
    """Refused and failed calls in the window: counts by error type and the most recent ones."""
    scope = _scope(db, actor, instance)
    r = ExchangeLogRecord
    cells = _gather(db, window, _prepare(db), _scoped(scope, _errors), exact_calls)
    by_type: dict[str, int] = defaultdict(int)
    for cell in cells:
        by_type[cell.outcome] += cell.agg.calls
    query = (
        select(r)
        .where(
            r.logged_at >= window.start,
            r.logged_at < window.end,
            *_errors(r),
            *([_involving(scope)] if scope else []),
        )
        .order_by(r.logged_at.desc(), r.leaf_index.desc())
        .limit(max(1, min(limit, 500)))
    )
    recent = [
        ErrorCall(
            logged_at=rec.logged_at,
            xroad_id=rec.xroad_id,
            client_id=rec.client_id,
            service_id=rec.service_id,
            http_status=rec.http_status,
            error_type=rec.error_type,
            duration_ms=max((_aware(rec.finished_at) - _aware(rec.started_at)).total_seconds() * 1000, 0.0),
        )
        for rec in db.scalars(query)
    ]
    return ErrorReport(
        window=window, by_type=dict(sorted(by_type.items(), key=lambda kv: -kv[1])), recent=recent
    )
