"""ckanext-showcase's actions in the portal's CKAN registry (``/api/3/action/ckanext_showcase_*``).

Parameter and result shapes follow ckanext-showcase: ``showcase_id`` / ``package_id`` name a showcase
and a dataset by id or name; a showcase is a package dictionary of type ``showcase``. Unlike the
extension, where only sysadmins and showcase admins create, any registered user may submit a showcase:
it stays hidden until an operator approves it (on the moderation page).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.errors import ValidationError
from zhengwu.opendata.ckan.actions import param_int, param_str, register_action
from zhengwu.opendata.showcase import services


def _required(params: dict[str, Any], name: str) -> str:
    value = param_str(params, name).strip()
    if not value:
        raise ValidationError(
            f"缺少 {name}",
            message_en="Missing value",
            code="opendata.param",
            field=name,
            errors=[{"field": name, "reason": "Missing value"}],
        )
    return value


def ckanext_showcase_create(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Submit a showcase: title, notes, url, image_url, author, name, datasets; approved before shown."""
    return services.showcase_create(db, actor=actor, payload=params)


def ckanext_showcase_show(db: Session, actor: Actor, params: dict[str, Any]) -> dict[str, Any]:
    """Return one showcase by id or name."""
    ref = param_str(params, "id") or param_str(params, "name")
    return services.showcase_get(db, actor=actor, ref=ref or _required(params, "id"))


def ckanext_showcase_list(db: Session, actor: Actor, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the approved showcases, newest first (limit, offset)."""
    _, items = services.showcase_list(
        db,
        actor=actor,
        limit=param_int(params, "limit", 1000, maximum=1000),
        offset=param_int(params, "offset", 0),
    )
    return items


def ckanext_showcase_package_association_create(
    db: Session, actor: Actor, params: dict[str, Any]
) -> dict[str, str]:
    """Link a dataset to a showcase: package_id, showcase_id (its submitter or an operator)."""
    package = _required(params, "package_id")
    showcase = _required(params, "showcase_id")
    return services.showcase_dataset_add(db, actor=actor, showcase=showcase, dataset=package)


def ckanext_showcase_package_list(db: Session, actor: Actor, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the datasets a showcase uses: showcase_id."""
    return services.showcase_datasets(db, actor=actor, showcase=_required(params, "showcase_id"))


def ckanext_package_showcase_list(db: Session, actor: Actor, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the approved showcases that use a dataset: package_id."""
    return services.dataset_showcases(db, actor=actor, dataset=_required(params, "package_id"))


for _handler, _read in (
    (ckanext_showcase_create, False),
    (ckanext_showcase_show, True),
    (ckanext_showcase_list, True),
    (ckanext_showcase_package_association_create, False),
    (ckanext_showcase_package_list, True),
    (ckanext_package_showcase_list, True),
):
    register_action(_handler.__name__, _handler, read_only=_read)
