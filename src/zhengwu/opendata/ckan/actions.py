"""The CKAN action registry: action name → handler, and the core actions of the portal.

A handler takes the database session, the caller and the action's parameters (a dict as CKAN's
``data_dict``: typed values from a JSON body, strings from a query string) and returns the ``result``.
Other parts of the portal add their actions with :func:`register_action` (the data store registers
``datastore_search`` and ``datastore_search_sql`` this way), so this module never imports them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from zhengwu import __version__
from zhengwu.accounts.permissions import Actor
from zhengwu.errors import ValidationError
from zhengwu.opendata import directory, services
from zhengwu.opendata.stats.services import package_tracking
from zhengwu.opendata.tabular import Upload, distribution_reupload, distribution_upload

Handler = Callable[[Session, Actor, dict[str, Any]], Any]


@dataclass(frozen=True)
class Action:
    """One registered action: its handler, whether GET may call it, and its help text."""

    name: str
    handler: Handler
    read_only: bool
    help: str


ACTIONS: dict[str, Action] = {}


def register_action(name: str, handler: Handler, *, read_only: bool = False, help: str = "") -> None:
    """Add (or replace) an action. ``read_only`` actions also answer GET, as CKAN's get.py actions do."""
    ACTIONS[name] = Action(
        name=name, handler=handler, read_only=read_only, help=help or (handler.__doc__ or "")
    )


def get_action(name: str) -> Action | None:
    """The registered action of that name, if any."""
    return ACTIONS.get(name)


# --- Parameter parsing (CKAN's validators, for values that arrive as query-string text) --------------


def param_str(params: dict[str, Any], name: str, default: str = "") -> str:
    value = params.get(name, default)
    if value is None:
        return default
    if isinstance(value, list | dict):
        raise _invalid(name, "Must be a string")
    return str(value)


def param_int(params: dict[str, Any], name: str, default: int, *, maximum: int | None = None) -> int:
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        raise _invalid(name, "Invalid integer") from None
    if number < 0:
        raise _invalid(name, "Must be a natural number")
    return min(number, maximum) if maximum is not None else number


def param_bool(params: dict[str, Any], name: str, default: bool = False) -> bool:
    value = params.get(name)
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise _invalid(name, "Must be a boolean")


def param_list(params: dict[str, Any], name: str) -> list[str]:
    """A list parameter: a JSON list, or (from a query string) a JSON-encoded list or a single value."""
    value = params.get(name)
    if value in (None, ""):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise _invalid(name, "Must be a JSON list") from None
        else:
            value = [text]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(name, "Must be a list of strings")
    return value


def _invalid(name: str, message: str) -> ValidationError:
    return ValidationError(
        f"参数 {name} 无效",
        message_en=message,
        code="opendata.param",
        field=name,
        errors=[{"field": name, "reason": message}],
    )


def _id(params: dict[str, Any]) -> str:
    ref = param_str(params, "id") or param_str(params, "name")
    if not ref:
        raise _invalid("id", "Missing value")
    return ref


# --- Core actions ------------------------------------------------------------------------------------


