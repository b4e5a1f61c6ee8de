"""Operational monitoring computed from the message log (``exchange_log_records``).

Like X-Road's operational monitoring, every figure comes from the per-call records the gateway writes
anyway: calls, refusals and failures, bytes, and durations (``finished_at - started_at``), per service
and per client over a time window (by ``logged_at``, which is indexed). Percentiles are nearest-rank
over the window's calls, computed in Python so both backends give the same numbers.

Who sees what: platform admins and security auditors see every call; a department's data
administrators see the calls in which their department is the caller (its member id or one of its
subsystems) or the provider (a service of one of its subsystems), and nothing else.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_department_admin, require_roles
from zhengwu.db import utcnow
from zhengwu.errors import NotFound, PermissionDenied, ValidationError
from zhengwu.exchange.identifiers import ClientId, ServiceId
from zhengwu.exchange.models import ExchangeLogRecord, ExchangeService, ExchangeSubsystem
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


@dataclass(frozen=True)
class _Call:
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


def _involving(member: str) -> ColumnElement[bool]:
    prefix = member + "/"
    return or_(
        ExchangeLogRecord.client_id == member,
        ExchangeLogRecord.client_id.startswith(prefix, autoescape=True),
        ExchangeLogRecord.service_id.startswith(prefix, autoescape=True),
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


def _load(db: Session, window: Window, *conditions: ColumnElement[bool]) -> list[_Call]:
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
        r.client_id,
        r.service_id,
        r.http_status,
        r.error_type,
        r.logged_at,
        r.request_size,
        r.response_size,
        *timing,
    ).where(r.logged_at >= window.start, r.logged_at < window.end, *conditions)
    calls = []
    for row in db.execute(query):
        # UTCDateTime already returns aware UTC values.
        duration = (
            float(row.duration_ms)
            if on_postgresql
            else (row.finished_at - row.started_at).total_seconds() * 1000
        )
        calls.append(
            _Call(
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


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None for no values)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def call_stats(calls: Iterable[_Call]) -> CallStats:
    """Counts, bytes and latency percentiles of ``calls``."""
    items = list(calls)
    if not items:
        return CallStats()
    durations = sorted(c.duration_ms for c in items)
    errors = [c for c in items if c.is_error]
    client_errors = sum(1 for c in errors if c.is_client_error)
    return CallStats(
        calls=len(items),
        errors=len(errors),
        client_errors=client_errors,
        server_errors=len(errors) - client_errors,
        error_rate=round(len(errors) / len(items), 6),
        request_bytes=sum(c.request_size for c in items),
        response_bytes=sum(c.response_size for c in items),
        latency_ms=Latency(
            p50=percentile(durations, 50),
            p90=percentile(durations, 90),
            p95=percentile(durations, 95),
            p99=percentile(durations, 99),
            max=durations[-1],
            mean=round(sum(durations) / len(durations), 3),
        ),
    )


def _series(calls: Iterable[_Call], window: Window) -> list[SeriesPoint]:
    step = window.bucket_seconds
    origin = window.start.timestamp()
    count = max(1, math.ceil((window.end - window.start).total_seconds() / step))
    buckets: list[list[_Call]] = [[] for _ in range(count)]
    for call in calls:
        index = int((call.logged_at.timestamp() - origin) // step)
        if 0 <= index < count:
            buckets[index].append(call)
    return [
        SeriesPoint(
            start=window.start + dt.timedelta(seconds=i * step),
            calls=len(bucket),
            errors=sum(1 for c in bucket if c.is_error),
            p95_ms=percentile(sorted(c.duration_ms for c in bucket), 95),
        )
        for i, bucket in enumerate(buckets)
    ]


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


def _by_service(calls: Iterable[_Call], labels: _Labels) -> list[ServiceSummary]:
    groups: dict[str, list[_Call]] = defaultdict(list)
    for call in calls:
        groups[call.service_id or "（未识别的服务）"].append(call)
    out = [
        ServiceSummary(
            service_id=sid,
            name=labels.services.get(sid),
            provider=labels.department_of(sid),
            stats=call_stats(group),
        )
        for sid, group in groups.items()
    ]
    return sorted(out, key=lambda s: (-s.stats.calls, s.service_id))


def _by_client(calls: Iterable[_Call], labels: _Labels) -> list[ClientSummary]:
    groups: dict[str, list[_Call]] = defaultdict(list)
    for call in calls:
        groups[call.client_id].append(call)
    out = [
        ClientSummary(client_id=cid, consumer=labels.department_of(cid), stats=call_stats(group))
        for cid, group in groups.items()
    ]
    return sorted(out, key=lambda c: (-c.stats.calls, c.client_id))


SORTS = ("calls", "slowest", "errors")


def monitoring_overview(
    db: Session,
    *,
    actor: Actor,
    instance: str,
    window: Window,
    sort: str = "calls",
) -> Overview:
    """Every service the caller may see over ``window``; ``sort`` by calls, slowest (p95) or errors."""
    if sort not in SORTS:
        raise ValidationError(
            "排序应为 calls、slowest 或 errors", message_en=f"sort must be one of {SORTS}", field="sort"
        )
    scope = _scope(db, actor, instance)
    calls = _load(db, window, *([_involving(scope)] if scope else []))
    services = _by_service(calls, _labels(db, instance))
    if sort == "slowest":
        services.sort(key=lambda s: (-(s.stats.latency_ms.p95 or 0.0), s.service_id))
    elif sort == "errors":
        services.sort(key=lambda s: (-s.stats.errors, -s.stats.error_rate, s.service_id))
    return Overview(
        window=window,
        scope=scope or "all",
        totals=call_stats(calls),
        services=services,
        series=_series(calls, window),
    )


def service_operational_data(
    db: Session, *, actor: Actor, instance: str, service_id: str, window: Window
) -> ServiceOperationalData:
    """Operational data of one service: totals, per client and over time (within the caller's scope)."""
    if not service_id or len(service_id) > 1400:
        raise ValidationError("请给出服务标识", message_en="service_id is required", field="service_id")
    scope = _scope(db, actor, instance)
    conditions = [ExchangeLogRecord.service_id == service_id, *([_involving(scope)] if scope else [])]
    calls = _load(db, window, *conditions)
    labels = _labels(db, instance)
    return ServiceOperationalData(
        window=window,
        service=ServiceSummary(
            service_id=service_id,
            name=labels.services.get(service_id),
            provider=labels.department_of(service_id),
            stats=call_stats(calls),
        ),
        by_client=_by_client(calls, labels),
        series=_series(calls, window),
    )


def department_traffic(
    db: Session, *, actor: Actor, instance: str, department_id: int, window: Window
) -> DepartmentTraffic:
    """A department's calls in and out: platform admins and auditors for any, data admins for their own."""
    if not actor.has(Role.PLATFORM_ADMIN, Role.AUDITOR):
        require_department_admin(actor, department_id)
    dept = db.get(Department, department_id)
    if dept is None:
        raise NotFound("部门不存在", message_en="department not found", field="department_id")
    member = _member(dept, instance)
    prefix = member + "/"
    r = ExchangeLogRecord
    incoming = _load(db, window, r.service_id.startswith(prefix, autoescape=True))
    outgoing = _load(db, window, or_(r.client_id == member, r.client_id.startswith(prefix, autoescape=True)))
    labels = _labels(db, instance)
    return DepartmentTraffic(
        window=window,
        department_id=dept.id,
        department=dept.name,
        member_id=member,
        incoming=call_stats(incoming),
        outgoing=call_stats(outgoing),
        incoming_by_client=_by_client(incoming, labels),
        outgoing_by_service=_by_service(outgoing, labels),
        series_in=_series(incoming, window),
        series_out=_series(outgoing, window),
    )


def error_report(db: Session, *, actor: Actor, instance: str, window: Window, limit: int = 50) -> ErrorReport:
    """Refused and failed calls in the window: counts by error type and the most recent ones."""
    scope = _scope(db, actor, instance)
    r = ExchangeLogRecord
    error = or_(r.http_status >= 400, r.error_type.is_not(None))
    calls = [c for c in _load(db, window, error, *([_involving(scope)] if scope else []))]
    by_type: dict[str, int] = defaultdict(int)
    for call in calls:
        by_type[call.error_type or f"HTTP {call.http_status}"] += 1
    query = (
        select(r)
        .where(
            r.logged_at >= window.start,
            r.logged_at < window.end,
            error,
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
