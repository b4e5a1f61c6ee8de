"""Assembly of the ASGI application: every domain's routers, pages, navigation and error mapping.

This is the only module that imports every domain; a new domain adds its ``api.router``,
``views.router`` and ``views.NAV`` to the lists below.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from zhengwu import __version__
from zhengwu.accounts import api as accounts_api
from zhengwu.accounts import views as accounts_views
from zhengwu.accounts.services import configure_password_hashing
from zhengwu.audit import api as audit_api
from zhengwu.audit import views as audit_views
from zhengwu.catalog import api as catalog_api
from zhengwu.catalog import views as catalog_views
from zhengwu.catalog.search import api as catalog_search_api
from zhengwu.catalog.search import views as catalog_search_views
from zhengwu.catalog.search.services import search_warm as catalog_search_warm
from zhengwu.catalog.transfer import api as catalog_transfer_api
from zhengwu.catalog.transfer import views as catalog_transfer_views
from zhengwu.config import Settings, load_settings
from zhengwu.db import Database
from zhengwu.exchange import api as exchange_api
from zhengwu.exchange import views as exchange_views
from zhengwu.exchange.gateway.api import gateway_config, gateway_routes
from zhengwu.exchange.gateway.proxy import Gateway
from zhengwu.exchange.monitoring import api as exchange_monitoring_api
from zhengwu.exchange.monitoring import views as exchange_monitoring_views
from zhengwu.home import views as home_views
from zhengwu.opendata import api as opendata_api
from zhengwu.opendata import views as opendata_views
from zhengwu.opendata.access import api as opendata_access_api
from zhengwu.opendata.access import views as opendata_access_views
from zhengwu.opendata.ckan import api as opendata_ckan_api
from zhengwu.opendata.datastore import api as datastore_api
from zhengwu.opendata.harvest import api as opendata_harvest_api
from zhengwu.opendata.harvest import views as opendata_harvest_views
from zhengwu.opendata.requests import views as opendata_requests_views
from zhengwu.opendata.services import dataset_search_warm
from zhengwu.opendata.showcase import views as opendata_showcase_views
from zhengwu.opendata.stats import api as opendata_stats_api
from zhengwu.opendata.stats import views as opendata_stats_views
from zhengwu.opendata.stats.recorder import UsageRecorder
from zhengwu.registries import api as registries_api
from zhengwu.registries import provider_api as registries_provider_api
from zhengwu.registries import views as registries_views
from zhengwu.registries.credit import api as credit_api
from zhengwu.registries.credit import views as credit_views
from zhengwu.registries.geospatial import api as geospatial_api
from zhengwu.registries.geospatial import views as geospatial_views
from zhengwu.registries.govstack import api as registries_govstack_api
from zhengwu.registries.hotpath import RegistryHotPath
from zhengwu.sharing import api as sharing_api
from zhengwu.sharing import views as sharing_views
from zhengwu.web.errors import install_error_handlers, set_page_renderer
from zhengwu.web.templating import STATIC_DIR, render_error_page

log = logging.getLogger("zhengwu")

API_ROUTERS = [
    accounts_api.router,
    audit_api.router,
    catalog_api.router,
    catalog_search_api.router,
    catalog_transfer_api.router,
    sharing_api.router,
    exchange_api.router,
    exchange_monitoring_api.router,
    geospatial_api.router,
    credit_api.router,
    registries_provider_api.router,  # the gateway's upstream for the published registry services
    registries_api.router,  # after the registries' sub-areas: its /{registry} paths would catch theirs
    registries_govstack_api.router,
    datastore_api.router,
    opendata_ckan_api.router,
    opendata_api.router,
    opendata_harvest_api.router,
    opendata_access_api.router,
    opendata_stats_api.router,
]
PAGE_ROUTERS = [
    home_views.router,
    accounts_views.router,
    audit_views.router,
    catalog_views.router,
    catalog_search_views.router,
    catalog_transfer_views.router,
    sharing_views.router,
    exchange_views.router,
    exchange_monitoring_views.router,
    credit_views.router,  # before registries_views: /registries/{registry} would take /registries/credit
    geospatial_views.router,  # before registries: /registries/{registry} would catch its paths
    registries_views.router,
    opendata_views.router,
    opendata_requests_views.router,
    opendata_harvest_views.router,
    opendata_access_views.router,
    opendata_stats_views.router,
    opendata_showcase_views.router,
]
NAV = sorted(
    [
        *home_views.NAV,
        *accounts_views.NAV,
        *audit_views.NAV,
        *catalog_views.NAV,
        *catalog_search_views.NAV,
        *catalog_transfer_views.NAV,
        *sharing_views.NAV,
        *exchange_views.NAV,
        *exchange_monitoring_views.NAV,
        *registries_views.NAV,
        *credit_views.NAV,
        *geospatial_views.NAV,
        *opendata_views.NAV,
        *opendata_harvest_views.NAV,
        *opendata_access_views.NAV,
    ],
    key=lambda item: item.order,
)

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Pages need no third-party resources; inline styles are used for chart bar widths only.
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'",
}


class Platform(FastAPI):
    """The platform's FastAPI application with an optional plain ASGI app, ``front``, in front of it.

    ``front`` sees every request first and hands what it does not answer to :meth:`stack` (FastAPI's own
    entry: its middleware, routes and error handlers). The registries' lean path sits there, not among the
    middleware: its calls then skip FastAPI's entry and the error, telemetry and body-limit layers, whose
    cost was ≈ 5 % of a worker's CPU on a lookup (docs/benchmarks.md).
    """

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None:
            await super().__call__(scope, receive, send)
        else:
            await self.front(scope, receive, send)

    async def stack(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The FastAPI application itself, without ``front``."""
        await super().__call__(scope, receive, send)


