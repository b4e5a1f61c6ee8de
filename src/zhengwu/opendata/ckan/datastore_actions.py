"""CKAN's datastore actions in the portal's action registry.

``datastore_search``, ``datastore_search_sql``, ``datastore_info``, ``datastore_create`` and
``datastore_delete`` take CKAN's parameter shapes (``filters`` a JSON object or its text, ``fields``
a list or a comma list, ``sort`` ``"col desc, col2"``, ``limit``/``offset``, ``include_total``) and
answer in the registry's envelope. A table is reachable only through its resource: the resource's
dataset must be visible to the caller (active and public, or managed by the caller), so a private or
deleted dataset's table is "not found" to the public. ``datastore_search_sql`` reads open tables only;
the opendata use cases open and close a dataset's tables with its visibility.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.errors import ValidationError
from zhengwu.opendata import services
from zhengwu.opendata.access import usage as access
from zhengwu.opendata.ckan.actions import param_bool, param_int, param_str, register_action
from zhengwu.opendata.datastore import services as datastore

MAX_LIMIT = 32_000  # CKAN's ckan.datastore.search.rows_max default


def _invalid(name: str, message_en: str, message: str) -> ValidationError:
    return ValidationError(
        message,
        message_en=message_en,
        code="opendata.param",
        field=name,
        errors=[{"field": name, "reason": message_en}],
    )


def _resource_id(params: dict[str, Any]) -> str:
    value = params.get("resource_id", params.get("id"))
    if not isinstance(value, str) or not value.strip():
        raise _invalid("resource_id", "Missing value", "缺少 resource_id")
    return value.strip()


def _json_value(params: dict[str, Any], name: str, kinds: tuple[type, ...]) -> Any:
    """A parameter that is JSON (object or list) in a body, or its JSON text in a query string."""
    value = params.get(name)
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.strip().startswith(("{", "[")):
        try:
            value = json.loads(value)
        except ValueError:
            raise _invalid(name, "Cannot parse JSON", f"参数 {name} 不是合法的 JSON") from None
    if not isinstance(value, kinds):
        raise _invalid(name, "Invalid value type", f"参数 {name} 的类型无效")
    return value


def _readable(db: Session, actor: Actor, resource_id: str) -> None:
    """NotFound unless the resource exists and its dataset is visible to ``actor``."""
    services.distribution_check_readable(db, actor=actor, ref=resource_id)


def datastore_search(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Search a resource's table: resource_id, filters, q, fields, sort, limit, offset, include_total."""
    resource_id = _resource_id(params)
    if param_str(params, "records_format", "objects") != "objects":
        raise _invalid("records_format", "Only 'objects' is supported", "仅支持 records_format=objects")
    dist = services.distribution_get(db, actor=actor, ref=resource_id)
    # A conditional dataset's data needs its key (or the provider's rights); the use is recorded.
    use = access.data_access_check(
        db,
        actor=actor,
        dataset_id=services.dataset_by_ref(db, str(dist["package_id"])).id,
        action="datastore_search",
    )
    result = datastore.datastore_search(
        db,
        actor=access.reader(actor, use),
        resource_id=resource_id,
        filters=_json_value(params, "filters", (dict,)),
        q=_json_value(params, "q", (str, dict)),
        fields=_json_value(params, "fields", (str, list)),
        sort=_json_value(params, "sort", (str, list)),
        limit=param_int(params, "limit", 100, maximum=MAX_LIMIT),
        offset=param_int(params, "offset", 0),
        include_total=param_bool(params, "include_total", True),
        distinct=param_bool(params, "distinct", False),
    )
    access.usage_record(db, use, rows=len(result["records"]))
    return result


def datastore_search_sql(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """One read-only, time-limited SELECT over open tables (named by resource id): sql."""
    sql = param_str(params, "sql")
    if not sql.strip():
        raise _invalid("sql", "Missing value", "缺少 sql")
    return datastore.datastore_search_sql(db, actor=actor, sql=sql)


def datastore_info(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """The fields and row count of a resource's table: id (or resource_id)."""
    resource_id = _resource_id(params)
    _readable(db, actor, resource_id)
    return datastore.datastore_info(db, actor=actor, resource_id=resource_id)


def datastore_create(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Load inline ``records`` as the table of resource_id (replacing it); fields types, indexes."""
    resource_id = _resource_id(params)
    dist = services.distribution_get(db, actor=actor, ref=resource_id)
    services.dataset_manage_check(db, actor=actor, ref=str(dist["package_id"]))
    records = _json_value(params, "records", (list,))
    if records is None or not all(isinstance(r, dict) for r in records):
        raise _invalid("records", "Must be a list of objects", "records 应为对象数组")
    fields = _json_value(params, "fields", (list,)) or []
    types = {
        str(f["id"]): str(f["type"]) for f in fields if isinstance(f, dict) and "id" in f and "type" in f
    }
    indexes = _json_value(params, "indexes", (str, list))
    if isinstance(indexes, str):
        indexes = [i.strip() for i in indexes.split(",") if i.strip()]
    out = datastore.datastore_create(
        db,
        actor=actor,
        resource_id=resource_id,
        records=records,
        types=types or None,
        indexes=indexes,
        is_open=services.dataset_is_public(db, ref=str(dist["package_id"])),
    )
    services.reindex(db, services.dataset_by_ref(db, str(dist["package_id"])))
    return {
        "resource_id": out.resource_id,
        "fields": [f.model_dump() for f in out.fields],
        "method": "insert",
        "total": out.row_count,
    }


def datastore_delete(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Drop the table of resource_id (the resource itself stays)."""
    resource_id = _resource_id(params)
    dist = services.distribution_get(db, actor=actor, ref=resource_id)
    services.dataset_manage_check(db, actor=actor, ref=str(dist["package_id"]))
    datastore.datastore_delete(db, actor=actor, resource_id=resource_id)
    services.reindex(db, services.dataset_by_ref(db, str(dist["package_id"])))
    return {"resource_id": resource_id}


for _handler, _read in (
    (datastore_search, True),
    (datastore_search_sql, True),
    (datastore_info, True),
    (datastore_create, False),
    (datastore_delete, False),
):
    register_action(_handler.__name__, _handler, read_only=_read)
