"""CKAN's response envelope for the datastore actions, until the portal's action registry serves them.

Small on purpose: when the CKAN layer of ``opendata`` wires the datastore services into its own action
registry, this module and the routes in ``api.py`` that use it can be dropped.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from zhengwu.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationError,
    ZhengwuError,
)

PREFIX: Final = "/api/3/action/datastore_"
_CKAN_ERRORS: Final[list[tuple[type[ZhengwuError], str, int]]] = [
    (ValidationError, "Validation Error", 409),
    (Conflict, "Validation Error", 409),
    (NotFound, "Not Found Error", 404),
    (NotAuthenticated, "Authorization Error", 403),
    (PermissionDenied, "Authorization Error", 403),
    (RateLimited, "Rate Limit Error", 429),
]


def help_url(request: Request, action: str) -> str:
    return str(request.base_url).rstrip("/") + f"/api/3/action/help_show?name={action}"


def ckan_success(request: Request, action: str, result: Any) -> JSONResponse:
    """``{"help", "success": true, "result"}``."""
    return JSONResponse({"help": help_url(request, action), "success": True, "result": result})


def ckan_error(request: Request, exc: ZhengwuError, status: int) -> Response:
    """``{"help", "success": false, "error": {"__type", "message", <field>: [...]}}``, CKAN status."""
    kind, code = "Internal Server Error", status
    for cls, name, ckan_status in _CKAN_ERRORS:
        if isinstance(exc, cls):
            kind, code = name, ckan_status
            break
    if status == 405:
        kind, code = "Validation Error", 400
    error: dict[str, Any] = {
        "__type": kind,
        "message": exc.message,
        "message_en": exc.message_en,
        "code": exc.code,
    }
    if exc.field:
        error[exc.field] = [exc.message]
    if exc.details.get("errors"):
        error["errors"] = exc.details["errors"]
    action = request.url.path.rsplit("/", 1)[-1]
    headers = {}
    if isinstance(exc, RateLimited) and "retry_after" in exc.details:
        headers["Retry-After"] = str(int(exc.details["retry_after"]))
    body = {"help": help_url(request, action), "success": False, "error": error}
    return JSONResponse(body, status_code=code, headers=headers)
