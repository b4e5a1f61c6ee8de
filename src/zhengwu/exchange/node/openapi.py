"""OpenAPI 3 descriptions of published services, generated from the reflected table schema.

One document per service (the directory keeps one OpenAPI document per service): the list path
``/rows``, the change feed ``/changes`` when configured, each published column as a property with its
type, nullability and length, and a query parameter per column and operator a caller may use.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

from zhengwu.exchange.node.schemas import NodeConfig
from zhengwu.exchange.node.services import OPERATORS, PublishedService

OPENAPI_VERSION = "3.0.3"
AUTH_HEADER = "Authorization"

_ORDERED = frozenset({int, float, decimal.Decimal, dt.date, dt.datetime, dt.time, str})


def column_schema(service: PublishedService, name: str) -> dict[str, Any]:
    """The JSON schema of one published column as the node serialises it."""
    column = service.columns[name]
    kind = service.python_types[name]
    schema: dict[str, Any]
    if kind is bool:
        schema = {"type": "boolean"}
    elif kind is int:
        schema = {"type": "integer", "format": "int64"}
    elif kind is float:
        schema = {"type": "number", "format": "double"}
    elif kind is decimal.Decimal:
        # Sent as text so no digit is lost in a JSON double.
        schema = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
    elif kind is dt.datetime:
        schema = {"type": "string", "format": "date-time"}
    elif kind is dt.date:
        schema = {"type": "string", "format": "date"}
    elif kind is dt.time:
        schema = {"type": "string", "format": "time"}
    elif kind is bytes:
        schema = {"type": "string", "format": "byte"}
    elif kind is uuid.UUID:
        schema = {"type": "string", "format": "uuid"}
    else:
        schema = {"type": "string"}
        length = getattr(column.type, "length", None)
        if isinstance(length, int):
            schema["maxLength"] = length
    if column.nullable:
        schema["nullable"] = True
    comment = getattr(column, "comment", None)
    if comment:
        schema["description"] = str(comment)
    return schema


def _filter_parameters(service: PublishedService) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in service.columns:
        kind = service.python_types[name]
        if kind not in _ORDERED and kind is not bool and kind is not uuid.UUID:
            continue
        base = column_schema(service, name)
        base.pop("nullable", None)
        params.append(
            {"name": name, "in": "query", "required": False, "description": f"{name} 等于", "schema": base}
        )
        for op in OPERATORS:
            if op == "eq":
                continue
            if op in ("lt", "lte", "gt", "gte") and kind not in _ORDERED:
                continue
            if op == "startswith" and kind is not str:
                continue
            schema: dict[str, Any] = (
                {"type": "boolean"} if op == "isnull" else {"type": "string"} if op == "in" else base
            )
            params.append({"name": f"{name}__{op}", "in": "query", "required": False, "schema": schema})
    return params


def service_openapi(
    config: NodeConfig, service: PublishedService, *, server_url: str | None = None
) -> dict[str, Any]:
    """The OpenAPI 3 document of one published service."""
    spec = service.spec
    row = {
        "type": "object",
        "properties": {name: column_schema(service, name) for name in service.columns},
    }
    page_params: list[dict[str, Any]] = [
        {
            "name": "limit",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": min(config.max_limit, spec.max_limit or config.max_limit),
            },
        },
        {"name": "fields", "in": "query", "description": "逗号分隔的列名", "schema": {"type": "string"}},
    ]
    errors = {
        "400": {
            "description": "参数有误（未知列、类型不符、游标无效）",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
        "401": {
            "description": "缺少或错误的访问令牌",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    }
    paths: dict[str, Any] = {
        "/rows": {
            "get": {
                "operationId": f"{spec.code}_rows",
                "summary": f"{spec.title or spec.code}：按条件分页查询",
                "parameters": [
                    *page_params,
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {
                        "name": "after",
                        "in": "query",
                        "description": "上一页的 next_after",
                        "schema": {"type": "string"},
                    },
                    *_filter_parameters(service),
                ],
                "responses": {
                    "200": {
                        "description": "一页数据",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}},
                    },
                    **errors,
                },
            }
        }
    }
    if spec.change_column:
        paths["/changes"] = {
            "get": {
                "operationId": f"{spec.code}_changes",
                "summary": f"{spec.title or spec.code}：自游标以来变更的行（不含删除）",
                "description": (
                    f"按 {spec.change_column} 与键排序。看不到：删除的行、两次轮询之间的中间版本、"
                    f"{spec.change_column} 为空的行、晚于更大时间戳提交的长事务所写的行。"
                ),
                "parameters": [
                    *page_params,
                    {
                        "name": "since",
                        "in": "query",
                        "description": "上次返回的 next_since",
                        "schema": {"type": "string"},
                    },
                    *_filter_parameters(service),
                ],
                "responses": {
                    "200": {
                        "description": "变更的行",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ChangePage"}}
                        },
                    },
                    **errors,
                },
            }
        }
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": spec.title or spec.code,
            "version": "1",
            "description": spec.description or f"前置机发布的{spec.table}",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"nodeToken": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Row": row,
                "Page": {
                    "type": "object",
                    "required": ["items", "limit", "offset"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
                        "limit": {"type": "integer"},
                        "offset": {"type": "integer"},
                        "next_after": {"type": "string", "nullable": True},
                    },
                },
                "ChangePage": {
                    "type": "object",
                    "required": ["items", "has_more"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
                        "next_since": {"type": "string", "nullable": True},
                        "has_more": {"type": "boolean"},
                    },
                },
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "message_en": {"type": "string"},
                                "field": {"type": "string", "nullable": True},
                            },
                        }
                    },
                },
            },
        },
        "security": [{"nodeToken": []}],
    }
    if server_url:
        doc["servers"] = [{"url": server_url.rstrip("/")}]
    return doc
