"""Frozen snapshots of an entry's content and the field-level difference of two of them.

A snapshot is plain JSON (stored in ``catalog_resource_versions.snapshot``): every content field of the
entry as published plus its data elements, so any published version can be shown and compared even
after the working copy has moved on. Pure functions, no database access.
"""

from __future__ import annotations

from typing import Any

from zhengwu.catalog.models import DataElement, Resource
from zhengwu.catalog.schemas import ELEMENT_LABELS_ZH, FIELD_LABELS_ZH, ElementChange, ElementOut, FieldChange

SNAPSHOT_FORMAT = 1

# Content fields in the order a person reads them; lifecycle fields are not part of a version.
CONTENT_FIELDS = (
    "name",
    "category",
    "classification",
    "topic_code",
    "summary",
    "format",
    "share_type",
    "share_conditions",
    "share_basis",
    "delivery",
    "open_type",
    "open_conditions",
    "update_frequency",
    "secrecy",
    "source_system",
    "related_codes",
    "keywords",
)
ELEMENT_FIELDS = (
    "name",
    "name_en",
    "data_type",
    "length",
    "identifies_person",
    "sensitivity",
    "description",
)


def _plain(value: Any) -> Any:
    # Enums are StrEnums: store their value so snapshots stay JSON and compare equal across loads.
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def element_dict(element: DataElement) -> dict[str, Any]:
    """The JSON form of one data element."""
    return {f: _plain(getattr(element, f)) for f in ELEMENT_FIELDS}


def snapshot_of(
    resource: Resource,
    *,
    provider_code: str,
    provider_name: str,
    topic_code: str | None,
    topic_name: str | None,
) -> dict[str, Any]:
    """The content of ``resource`` as it stands now, with its provider and topic spelled out."""
    snap: dict[str, Any] = {"format_version": SNAPSHOT_FORMAT}
    for name in CONTENT_FIELDS:
        if name == "topic_code":
            snap[name] = topic_code
        else:
            snap[name] = _plain(getattr(resource, name))
    snap["topic_name"] = topic_name
    snap["provider_id"] = resource.provider_id
    snap["provider_code"] = provider_code
    snap["provider_name"] = provider_name
    snap["elements"] = [element_dict(e) for e in resource.elements]
    return snap


def _element_out(data: dict[str, Any], position: int) -> ElementOut:
    return ElementOut.model_validate({**{f: data.get(f) for f in ELEMENT_FIELDS}, "position": position})


def diff_snapshots(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[list[FieldChange], list[ElementOut], list[ElementOut], list[ElementChange]]:
    """What changed from ``before`` to ``after``: fields, then elements added, removed and changed.

    Elements are matched by their English identifier, the stable name consumers and grants use.
    """
    fields = [
        FieldChange(field=f, label=FIELD_LABELS_ZH.get(f, f), before=before.get(f), after=after.get(f))
        for f in CONTENT_FIELDS
        if before.get(f) != after.get(f)
    ]
    old = {e["name_en"]: (i, e) for i, e in enumerate(before.get("elements", []))}
    new = {e["name_en"]: (i, e) for i, e in enumerate(after.get("elements", []))}
    added = [_element_out(e, i) for key, (i, e) in new.items() if key not in old]
    removed = [_element_out(e, i) for key, (i, e) in old.items() if key not in new]
    changed: list[ElementChange] = []
    for key, (_, e_new) in new.items():
        if key not in old:
            continue
        e_old = old[key][1]
        changes = [
            FieldChange(field=f, label=ELEMENT_LABELS_ZH[f], before=e_old.get(f), after=e_new.get(f))
            for f in ELEMENT_FIELDS
            if e_old.get(f) != e_new.get(f)
        ]
        if changes:
            changed.append(ElementChange(name_en=key, name=str(e_new.get("name", key)), changes=changes))
    return fields, added, removed, changed


def change_note(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """A one-line Chinese summary of a publication, e.g. "修改：共享条件；新增信息项 2 个"."""
    if before is None:
        return "首次发布"
    fields, added, removed, changed = diff_snapshots(before, after)
    parts: list[str] = []
    if fields:
        parts.append("修改：" + "、".join(c.label for c in fields))
    if added:
        parts.append(f"新增信息项 {len(added)} 个")
    if removed:
        parts.append(f"删除信息项 {len(removed)} 个")
    if changed:
        parts.append(f"修改信息项 {len(changed)} 个")
    return "；".join(parts) or "内容无变化"
