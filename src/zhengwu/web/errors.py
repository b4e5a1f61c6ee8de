"""The one place where zhengwu errors become HTTP responses.

APIs answer ``{"error": {"code", "message", "message_en", "field"?, "details"?}}``; pages answer a
Chinese error page (or a redirect to sign-in). Protocol front-ends with their own error formats (CKAN,
X-Road) register a renderer for their path prefix with :func:`register_error_renderer`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from zhengwu.errors import (
    ConfigurationError,
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    ValidationError,
    ZhengwuError,
)

log = logging.getLogger("zhengwu.web")

HTTP_STATUS: dict[type[ZhengwuError], int] = {
    ValidationError: 400,
    NotAuthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
    ConfigurationError: 500,
    UpstreamError: 502,
}

ErrorRenderer = Callable[[Request, ZhengwuError, int], Response]
_renderers: list[tuple[str, ErrorRenderer]] = []
_page_renderer: list[ErrorRenderer] = []

API_PREFIXES = ("/api/", "/healthz", "/openapi.json")


def status_for(exc: ZhengwuError) -> int:
    """HTTP status of a zhengwu error: the entry of its nearest class in HTTP_STATUS, else 400."""
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400


def register_error_renderer(prefix: str, renderer: ErrorRenderer) -> None:
    """Let a protocol front-end (e.g. ``/api/3/action``) render errors in its own format."""
    _renderers.append((prefix, renderer))
    _renderers.sort(key=lambda item: len(item[0]), reverse=True)


def set_page_renderer(renderer: ErrorRenderer) -> None:
    """The HTML error page renderer (installed by the app with the templates)."""
    _page_renderer[:] = [renderer]


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(API_PREFIXES):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def api_error_response(exc: ZhengwuError, status: int) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited) and "retry_after" in exc.details:
        headers["Retry-After"] = str(int(exc.details["retry_after"]))
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="zhengwu"'
    return JSONResponse({"error": exc.to_dict()}, status_code=status, headers=headers)


def render_error(request: Request, exc: ZhengwuError, status: int | None = None) -> Response:
    """Render ``exc`` for whoever asked: a protocol front-end, an API client or a person.

    ``status`` overrides the status derived from the error's class (for 405, 500 and other HTTP-level
    conditions that have no class of their own).
    """
    status = status or status_for(exc)
    path = request.url.path
    for prefix, renderer in _renderers:
        if path.startswith(prefix):
            return renderer(request, exc, status)
    if wants_json(request):
        return api_error_response(exc, status)
    if status == 401 and request.method == "GET":
        return RedirectResponse(f"/login?next={quote(str(request.url.path))}", status_code=303)
    if _page_renderer:
        page = _page_renderer[0](request, exc, status)
        # People and their browsers get the wait too (a download refused by a rate limit).
        if isinstance(exc, RateLimited) and "retry_after" in exc.details:
            page.headers["Retry-After"] = str(int(exc.details["retry_after"]))
        return page
    return api_error_response(exc, status)


def _validation_to_error(exc: RequestValidationError) -> ValidationError:
    errors: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header", "form")]
        errors.append({"field": ".".join(loc) or None, "reason": err.get("msg", ""), "type": err.get("type")})
    first = errors[0] if errors else {"field": None, "reason": "invalid"}
    field = first["field"]
    return ValidationError(
        f"参数 {field} 无效：{first['reason']}" if field else f"请求无效：{first['reason']}",
        message_en=f"invalid parameter {field}: {first['reason']}"
        if field
        else f"invalid request: {first['reason']}",
        code="request.invalid",
        field=field,
        errors=errors,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception to a response; unknown exceptions become a 500 with a reference id only."""

    @app.exception_handler(ZhengwuError)
    async def _zhengwu_error(request: Request, exc: ZhengwuError) -> Response:
        return render_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> Response:
        return render_error(request, _validation_to_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_exception(request: Request, exc: StarletteHTTPException) -> Response:
        mapped: ZhengwuError
        if exc.status_code == 404:
            mapped = NotFound("页面或接口不存在", message_en="not found", code="not_found")
        elif exc.status_code == 405:
            mapped = ValidationError(
                "不支持该请求方法", message_en="method not allowed", code="method_not_allowed"
            )
            response = render_error(request, mapped)
            response.status_code = 405
            return response
        else:
            mapped = ValidationError(str(exc.detail), code=f"http.{exc.status_code}")
            response = render_error(request, mapped)
            response.status_code = exc.status_code
            return response
        return render_error(request, mapped)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        ref = uuid.uuid4().hex[:12]
        log.exception("unhandled error ref=%s path=%s", ref, request.url.path)
        err = ZhengwuError(
            "服务器内部错误，请联系平台运维并提供编号 " + ref,
            message_en=f"internal error, reference {ref}",
            code="internal",
            details={"reference": ref},
        )
        return render_error(request, err, 500)
