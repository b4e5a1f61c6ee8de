"""HTTP front of the CKAN Action API: ``/api/3/action/<name>`` and ``/api/action/<name>``.

As CKAN does: every action answers POST (a JSON body, or a form), read actions also GET (query
string); the answer is the envelope ``{"help", "success", "result"}`` or ``{"help", "success": false,
"error": {"__type", ...}}`` with CKAN's status codes (403 Authorization Error, 404 Not Found Error, 409
Validation Error and Search Query Error, 400 "Bad request - ..." as a JSON string for an unknown action
or a body that is not a JSON object). The token comes in ``Authorization`` as the bare token (CKAN),
``Bearer <token>``, or ``X-CKAN-API-Key``. Each call runs in a savepoint so a failed write leaves
nothing behind while the request's session still commits what succeeded.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.services import token_authenticate
from zhengwu.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationError,
    ZhengwuError,
)
from zhengwu.opendata.access.usage import usage_keep_refused
from zhengwu.opendata.ckan import datastore_actions
from zhengwu.opendata.ckan.actions import ACTIONS, get_action, register_action
from zhengwu.opendata.search import SearchQueryError
from zhengwu.opendata.showcase import actions as showcase_actions
from zhengwu.opendata.stats.recorder import record_api_call
from zhengwu.opendata.tabular import Upload
from zhengwu.web.deps import DbSession, client_ip
from zhengwu.web.errors import register_error_renderer, status_for

router = APIRouter(tags=["ckan"])
# Imported for its registrations: the datastore actions join the registry with the core ones.
DATASTORE_ACTIONS = datastore_actions.__name__
SHOWCASE_ACTIONS = showcase_actions.__name__  # ckanext_showcase_*, registered the same way
PREFIXES = ("/api/3/action", "/api/action")
JSON_TYPE = "application/json;charset=utf-8"
MAX_BODY = 10 * 1024 * 1024


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        status_code=status,
        media_type=JSON_TYPE,
        headers=headers,
    )


def help_url(request: Request, name: str) -> str:
    return str(request.base_url) + f"api/3/action/help_show?name={name}"


def bad_request(message: str) -> Response:
    """CKAN's 400: the body is a JSON string, not an envelope."""
    return _json(f"Bad request - {message}", 400)


