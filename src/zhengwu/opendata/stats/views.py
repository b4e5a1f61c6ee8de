"""Pages of the usage statistics: portal-wide, per publisher, per dataset, and the CSV export.

Each page first writes this process's pending counts (so a reader sees what just happened), then reads
the counters. Charts are inline SVG drawn on the server (``web.charts``): one line per kind over the
last 30 or 90 days, and bars of the most used datasets.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from zhengwu.errors import NotFound
from zhengwu.opendata.services import dataset_get, distribution_get
from zhengwu.opendata.stats.recorder import record_download, recorder_of
from zhengwu.opendata.stats.services import (
    PERIODS,
    DatasetUsageRow,
    UsageSeries,
    dataset_usage,
    portal_usage,
    publisher_usage,
    usage_csv,
)
from zhengwu.web.charts import Series, bar_chart, line_chart
from zhengwu.web.deps import CurrentActor, DbSession
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

Days = Query(30, ge=1, le=366, description="统计最近多少天")


def flush_pending(request: Request, db: Session) -> None:
    """Write this process's pending counts into the request's session before reading the counters."""
    recorder = recorder_of(request)
    if recorder is not None:
        recorder.flush(db)


def usage_chart(series: UsageSeries, title: str) -> Markup:
    """Views, downloads and API calls per day as three lines."""
    return line_chart(
        [d[5:] for d in series.days],
        [
            Series("浏览", series.views),
            Series("下载", series.downloads),
            Series("接口调用", series.api_calls),
        ],
        title=title,
    )


def top_chart(rows: list[DatasetUsageRow], attr: str, unit: str) -> Markup:
    """Bars of the datasets in a ranking by one of their counts."""
    return bar_chart([(r.title, float(getattr(r, attr))) for r in rows], unit=unit, decimals=0)


def _context(days: int, **extra: Any) -> dict[str, Any]:
    return {"days": days, "periods": PERIODS, **extra}


@router.get("/opendata/stats", response_class=HTMLResponse)
def portal_stats_page(request: Request, db: DbSession, actor: CurrentActor, days: int = Days) -> HTMLResponse:
    """使用统计: the portal's views, downloads and API calls, top datasets, publishers."""
    flush_pending(request, db)
    usage = portal_usage(db, actor=actor, days=days)
    return render(
        request,
        "opendata/stats_portal.html",
        _context(
            days,
            title="使用统计",
            usage=usage,
            chart=usage_chart(usage.series, f"最近 {days} 天每日浏览、下载与接口调用"),
            top_views_chart=top_chart(usage.top_views, "views", "次浏览"),
        ),
    )


@router.get("/opendata/publishers/{ref}/stats", response_class=HTMLResponse)
def publisher_stats_page(
    request: Request, ref: str, db: DbSession, actor: CurrentActor, days: int = Days
) -> HTMLResponse:
    """A publisher's statistics: totals, chart, its datasets ranked."""
    flush_pending(request, db)
    usage = publisher_usage(db, actor=actor, ref=ref, days=days)
    return render(
        request,
        "opendata/stats_publisher.html",
        _context(
            days,
            title=f"{usage.title} 使用统计",
            usage=usage,
            chart=usage_chart(usage.series, f"{usage.title} 最近 {days} 天每日使用量"),
        ),
    )


@router.get("/opendata/datasets/{name}/stats", response_class=HTMLResponse)
def dataset_stats_page(
    request: Request, name: str, db: DbSession, actor: CurrentActor, days: int = Days
) -> HTMLResponse:
    """A dataset's statistics: totals, chart, downloads by format and API calls by action."""
    flush_pending(request, db)
    usage = dataset_usage(db, actor=actor, ref=name, days=days)
    return render(
        request,
        "opendata/stats_dataset.html",
        _context(
            days,
            title=f"{usage.title} 使用统计",
            usage=usage,
            chart=usage_chart(usage.series, f"{usage.title} 最近 {days} 天每日使用量"),
        ),
    )


@router.get("/opendata/stats.csv")
def stats_csv(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    days: int = Query(90, ge=1, le=366),
    organization: str = Query("", max_length=100),
    dataset: str = Query("", max_length=100),
) -> StreamingResponse:
    """The daily counters as CSV (UTF-8 with BOM), optionally of one publisher or dataset."""
    flush_pending(request, db)
    # Rendered before the response starts so that a bad parameter is an error page, not a broken file.
    chunks = list(usage_csv(db, actor=actor, days=days, organization=organization, dataset=dataset))
    return StreamingResponse(
        iter(chunks),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="opendata-usage.csv"'},
    )


@router.get("/opendata/datasets/{name}/resources/{resource_id}/download")
def resource_download(
    request: Request, name: str, resource_id: str, db: DbSession, actor: CurrentActor
) -> RedirectResponse:
    """CKAN's resource download address: count the download, then send the browser to the file.

    A file in the data store (``/datastore/dump/…``) is counted by the dump itself, with its format.
    """
    package = dataset_get(db, actor=actor, ref=name)
    resource = distribution_get(db, actor=actor, ref=resource_id)
    url = str(resource.get("url") or "")
    if resource.get("package_id") != package["id"] or not (
        url.startswith(("http://", "https://")) or (url.startswith("/") and not url.startswith("//"))
    ):
        raise NotFound("资源不存在", message_en="Resource not found", code="opendata.not_found", field="id")
    if not url.startswith("/"):
        record_download(request, str(resource["id"]), str(resource.get("format") or "file"))
    return RedirectResponse(url, status_code=302)
