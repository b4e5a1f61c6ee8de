"""The front node's HTTP interface (``zhengwu node serve``), called by the exchange gateway.

Paths, one service per published table or view (register ``{node}/services/{code}`` as the service's
upstream URL in the platform directory)::

    GET /healthz                               no token; 200 when the department database answers
    GET /services                              the published services
    GET /services/{code}/rows?col=v&col__gt=v&fields=a,b&limit=&offset=&after=
    GET /services/{code}/changes?since=&limit=
    GET /services/{code}/openapi.json

Authentication: every path but ``/healthz`` needs one of the configured tokens, sent as
``Authorization: Bearer <token>`` (or ``X-Zhengwu-Node-Token: <token>``); the gateway holds it. Errors
are JSON ``{"error": {"code", "message", "message_en", "field"}}`` with 400/401/404/502.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, text
from starlette.exceptions import HTTPException as StarletteHTTPException

from zhengwu.errors import NotAuthenticated, NotFound, ValidationError, ZhengwuError
from zhengwu.exchange.node.openapi import service_openapi
from zhengwu.exchange.node.schemas import ChangePage, NodeConfig, Page
from zhengwu.exchange.node.services import (
    PublishedService,
    changes_list,
    node_engine,
    published_reflect,
    published_service,
    rows_list,
)
from zhengwu.web.errors import api_error_response, status_for

log = logging.getLogger("zhengwu.exchange.node")

TOKEN_HEADER = "X-Zhengwu-Node-Token"  # noqa: S105 - a header name, not a secret


def _token_of(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get(TOKEN_HEADER)


def _check_token(config: NodeConfig, tokens: list[bytes], request: Request) -> None:
    if config.allow_anonymous and not tokens:
        return
    given = _token_of(request)
    # Compare against every token (no early exit) so timing does not tell which one nearly matched.
    ok = False
    if given:
        for token in tokens:
            ok |= hmac.compare_digest(token, given.encode("utf-8"))
    if not ok:
        raise NotAuthenticated(
            "缺少或错误的前置机访问令牌",
            message_en="missing or wrong node token",
            code="node.unauthenticated",
        )


def create_node_app(
    config: NodeConfig, *, engine: Engine | None = None, services: dict[str, PublishedService] | None = None
) -> FastAPI:
    """The node's ASGI app; reflects the published schema now, so a wrong configuration fails at start."""
    engine = engine or node_engine(config)
    published = services if services is not None else published_reflect(engine, config)
    tokens = [t.encode("utf-8") for t in config.token_values()]
    app = FastAPI(title=config.title, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.engine = engine
    app.state.services = published

    @app.exception_handler(ZhengwuError)
    async def _error(_request: Request, exc: ZhengwuError) -> Response:
        return api_error_response(exc, status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        err = ValidationError("请求参数有误", message_en=str(exc.errors()[:1]), code="node.request.invalid")
        return api_error_response(err, 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return api_error_response(NotFound("路径不存在", message_en="not found", code="not_found"), 404)
        err = ValidationError(str(exc.detail), code=f"http.{exc.status_code}")
        return api_error_response(err, exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        ref = uuid.uuid4().hex[:12]
        log.exception("unhandled node error ref=%s path=%s", ref, request.url.path)
        err = ZhengwuError("前置机内部错误，编号 " + ref, message_en=f"internal error {ref}", code="internal")
        return api_error_response(err, 500)

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # any failure means "not ready"
            return JSONResponse({"status": "database unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "services": len(published)})

    @app.get("/services")
    def services_index(request: Request) -> list[dict[str, Any]]:
        _check_token(config, tokens, request)
        return [
            {
                "code": s.code,
                "title": s.spec.title,
                "columns": list(s.columns),
                "key": list(s.key),
                "change_feed": s.spec.change_column is not None,
            }
            for s in published.values()
        ]

    # Pages go out as pydantic's own JSON (Rust), not through FastAPI's response-model validation.
    @app.get("/services/{code}/rows", response_model=None)
    def rows(code: str, request: Request) -> Response:
        _check_token(config, tokens, request)
        service = published_service(published, code)
        page: Page = rows_list(engine, config, service, request.query_params.multi_items())
        return Response(page.model_dump_json(), media_type="application/json")

    @app.get("/services/{code}/changes", response_model=None)
    def changes(code: str, request: Request) -> Response:
        _check_token(config, tokens, request)
        service = published_service(published, code)
        page: ChangePage = changes_list(engine, config, service, request.query_params.multi_items())
        return Response(page.model_dump_json(), media_type="application/json")

    @app.get("/services/{code}/openapi.json")
    def openapi(code: str, request: Request) -> dict[str, Any]:
        _check_token(config, tokens, request)
        service = published_service(published, code)
        return service_openapi(config, service, server_url=str(request.base_url) + f"services/{code}")

    return app
