"""GovStack Digital Registries BB data API 1.3.0 under ``/govstack``.

``/govstack/data/{registryname}/{versionnumber}``, ``.../exists``, ``.../read``, ``.../create``,
``.../update``, ``.../update-or-create``, ``.../{ID}/delete`` and
``/govstack/data/MyPersonalDataUsage/1.0`` (also ``/govstack/data/myPersonalDataUsage``).

``/govstack`` stands where the template's server URL (an Information Mediator security server path)
stands. Authentication is the platform's API token (``Authorization: Bearer``), as for every API;
``Information-Mediator-Client`` is required. Errors answer ``{"detail": ...}`` as the template's
servers do; a read that finds nothing answers 404 ``{"detail": "no record found"}``.

Registries: ``population`` and ``entities`` (:mod:`.services`), ``credit`` (:mod:`.credit`) and
``addresses`` (:mod:`.addresses`), the last two read-only (writes answer 403 ``govstack.read_only``).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Body, Header, Request, Response
from fastapi.responses import JSONResponse

from zhengwu.errors import ValidationError, ZhengwuError
from zhengwu.registries.govstack.addresses import address_exists, address_list, address_read
from zhengwu.registries.govstack.credit import credit_exists, credit_list, credit_read
from zhengwu.registries.govstack.services import (
    ReadOnlyRegistry,
    caller_of,
    personal_data_usage,
    read_only_refused,
    record_delete,
    record_exists,
    record_list,
    record_read,
    record_write,
    registry_of,
)
from zhengwu.web.deps import AppSettings, CurrentActor, DbSession
from zhengwu.web.errors import register_error_renderer

PREFIX = "/govstack"
router = APIRouter(prefix=PREFIX, tags=["govstack"])

ClientHeader = Annotated[str | None, Header(alias="Information-Mediator-Client")]
IssueHeader = Annotated[str | None, Header(alias="X-Road-Issue")]
Query = Annotated[dict[str, Any], Body(embed=True)]


def _render(request: Request, exc: ZhengwuError, status: int) -> Response:
    if exc.code == "govstack.not_found":
        return JSONResponse({"detail": "no record found"}, status_code=404)
    body: dict[str, Any] = {"detail": exc.message_en or exc.message, "code": exc.code, "message": exc.message}
    if exc.field:
        body["field"] = exc.field
    return JSONResponse(body, status_code=status)


register_error_renderer(PREFIX + "/", _render)


def _content(part: dict[str, Any], name: str) -> dict[str, Any]:
    content = part.get("content")
    if not isinstance(content, dict):
        raise ValidationError(
            f'请求体须为 {{"{name}": {{"content": {{...}}}}}}',
            message_en=f'the body must be {{"{name}": {{"content": {{...}}}}}}',
            code="govstack.body",
            field=f"{name}.content",
        )
    return content


@router.get("/data/MyPersonalDataUsage/1.0", summary="谁读取了我的个人数据（MyPersonalDataUsage）")
@router.get("/data/myPersonalDataUsage", summary="谁读取了我的个人数据（MyPersonalDataUsage）")
def api_usage(
    db: DbSession,
    actor: CurrentActor,
    client: ClientHeader = None,
    issue: IssueHeader = None,
    userID: str = "",  # noqa: N803 - the template's parameter name
    DatabaseID: str | None = None,  # noqa: N803
) -> list[dict[str, Any]]:
    caller = caller_of(client, issue)
    return personal_data_usage(db, actor=actor, user_id=userID, database_id=DatabaseID, caller=caller)


@router.get("/data/{registryname}/{versionnumber}", summary="列表与检索（search/filter/page）")
def api_list(
    registryname: str,
    versionnumber: str,
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    client: ClientHeader = None,
    issue: IssueHeader = None,
    search: str | None = None,
    filter: str | None = None,  # the template's parameter name
    ordering: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> dict[str, Any]:
    caller = caller_of(client, issue)
    registry = registry_of(registryname, versionnumber)
    filters = {k[len("query.") :]: v for k, v in request.query_params.items() if k.startswith("query.")}
    if filter and search and filter not in filters:
        # "filter" names the field the "search" text applies to.
        filters[filter] = search
        search = None
    if isinstance(registry, ReadOnlyRegistry):
        listing = credit_list if registry is ReadOnlyRegistry.CREDIT else address_list
        count, results, page, page_size = listing(
            db,
            actor=actor,
            search=search,
            filters=filters,
            ordering=ordering,
            page=page,
            page_size=page_size,
            caller=caller,
        )
    else:
        count, results, page, page_size = record_list(
            db,
            actor=actor,
            registry=registry,
            search=search,
            filters=filters,
            ordering=ordering,
            page=page,
            page_size=page_size,
        )

    def link(number: int) -> str:
        params = dict(request.query_params) | {"page": str(number), "page_size": str(page_size)}
        return f"{request.url.path}?{urlencode(params)}"

    return {
        "count": count,
        "next": link(page + 1) if page * page_size < count else None,
        "previous": link(page - 1) if page > 1 else None,
        "results": results,
    }


@router.post("/data/{registryname}/{versionnumber}/exists", summary="是否存在（可带名称即核验）")
def api_exists(
    registryname: str,
    versionnumber: str,
    db: DbSession,
    actor: CurrentActor,
    query: Query,
    client: ClientHeader = None,
    issue: IssueHeader = None,
) -> dict[str, Any]:
    caller = caller_of(client, issue)
    registry = registry_of(registryname, versionnumber)
    content = _content(query, "query")
    if registry is ReadOnlyRegistry.CREDIT:
        found = credit_exists(db, actor=actor, query=content, caller=caller)
    elif registry is ReadOnlyRegistry.ADDRESSES:
        found = address_exists(db, actor=actor, query=content, caller=caller)
    else:
        found = record_exists(db, actor=actor, registry=registry, query=content, caller=caller)
    message = "Object found from database" if found else "Object not found from database"
    return {"answer": {"status": found, "message": message}}


@router.post("/data/{registryname}/{versionnumber}/read", summary="读取一条记录（默认脱敏）")
def api_read(
    registryname: str,
    versionnumber: str,
    db: DbSession,
    actor: CurrentActor,
    query: Query,
    client: ClientHeader = None,
    issue: IssueHeader = None,
) -> dict[str, Any]:
    caller = caller_of(client, issue)
    registry = registry_of(registryname, versionnumber)
    content = _content(query, "query")
    if registry is ReadOnlyRegistry.CREDIT:
        return {"content": credit_read(db, actor=actor, query=content, caller=caller)}
    if registry is ReadOnlyRegistry.ADDRESSES:
        return {"content": address_read(db, actor=actor, query=content, caller=caller)}
    return {"content": record_read(db, actor=actor, registry=registry, query=content, caller=caller)}


def _write(
    mode: str,
    registryname: str,
    versionnumber: str,
    body: dict[str, Any],
    db: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    client: str | None,
    issue: str | None,
) -> dict[str, Any]:
    caller = caller_of(client, issue)
    registry = registry_of(registryname, versionnumber)
    if isinstance(registry, ReadOnlyRegistry):
        raise read_only_refused(actor, registry)
    write = body.get("write") if isinstance(body, dict) else None
    query = body.get("query") if isinstance(body, dict) else None
    content = _content(write if isinstance(write, dict) else {}, "write")
    query_content = _content(query, "query") if isinstance(query, dict) else None
    return record_write(
        db,
        actor=actor,
        registry=registry,
        query=query_content,
        content=content,
        caller=caller,
        mode=mode,
        error_dir=settings.data_dir / "registries" / "errors",
    )


@router.post("/data/{registryname}/{versionnumber}/create", summary="新建记录（基础库管理者）")
def api_create(
    registryname: str,
    versionnumber: str,
    db: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    body: Annotated[dict[str, Any], Body()],
    client: ClientHeader = None,
    issue: IssueHeader = None,
) -> dict[str, Any]:
    content = _write("create", registryname, versionnumber, body, db, actor, settings, client, issue)
    return {"content": content}


@router.put("/data/{registryname}/{versionnumber}/update", summary="更新记录（基础库管理者）")
def api_update(
    registryname: str,
    versionnumber: str,
    db: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    body: Annotated[dict[str, Any], Body()],
    client: ClientHeader = None,
    issue: IssueHeader = None,
) -> dict[str, Any]:
    content = _write("update", registryname, versionnumber, body, db, actor, settings, client, issue)
    return {"content": content}


@router.post("/data/{registryname}/{versionnumber}/update-or-create", summary="更新或新建（基础库管理者）")
def api_update_or_create(
    registryname: str,
    versionnumber: str,
    db: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    body: Annotated[dict[str, Any], Body()],
    client: ClientHeader = None,
    issue: IssueHeader = None,
) -> dict[str, Any]:
    content = _write("upsert", registryname, versionnumber, body, db, actor, settings, client, issue)
    return {"content": content}


@router.delete(
    "/data/{registryname}/{versionnumber}/{ID}/delete", status_code=204, summary="删除（结束当前状态）"
)
def api_delete(
    registryname: str,
    versionnumber: str,
    ID: str,  # noqa: N803 - the template's parameter name
    db: DbSession,
    actor: CurrentActor,
    client: ClientHeader = None,
    issue: IssueHeader = None,
) -> Response:
    caller = caller_of(client, issue)
    registry = registry_of(registryname, versionnumber)
    if isinstance(registry, ReadOnlyRegistry):
        raise read_only_refused(actor, registry)
    record_delete(db, actor=actor, registry=registry, key=ID, caller=caller)
    return Response(status_code=204)
