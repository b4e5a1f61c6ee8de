"""CKAN dictionaries of the portal's things: package, resource, organization, group, tag.

Shapes follow CKAN 2.10's ``package_show`` / ``organization_show`` (field names, ``state``, ``type``,
times as naive ISO 8601 in UTC with microseconds), so ``ckanapi`` and CKAN harvesters read them
unchanged. Fields CKAN core has no name for (open type, update frequency, temporal and spatial coverage,
provenance in the catalog) are extra top-level keys, as ckanext-scheming portals add them.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from zhengwu.accounts.models import Department
from zhengwu.opendata.licenses import LICENSES_BY_ID
from zhengwu.opendata.models import Dataset, Distribution, Group

# Namespace of the deterministic ids of organizations (departments have integer keys, CKAN wants ids
# that stay the same on every node and after a re-seed).
_ORG_NAMESPACE = uuid.UUID("6f1b7d52-6a0e-5c0e-9a4f-7a68656e6777")
_NAME_RE = re.compile(r"[^a-z0-9_-]+")


def ckan_time(value: dt.datetime | None) -> str | None:
    """CKAN's time format: naive ISO 8601 in UTC with microseconds."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def org_name(department: Department) -> str:
    """The CKAN name of a department's organization: its code, lower-cased, URL-safe."""
    return org_name_of(department.code, department.id)


def org_name_of(code: str, department_id: int) -> str:
    """:func:`org_name` from the department's code and id alone (for narrow queries)."""
    return _NAME_RE.sub("-", code.lower()).strip("-") or f"org-{department_id}"


def org_id(department: Department) -> str:
    """The CKAN id of a department's organization: a UUID derived from its code."""
    return org_id_of(department.code)


def org_id_of(code: str) -> str:
    """:func:`org_id` from the department's code alone."""
    return str(uuid.uuid5(_ORG_NAMESPACE, code))


def organization_dict(department: Department, *, package_count: int | None = None) -> dict[str, Any]:
    """A department as a CKAN organization."""
    out: dict[str, Any] = {
        "id": org_id(department),
        "name": org_name(department),
        "title": department.name,
        "display_name": department.name,
        "description": "",
        "image_url": "",
        "image_display_url": "",
        "type": "organization",
        "is_organization": True,
        "approval_status": "approved",
        "state": "active" if department.is_active else "deleted",
        "created": ckan_time(department.created_at),
        "region_code": department.region_code,
    }
    if package_count is not None:
        out["package_count"] = package_count
    return out


def group_dict(group: Group, *, package_count: int | None = None) -> dict[str, Any]:
    """A topic as a CKAN group."""
    out: dict[str, Any] = {
        "id": group.uuid,
        "name": group.name,
        "title": group.title,
        "display_name": group.title,
        "description": group.description,
        "image_url": "",
        "image_display_url": "",
        "type": "group",
        "is_organization": False,
        "approval_status": "approved",
        "state": "active",
        "created": ckan_time(group.created),
    }
    if package_count is not None:
        out["package_count"] = package_count
    return out


def resource_dict(dist: Distribution, package_uuid: str, *, datastore_active: bool = False) -> dict[str, Any]:
    """A distribution as a CKAN resource (``datastore_active`` when its table is in the datastore)."""
    return {
        "id": dist.uuid,
        "package_id": package_uuid,
        "name": dist.name,
        "description": dist.description,
        "url": dist.url,
        "format": dist.format,
        "mimetype": dist.mimetype or None,
        "size": dist.size,
        "position": dist.position,
        "created": ckan_time(dist.created),
        "last_modified": ckan_time(dist.last_modified),
        "metadata_modified": ckan_time(dist.last_modified or dist.created),
        "state": "active",
        "url_type": None,
        "hash": "",
        "cache_url": None,
        "datastore_active": datastore_active,
    }


def package_dict(
    dataset: Dataset,
    department: Department,
    groups: list[Group],
    *,
    catalog_url: str | None = None,
    datastore_ids: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """A dataset as CKAN's ``package_show`` answers it."""
    lic = LICENSES_BY_ID.get(dataset.license_id)
    tags = [
        {"id": None, "name": t.name, "display_name": t.name, "state": "active", "vocabulary_id": None}
        for t in dataset.tags
    ]
    return {
        "id": dataset.uuid,
        "name": dataset.name,
        "title": dataset.title,
        "notes": dataset.notes,
        "type": "dataset",
        "state": str(dataset.state),
        "private": dataset.private,
        "author": department.name,
        "author_email": None,
        "maintainer": dataset.maintainer or None,
        "maintainer_email": dataset.maintainer_email or None,
        "license_id": dataset.license_id or None,
        "license_title": lic.title if lic else (dataset.license_id or None),
        "license_url": lic.url if lic else None,
        "isopen": bool(lic and lic.is_open),
        "url": dataset.url,
        "version": dataset.version or None,
        "owner_org": org_id(department),
        "organization": organization_dict(department),
        "creator_user_id": None,
        "metadata_created": ckan_time(dataset.metadata_created),
        "metadata_modified": ckan_time(dataset.metadata_modified),
        "num_resources": len(dataset.distributions),
        "num_tags": len(tags),
        "tags": tags,
        "groups": [
            {
                "id": g.uuid,
                "name": g.name,
                "title": g.title,
                "display_name": g.title,
                "description": g.description,
                "image_display_url": "",
            }
            for g in groups
        ],
        "resources": [
            resource_dict(d, dataset.uuid, datastore_active=d.uuid in datastore_ids)
            for d in dataset.distributions
        ],
        "extras": [{"key": k, "value": v} for k, v in sorted(dataset.extras.items())],
        "relationships_as_object": [],
        "relationships_as_subject": [],
        # The portal's own fields (ckanext-scheming style top-level keys).
        "open_type": dataset.open_type,
        "open_conditions": dataset.open_conditions,
        "update_frequency": dataset.update_frequency,
        "temporal_start": dataset.temporal_start.isoformat() if dataset.temporal_start else None,
        "temporal_end": dataset.temporal_end.isoformat() if dataset.temporal_end else None,
        "spatial": dataset.spatial_region_code or None,
        "provenance": {
            "catalog_code": dataset.catalog_code,
            "catalog_version": dataset.catalog_version,
            "catalog_url": catalog_url,
        }
        if dataset.catalog_code
        else None,
        "element_treatments": [
            {
                "name_en": t.name_en,
                "name": t.name,
                "sensitivity": t.sensitivity,
                "treatment": str(t.treatment),
            }
            for t in dataset.treatments
        ],
    }