def ckan_error(exc: ZhengwuError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A zhengwu error as CKAN's (status, error object, headers)."""
    headers: dict[str, str] = {}
    if isinstance(exc, SearchQueryError):
        return (
            409,
            {"__type": "Search Query Error", "message": exc.message_en, "message_zh": exc.message},
            headers,
        )
    if isinstance(exc, ValidationError | Conflict) and not isinstance(exc, RateLimited):
        error: dict[str, Any] = {"__type": "Validation Error"}
        errors = exc.details.get("errors") or [{"field": exc.field or "message", "reason": exc.message_en}]
        for item in errors:
            # Problems of an uploaded file name their row and column (the datastore's report).
            where = ", ".join(
                f"{key} {item[key]}" for key in ("row", "column") if item.get(key) not in (None, "")
            )
            reason = f"{where}: {item.get('reason')}" if where else str(item.get("reason"))
            error.setdefault(str(item.get("field") or exc.field or "message"), []).append(reason)
        error["message_zh"] = exc.message
        return 409, error, headers
    if isinstance(exc, NotFound):
        return (
            404,
            {
                "__type": "Not Found Error",
                "message": f"Not found: {exc.message_en}",
                "message_zh": exc.message,
            },
            headers,
        )
    if isinstance(exc, PermissionDenied | NotAuthenticated):
        message = f"Access denied: {exc.message_en}"
        return 403, {"__type": "Authorization Error", "message": message, "message_zh": exc.message}, headers
    if isinstance(exc, RateLimited):
        if "retry_after" in exc.details:
            headers["Retry-After"] = str(int(exc.details["retry_after"]))
        return (
            429,
            {"__type": "Rate Limit Error", "message": exc.message_en, "message_zh": exc.message},
            headers,
        )
    status = status_for(exc)
    return status, {"__type": "Internal Server Error", "message": exc.message_en}, headers


def _error_response(request: Request, name: str, exc: ZhengwuError) -> Response:
    status, error, headers = ckan_error(exc)
    return _json({"help": help_url(request, name), "success": False, "error": error}, status, headers)


def _render_error(request: Request, exc: ZhengwuError, status: int) -> Response:
    # Errors raised outside an action (dependencies, the framework) still answer in CKAN's shape.
    name = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    if status == 405:
        return bad_request("Invalid request. Please use POST method for your request")
    return _error_response(request, name, exc)


for _prefix in PREFIXES:
    register_error_renderer(_prefix, _render_error)


def ckan_actor(db: Session, request: Request) -> Actor:
    """The caller of a CKAN action: token from ``Authorization`` (bare or Bearer) or ``X-CKAN-API-Key``."""
    raw = request.headers.get("authorization") or request.headers.get("x-ckan-api-key") or ""
    raw = raw.strip()
    if raw.lower().startswith("bearer "):
        raw = raw[7:].strip()
    if not raw:
        return Actor.anonymous(ip=client_ip(request))
    return token_authenticate(db, raw=raw, ip=client_ip(request))


def _query_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key in params:
            existing = params[key]
            params[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            params[key] = value
    return params


async def _body_params(request: Request) -> dict[str, Any] | Response:
    body = await request.body()
    if len(body) > MAX_BODY:
        return bad_request("Request body too large")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not body.strip():
        return _query_params(request)
    if content_type in ("application/x-www-form-urlencoded",):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return bad_request("JSON Error: request body is not UTF-8")
        return {**_query_params(request), **dict(parse_qsl(text, keep_blank_values=True))}
    if content_type == "multipart/form-data":
        form = await request.form()
        params: dict[str, Any] = {}
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = value
            elif isinstance(value, UploadFile):
                # CKAN's resource upload field; the file stays spooled until the action reads it.
                params[key] = Upload(filename=value.filename or "", file=value.file)
        return params
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        return bad_request(f"JSON Error: {exc}")
    if not isinstance(data, dict):
        return bad_request(
            f"JSON Error: Request data JSON decoded to {data!r:.40} but it needs to be a dictionary."
        )
    return data


def _run(request: Request, db: Session, name: str, params: dict[str, Any]) -> Response:
    action = get_action(name)
    if action is None:
        return bad_request(f"Action name not known: {name}")
    try:
        with db.begin_nested():
            actor = ckan_actor(db, request)
            result = action.handler(db, actor, params)
    except ZhengwuError as exc:
        usage_keep_refused(db)  # a refused use of a dataset key is recorded though the call rolled back
        return _error_response(request, name, exc)
    record_api_call(request, name, params, result)  # an in-memory count: the batch writes it later
    return _json({"help": help_url(request, name), "success": True, "result": result})


def _action_get(request: Request, name: str, db: Session) -> Response:
    action = get_action(name)
    if action is None:
        return bad_request(f"Action name not known: {name}")
    if not action.read_only:
        return bad_request("JSON Error: Invalid request. Please use POST method for your request")
    return _run(request, db, name, _query_params(request))


async def _action_post(request: Request, name: str, db: Session) -> Response:
    if get_action(name) is None:
        return bad_request(f"Action name not known: {name}")
    params = await _body_params(request)
    if isinstance(params, Response):
        return params
    return await run_in_threadpool(_run, request, db, name, params)


@router.get("/api/3/action/{name}", include_in_schema=False)
def action_get_v3(request: Request, name: str, db: DbSession) -> Response:
    return _action_get(request, name, db)


@router.get("/api/action/{name}", include_in_schema=False)
def action_get(request: Request, name: str, db: DbSession) -> Response:
    return _action_get(request, name, db)


@router.post("/api/3/action/{name}", include_in_schema=False)
async def action_post_v3(request: Request, name: str, db: DbSession) -> Response:
    return await _action_post(request, name, db)


@router.post("/api/action/{name}", include_in_schema=False)
async def action_post(request: Request, name: str, db: DbSession) -> Response:
    return await _action_post(request, name, db)


@router.get("/api/3", include_in_schema=False)
@router.get("/api/3/", include_in_schema=False)
def api_version() -> JSONResponse:
    return JSONResponse({"version": 3})


def help_show(db: Session, actor: Actor, params: dict[str, Any]) -> str:
    """Return the help text of an action (name)."""
    del db, actor
    action = ACTIONS.get(str(params.get("name", "")))
    if action is None:
        raise NotFound("没有该接口", message_en="Action function not found")
    return action.help


register_action("help_show", help_show, read_only=True)
