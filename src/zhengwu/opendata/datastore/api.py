"""HTTP of the datastore: CKAN actions ``datastore_search``, ``datastore_search_sql``, ``datastore_info``
(GET with a query string or POST with a JSON body, in CKAN's envelope) and streamed downloads at
``/datastore/dump/{resource_id}?format=csv|xlsx|json|geojson`` (CKAN's own dump address).

The three action routes are a stand-in until the portal's CKAN action registry calls the services
directly; the download route stays.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session

from zhengwu.db import Database
from zhengwu.errors import ValidationError
from zhengwu.opendata.datastore.dump import datastore_dump
from zhengwu.opendata.datastore.envelope import PREFIX, ckan_error, ckan_success
from zhengwu.opendata.datastore.services import datastore_info, datastore_search, datastore_search_sql
from zhengwu.web.deps import CurrentActor, DbSession
from zhengwu.web.errors import register_error_renderer

router = APIRouter(tags=["opendata-datastore"])
register_error_renderer(PREFIX, ckan_error)


def stream_db(request: Request) -> Iterator[Session]:
    """A session that lives until a streamed download has been sent (not closed when the route returns)."""
    database: Database = request.app.state.database
    with database.session() as session:
        yield session


StreamDb = Annotated[Session, Depends(stream_db)]


async def action_params(request: Request) -> dict[str, Any]:
    """The action's parameters: the JSON body of a POST, else the query string."""
    if request.method == "POST":
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValidationError(
                "请求体不是合法的 JSON", message_en="the body is not valid JSON", code="ckan.json"
            ) from exc
        if not isinstance(body, dict):
            raise ValidationError(
                "请求体应为 JSON 对象", message_en="the body must be a JSON object", code="ckan.json"
            )
        return body
    return dict(request.query_params)


Params = Annotated[dict[str, Any], Depends(action_params)]


def _json_param(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str) and value.strip().startswith(("{", "[")):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"{name} 不是合法的 JSON", message_en=f"{name} is not valid JSON", field=name
            ) from exc
    return value


def _bool(params: dict[str, Any], name: str, default: bool) -> bool:
    value = params.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
        return value.lower() in ("true", "1", "yes")
    raise ValidationError(
        f"{name} 应为 true 或 false", message_en=f"{name} must be true or false", field=name
    )


def _resource_id(params: dict[str, Any]) -> str:
    value = params.get("resource_id", params.get("id"))
    if not isinstance(value, str) or not value:
        raise ValidationError(
            "缺少 resource_id", message_en="Missing value", code="ckan.missing", field="resource_id"
        )
    return value


@router.api_route("/api/3/action/datastore_search", methods=["GET", "POST"], summary="CKAN datastore_search")
def search_action(request: Request, db: DbSession, actor: CurrentActor, params: Params) -> JSONResponse:
    if params.get("records_format", "objects") != "objects":
        raise ValidationError(
            "仅支持 records_format=objects", message_en="only records_format=objects", field="records_format"
        )
    result = datastore_search(
        db,
        actor=actor,
        resource_id=_resource_id(params),
        filters=_json_param(params, "filters"),
        q=_json_param(params, "q"),
        fields=_json_param(params, "fields"),
        sort=_json_param(params, "sort"),
        limit=params.get("limit", 100),
        offset=params.get("offset", 0),
        include_total=_bool(params, "include_total", True),
        distinct=_bool(params, "distinct", False),
    )
    return ckan_success(request, "datastore_search", result)


@router.api_route(
    "/api/3/action/datastore_search_sql", methods=["GET", "POST"], summary="CKAN datastore_search_sql"
)
def search_sql_action(request: Request, db: DbSession, actor: CurrentActor, params: Params) -> JSONResponse:
    sql = params.get("sql")
    if not isinstance(sql, str):
        raise ValidationError("缺少 sql", message_en="Missing value", code="ckan.missing", field="sql")
    return ckan_success(request, "datastore_search_sql", datastore_search_sql(db, actor=actor, sql=sql))


@router.api_route("/api/3/action/datastore_info", methods=["GET", "POST"], summary="CKAN datastore_info")
def info_action(request: Request, db: DbSession, actor: CurrentActor, params: Params) -> JSONResponse:
    return ckan_success(
        request, "datastore_info", datastore_info(db, actor=actor, resource_id=_resource_id(params))
    )


@router.get("/datastore/dump/{resource_id}", summary="下载数据表（CSV、XLSX、JSON、GeoJSON，流式）")
def dump_download(
    resource_id: str,
    db: StreamDb,
    actor: CurrentActor,
    format: Annotated[str, Query(description="csv | xlsx | json | geojson")] = "csv",
) -> StreamingResponse:
    dump = datastore_dump(db, actor=actor, resource_id=resource_id, fmt=format)
    disposition = f"attachment; filename*=UTF-8''{quote(dump.filename)}"
    return StreamingResponse(
        dump.chunks, media_type=dump.media_type, headers={"Content-Disposition": disposition}
    )