def status_show(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Return the site's status: CKAN version, site title, extensions."""
    del db, actor, params
    return {
        "ckan_version": "2.10.4",
        "site_url": "",
        "site_description": "公共数据开放网站",
        "site_title": "公共数据开放网站",
        "error_emails_to": None,
        "locale_default": "zh_Hans_CN",
        "extensions": ["zhengwu", f"zhengwu-{__version__}", "datastore"],
    }


def site_read(db: Session, actor: Actor, params: dict[str, Any]) -> bool:
    """Return True: the site may be read (removed in CKAN 2.11, kept for older clients)."""
    del db, actor, params
    return True


def package_list(db: Session, actor: Actor, params: dict[str, Any]) -> list[str]:
    """Return the names of the site's public datasets (limit, offset)."""
    return services.dataset_list(
        db,
        actor=actor,
        limit=param_int(params, "limit", services.MAX_LIST),
        offset=param_int(params, "offset", 0),
    )


def package_search(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Search datasets: q, fq, rows, start, sort, facet, facet.field, facet.limit, include_private."""
    facet = param_bool(params, "facet", True)
    return services.dataset_search(
        db,
        actor=actor,
        q=param_str(params, "q"),
        fq=param_str(params, "fq") + " " + " ".join(param_list(params, "fq_list")),
        rows=param_int(params, "rows", 10, maximum=1000),
        start=param_int(params, "start", 0),
        sort=param_str(params, "sort"),
        facet_fields=param_list(params, "facet.field") if facet else [],
        facet_limit=_facet_limit(params),
        facet_mincount=param_int(params, "facet.mincount", 1),
        include_private=param_bool(params, "include_private"),
    )


def _facet_limit(params: dict[str, Any]) -> int:
    # Solr's facet.limit: -1 means no limit.
    raw = param_str(params, "facet.limit", "50").strip()
    if raw == "-1":
        return 10_000
    return param_int({"facet.limit": raw}, "facet.limit", 50, maximum=10_000)


def package_show(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Return one dataset by id or name; include_tracking adds views/downloads (tracking_summary)."""
    package = services.dataset_get(db, actor=actor, ref=_id(params))
    if param_bool(params, "include_tracking"):
        package = package_tracking(db, package)
    return package


def package_create(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Create a dataset (name, title, notes, owner_org, tags, groups, resources, ...)."""
    return services.dataset_create(db, actor=actor, payload=params)


def package_update(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Update a dataset: every field not given is reset."""
    return services.dataset_update(db, actor=actor, ref=_id(params), payload=params)


def package_patch(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Update only the given fields of a dataset."""
    ref = _id(params)
    payload = {k: v for k, v in params.items() if k != "id"}
    return services.dataset_update(db, actor=actor, ref=ref, payload=payload, patch=True)


def package_delete(db: Session, actor: Actor, params: dict[str, Any]) -> None:
    """Delete a dataset (its state becomes deleted)."""
    services.dataset_delete(db, actor=actor, ref=_id(params))


def resource_show(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Return one resource (distribution) by id."""
    return services.distribution_get(db, actor=actor, ref=_id(params))


def resource_create(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Add a resource to package_id; a CSV/XLSX/JSON file in ``upload`` is loaded into the datastore."""
    upload = params.get("upload")
    if isinstance(upload, Upload):
        return distribution_upload(db, actor=actor, payload=params, upload=upload)
    return services.distribution_create(db, actor=actor, payload=params)


def resource_update(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Update a resource: every field not given is reset; a file in ``upload`` replaces its table."""
    upload = params.get("upload")
    if isinstance(upload, Upload):
        return distribution_reupload(db, actor=actor, ref=_id(params), payload=params, upload=upload)
    return services.distribution_update(db, actor=actor, ref=_id(params), payload=params)


def resource_patch(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Update only the given fields of a resource; a file in ``upload`` replaces its table."""
    upload = params.get("upload")
    if isinstance(upload, Upload):
        return distribution_reupload(db, actor=actor, ref=_id(params), payload=params, upload=upload)
    return services.distribution_update(db, actor=actor, ref=_id(params), payload=params, patch=True)


def resource_delete(db: Session, actor: Actor, params: dict[str, Any]) -> None:
    """Delete a resource."""
    services.distribution_delete(db, actor=actor, ref=_id(params))


def organization_list(db: Session, actor: Actor, params: dict[str, Any]) -> list[Any]:
    """Return the publishers' names (all_fields for dictionaries), limit, offset."""
    return directory.organization_list(
        db,
        actor=actor,
        all_fields=param_bool(params, "all_fields"),
        limit=param_int(params, "limit", directory.MAX_LIST),
        offset=param_int(params, "offset", 0),
    )


def organization_show(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Return one publisher by id or name."""
    return directory.organization_get(db, actor=actor, ref=_id(params))


def group_list(db: Session, actor: Actor, params: dict[str, Any]) -> list[Any]:
    """Return the topics' names (all_fields for dictionaries), limit, offset."""
    return directory.group_list(
        db,
        actor=actor,
        all_fields=param_bool(params, "all_fields"),
        limit=param_int(params, "limit", directory.MAX_LIST),
        offset=param_int(params, "offset", 0),
    )


def group_show(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Return one topic by id or name."""
    return directory.group_get(db, actor=actor, ref=_id(params))


def tag_list(db: Session, actor: Actor, params: dict[str, Any]) -> list[str]:
    """Return the tags of public datasets (query filters them)."""
    return directory.tag_list(
        db,
        actor=actor,
        query=param_str(params, "query"),
        limit=param_int(params, "limit", directory.MAX_LIST),
        offset=param_int(params, "offset", 0),
    )


def license_list(db: Session, actor: Actor, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the licences a dataset may carry."""
    del db, params
    return directory.license_list(actor=actor)


for _handler, _read in (
    (status_show, True),
    (site_read, True),
    (package_list, True),
    (package_search, True),
    (package_show, True),
    (package_create, False),
    (package_update, False),
    (package_patch, False),
    (package_delete, False),
    (resource_show, True),
    (resource_create, False),
    (resource_update, False),
    (resource_patch, False),
    (resource_delete, False),
    (organization_list, True),
    (organization_show, True),
    (group_list, True),
    (group_show, True),
    (tag_list, True),
    (license_list, True),
):
    register_action(_handler.__name__, _handler, read_only=_read)
