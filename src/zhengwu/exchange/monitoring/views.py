"""Chinese pages of exchange monitoring: the service directory, the overview (slowest services, errors),
one service's operational data, and a department's calls in and out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor
from zhengwu.db import utcnow
from zhengwu.errors import ValidationError
from zhengwu.exchange.monitoring.schemas import Overview, Window
from zhengwu.exchange.monitoring.services import (
    department_traffic,
    error_report,
    monitoring_overview,
    monitoring_window,
    service_operational_data,
)
from zhengwu.exchange.services import service_list, subsystem_list
from zhengwu.web.charts import bar_chart, calls_chart
from zhengwu.web.deps import AppSettings, DbSession, SignedInActor
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

MONITOR_ROLES = frozenset({Role.PLATFORM_ADMIN, Role.AUDITOR, Role.DATA_ADMIN})
NAV = [
    NavItem("服务目录", "/exchange/services", order=83, signed_in=True),
    NavItem("交换监控", "/exchange/monitoring", order=84, roles=MONITOR_ROLES),
]
#: The windows offered on the pages, in hours, with their Chinese names.
WINDOWS = {1: "最近 1 小时", 6: "最近 6 小时", 24: "最近 24 小时", 168: "最近 7 天", 720: "最近 30 天"}
SORT_LABELS = {"calls": "调用量", "slowest": "最慢（P95）", "errors": "错误数"}


def _window(hours: int) -> Window:
    if hours not in WINDOWS:
        raise ValidationError(
            "时间窗口无效",
            message_en=f"hours must be one of {sorted(WINDOWS)}",
            code="monitoring.window",
            field="hours",
        )
    now = utcnow()
    return monitoring_window(now - dt.timedelta(hours=hours), now)


def _departments(db: DbSession, actor: Actor) -> list[dict[str, Any]]:
    query = (
        select(Department.id, Department.name).where(Department.uscc.is_not(None)).order_by(Department.code)
    )
    if not actor.has(Role.PLATFORM_ADMIN, Role.AUDITOR):
        query = query.where(Department.id == (actor.department_id or -1))
    return [{"id": i, "name": n} for i, n in db.execute(query)]


def _slowest(overview: Overview, n: int = 10) -> list[tuple[str, float]]:
    ranked = sorted(
        (s for s in overview.services if s.stats.latency_ms.p95 is not None),
        key=lambda s: -(s.stats.latency_ms.p95 or 0.0),
    )[:n]
    return [(s.name or s.service_id, s.stats.latency_ms.p95 or 0.0) for s in ranked]


@router.get("/exchange/monitoring", response_class=HTMLResponse)
def monitoring_page(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    hours: int = Query(24),
    sort: str = Query("calls"),
) -> Response:
    window = _window(hours)
    overview = monitoring_overview(db, actor=actor, instance=settings.instance, window=window, sort=sort)
    errors = error_report(db, actor=actor, instance=settings.instance, window=window, limit=20)
    context = {
        "title": "交换监控",
        "hours": hours,
        "windows": WINDOWS,
        "sort": sort,
        "sorts": SORT_LABELS,
        "overview": overview,
        "errors": errors,
        "calls_svg": calls_chart(overview.series, window.bucket_seconds),
        "slowest_svg": bar_chart(_slowest(overview)),
        "departments": _departments(db, actor),
    }
    return render(request, "exchange/monitoring/overview.html", context)


@router.get("/exchange/monitoring/service", response_class=HTMLResponse)
def service_page(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    service_id: str = Query(max_length=1400),
    hours: int = Query(24),
) -> Response:
    window = _window(hours)
    data = service_operational_data(
        db, actor=actor, instance=settings.instance, service_id=service_id, window=window
    )
    context = {
        "title": f"服务运行数据：{data.service.name or service_id}",
        "hours": hours,
        "windows": WINDOWS,
        "data": data,
        "calls_svg": calls_chart(data.series, window.bucket_seconds),
    }
    return render(request, "exchange/monitoring/service.html", context)


@router.get("/exchange/monitoring/departments/{department_id}", response_class=HTMLResponse)
def department_page(
    request: Request,
    department_id: int,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    hours: int = Query(24),
) -> Response:
    window = _window(hours)
    data = department_traffic(
        db, actor=actor, instance=settings.instance, department_id=department_id, window=window
    )
    context = {
        "title": f"{data.department}的调用",
        "hours": hours,
        "windows": WINDOWS,
        "data": data,
        "in_svg": calls_chart(data.series_in, window.bucket_seconds),
        "out_svg": calls_chart(data.series_out, window.bucket_seconds),
    }
    return render(request, "exchange/monitoring/department.html", context)


@router.get("/exchange/services", response_class=HTMLResponse)
def directory_page(request: Request, db: DbSession, actor: SignedInActor, settings: AppSettings) -> Response:
    subsystems = subsystem_list(db, actor=actor, instance=settings.instance)
    services = service_list(db, actor=actor, instance=settings.instance)
    by_subsystem: dict[int, list[Any]] = {}
    for svc in services:
        by_subsystem.setdefault(svc.subsystem_id, []).append(svc)
    figures: dict[str, Any] = {}
    if actor.has(*MONITOR_ROLES):
        # The last day's figures, within what the caller may see of the message log.
        overview = monitoring_overview(db, actor=actor, instance=settings.instance, window=_window(24))
        figures = {s.service_id: s.stats for s in overview.services}
    context = {
        "title": "服务目录",
        "subsystems": subsystems,
        "by_subsystem": by_subsystem,
        "figures": figures,
        "show_figures": actor.has(*MONITOR_ROLES),
        "departments": dict(db.execute(select(Department.id, Department.name)).tuples().all()),
        "service_count": len(services),
    }
    return render(request, "exchange/monitoring/directory.html", context)
