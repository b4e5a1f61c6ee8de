"""Operational-data API of the exchange under ``/api/v1/exchange/monitoring``.

Every endpoint takes an optional window ``from`` / ``to`` (ISO 8601; naive times are UTC; default the
last 24 hours). Service ids contain slashes, so they travel as the query parameter ``service_id``.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query

from zhengwu.exchange.monitoring.schemas import (
    DepartmentTraffic,
    ErrorReport,
    Overview,
    ServiceOperationalData,
)
from zhengwu.exchange.monitoring.services import (
    department_traffic,
    error_report,
    monitoring_overview,
    monitoring_window,
    service_operational_data,
)
from zhengwu.web.deps import AppSettings, DbSession, SignedInActor

router = APIRouter(prefix="/api/v1/exchange/monitoring", tags=["exchange"])

_FROM = Query(None, alias="from", description="Window start (ISO 8601, UTC if naive).")
_TO = Query(None, alias="to", description="Window end, exclusive (default now).")


@router.get("/services", summary="各服务的调用量、错误与时延")
def services(
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    start: dt.datetime | None = _FROM,
    end: dt.datetime | None = _TO,
    sort: str = Query("calls", description="calls, slowest (p95) or errors"),
) -> Overview:
    return monitoring_overview(
        db, actor=actor, instance=settings.instance, window=monitoring_window(start, end), sort=sort
    )


@router.get("/operational-data", summary="单个服务的运行数据（按客户端、按时间）")
def operational_data(
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    service_id: str = Query(max_length=1400, description="INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE[/VERSION]"),
    start: dt.datetime | None = _FROM,
    end: dt.datetime | None = _TO,
) -> ServiceOperationalData:
    return service_operational_data(
        db,
        actor=actor,
        instance=settings.instance,
        service_id=service_id,
        window=monitoring_window(start, end),
    )


@router.get("/departments/{department_id}", summary="部门的调入与调出")
def department(
    department_id: int,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    start: dt.datetime | None = _FROM,
    end: dt.datetime | None = _TO,
) -> DepartmentTraffic:
    return department_traffic(
        db,
        actor=actor,
        instance=settings.instance,
        department_id=department_id,
        window=monitoring_window(start, end),
    )


@router.get("/errors", summary="被拒绝与失败的调用")
def errors(
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    start: dt.datetime | None = _FROM,
    end: dt.datetime | None = _TO,
    limit: int = Query(50, ge=1, le=500),
) -> ErrorReport:
    return error_report(
        db, actor=actor, instance=settings.instance, window=monitoring_window(start, end), limit=limit
    )