def search_warm(database: Database) -> None:
    """Load the catalog's and the portal's in-memory search indexes (a background thread at start): the
    first search of a process would otherwise read them, seconds at 100,000 entries. A failure is
    logged and left to the first search, which loads them itself."""
    started = time.perf_counter()
    try:
        with database.session() as db:
            resources = catalog_search_warm(db)
            datasets = dataset_search_warm(db)
    except Exception as exc:  # a warm-up must never stop the server; the first search retries
        log.warning("search warm-up failed: %s", type(exc).__name__)
        return
    log.info(
        "search indexes loaded: %d catalog entries, %d open datasets in %.1f s",
        resources,
        datasets,
        time.perf_counter() - started,
    )


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> Platform:
    """Build the application for ``settings`` (loaded from the environment when omitted)."""
    settings = settings or load_settings()
    database = database or Database.from_url(settings.effective_database_url)
    configure_password_hashing(fast=settings.mode == "test")
    # Usage counts of the open data portal, buffered in this process and written at shutdown too. A test
    # application's data lives in a rolled-back session: its recorder writes only when a page flushes it.
    usage = UsageRecorder(
        None if settings.mode == "test" else database,
        interval=settings.opendata_usage_flush_seconds,
        max_events=settings.opendata_usage_flush_events,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.search_warm_on_start and settings.mode != "test":
            threading.Thread(target=search_warm, args=(database,), name="search-warm", daemon=True).start()
        if settings.mode != "test":
            # Every domain's modules, models and routes are loaded now and live as long as the process:
            # out of the collector's reach, a full collection no longer walks them (≈ 0.5 s measured for
            # the gateway), a pause every call in flight would wait through. Tests build many apps.
            gc.freeze()
        yield
        await run_in_threadpool(usage.close)

    app = Platform(
        title="zhengwu 政务信息资源共享平台 API",
        version=__version__,
        description="目录、共享交换、基础库与开放数据的接口。错误统一为 "
        '`{"error": {"code", "message", "message_en", "field"}}`。',
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.nav = NAV
    app.state.usage = usage

    @app.middleware("http")
    async def _security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    # Lookup and verification by identifier on a lean ASGI path in front of the whole FastAPI stack (it
    # adds the same headers itself); everything else passes through (zhengwu.registries.hotpath).
    app.front = RegistryHotPath(
        app.stack,
        database=database,
        overrides=app.dependency_overrides,
        headers=_SECURITY_HEADERS,
        token_ttl=settings.registries_token_ttl_seconds,
        durable=settings.registries_access_log_durable,
    )

    @app.get("/healthz", tags=["platform"], summary="健康检查")
    def healthz() -> Response:
        try:
            with database.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # the point of a health check is to report any failure
            log.warning("health check failed: %s", type(exc).__name__)
            return JSONResponse({"status": "unavailable", "database": database.backend}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "database": database.backend,
                "zone": settings.zone,
                "mode": settings.mode,
            }
        )

    for router in API_ROUTERS:
        app.include_router(router)
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The exchange gateway (X-Road REST r1) inside the platform; `zhengwu gateway` serves it alone.
    app.state.gateway = Gateway(database, gateway_config(settings))
    app.router.routes.extend(gateway_routes(app.state.gateway))
    install_error_handlers(app)
    set_page_renderer(render_error_page)
    return app
