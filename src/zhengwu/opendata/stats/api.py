"""JSON of the usage statistics under ``/api/v1/opendata/stats/`` (public, as the pages)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query, Request

from zhengwu.opendata.stats.services import dataset_usage, portal_usage, publisher_usage
from zhengwu.opendata.stats.views import flush_pending
from zhengwu.web.deps import CurrentActor, DbSession

router = APIRouter(tags=["opendata-stats"])

Days = Query(30, ge=1, le=366, description="统计最近多少天")


@router.get("/api/v1/opendata/stats", summary="开放数据门户使用统计")
def portal_stats(request: Request, db: DbSession, actor: CurrentActor, days: int = Days) -> dict[str, Any]:
    """Totals, per-day series, top datasets by views/downloads/API calls and the publishers' figures."""
    flush_pending(request, db)
    return asdict(portal_usage(db, actor=actor, days=days))


@router.get("/api/v1/opendata/stats/publishers/{ref}", summary="发布机构使用统计")
def publisher_stats(
    request: Request, ref: str, db: DbSession, actor: CurrentActor, days: int = Days
) -> dict[str, Any]:
    """A publisher's totals, per-day series and its datasets ranked."""
    flush_pending(request, db)
    return asdict(publisher_usage(db, actor=actor, ref=ref, days=days))


@router.get("/api/v1/opendata/stats/datasets/{name}", summary="数据集使用统计")
def dataset_stats(
    request: Request, name: str, db: DbSession, actor: CurrentActor, days: int = Days
) -> dict[str, Any]:
    """A dataset's totals, per-day series, downloads by format and API calls by action."""
    flush_pending(request, db)
    return asdict(dataset_usage(db, actor=actor, ref=name, days=days))
