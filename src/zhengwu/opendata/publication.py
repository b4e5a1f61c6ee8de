"""Publishing a catalog entry as an open dataset, behind the sensitivity check of its data elements.

Only an entry whose version in force is published, unclassified and of open type ``open`` or
``conditional`` may be published. Each data element gets a treatment: ``publish`` (values as they are),
``mask``, ``aggregate`` or ``withhold``. The check refuses to publish any element graded above "public",
or any element that identifies a person, as it is; confidential elements may only be aggregated or
withheld. Elements the publisher does not decide on default to "publish" when public and "withhold"
otherwise, so nothing sensitive goes out by omission. The check's result is returned to the publisher
(``dataset_publish_check``) and recorded with the dataset and in the audit trail.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import ValidationError as PydanticError
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department
from zhengwu.accounts.permissions import Actor, require_department_admin
from zhengwu.audit.services import audit_record
from zhengwu.catalog.models import Resource, Sensitivity, label_zh
from zhengwu.catalog.queries import resource_published_content
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotFound, ValidationError
from zhengwu.opendata.directory import group_for_topic
from zhengwu.opendata.models import (
    TREATMENT_LABELS_ZH,
    Dataset,
    DatasetState,
    ElementTreatment,
    Group,
    Treatment,
)
from zhengwu.opendata.packages import org_id
from zhengwu.opendata.schemas import DatasetIn, ElementCheck, PublishCheck, PublishIn
from zhengwu.opendata.services import apply_dataset, dataset_dict, pydantic_errors, reindex

# Catalog 信息资源格式 → the format of the distribution the dataset starts with.
_FORMATS = {"database": "CSV", "spreadsheet": "XLSX", "document": "PDF", "api": "API", "file": "ZIP"}


def _resource(db: Session, ref: int | str) -> Resource:
    if isinstance(ref, int) or str(ref).isdigit():
        resource = db.get(Resource, int(ref))
    else:
        resource = db.scalar(select(Resource).where(Resource.code == str(ref)))
    if resource is None:
        raise NotFound("目录条目不存在", message_en="catalog entry not found", code="opendata.catalog_entry")
    return resource


def _element_check(element: dict[str, Any], treatment: Treatment | None) -> ElementCheck:
    grade = str(element.get("sensitivity") or "internal")
    public = grade == Sensitivity.PUBLIC and not element.get("identifies_person")
    if treatment is None:
        treatment = Treatment.PUBLISH if public else Treatment.WITHHOLD
    ok, reason = True, ""
    if treatment == Treatment.PUBLISH and not public:
        ok = False
        reason = (
            "涉及个人身份的信息项不得原样开放，须脱敏、汇总或不开放"
            if element.get("identifies_person")
            else f"密级为“{label_zh(Sensitivity(grade))}”的信息项不得原样开放，须脱敏、汇总或不开放"
        )
    elif treatment == Treatment.MASK and grade == Sensitivity.CONFIDENTIAL:
        ok, reason = False, "机密信息项只能汇总或不开放，不能仅脱敏"
    elif treatment == Treatment.WITHHOLD:
        reason = "不开放"
    return ElementCheck(
        name=str(element.get("name", "")),
        name_en=str(element.get("name_en", "")),
        sensitivity=grade,
        sensitivity_label=label_zh(Sensitivity(grade)),
        treatment=treatment,
        treatment_label=TREATMENT_LABELS_ZH[treatment],
        ok=ok,
        reason=reason,
    )


def _check(resource: Resource, snap: dict[str, Any] | None, data: PublishIn) -> PublishCheck:
    problems: list[str] = []
    if snap is None:
        snap = {"name": resource.name, "open_type": str(resource.open_type), "elements": []}
        problems.append("目录条目尚未发布，不能开放")
    if snap.get("open_type") not in ("open", "conditional"):
        problems.append("目录条目的开放属性为“不予开放”，不能开放")
    if snap.get("secrecy", "unclassified") != "unclassified":
        problems.append("涉密目录条目不能开放")
    chosen = {t.name_en: t.treatment for t in data.treatments}
    known = {str(e.get("name_en")) for e in snap.get("elements", [])}
    for unknown in sorted(set(chosen) - known):
        problems.append(f"信息项 {unknown} 不属于该目录条目")
    elements = [_element_check(e, chosen.get(str(e.get("name_en")))) for e in snap.get("elements", [])]
    problems += [f"信息项“{e.name}”：{e.reason}" for e in elements if not e.ok]
    if elements and all(e.treatment == Treatment.WITHHOLD for e in elements):
        problems.append("所有信息项都不开放，数据集没有可开放的内容")
    return PublishCheck(
        resource_code=resource.code,
        resource_name=str(snap.get("name", resource.name)),
        catalog_version=resource.published_version,
        open_type=str(snap.get("open_type", "")),
        ok=not problems,
        elements=elements,
        problems=problems,
    )


def dataset_publish_check(db: Session, *, actor: Actor, resource: int | str, data: PublishIn) -> PublishCheck:
    """The sensitivity check of publishing ``resource`` (id or code) with the given treatments."""
    entry = _resource(db, resource)
    require_department_admin(actor, entry.provider_id)
    return _check(entry, resource_published_content(db, resource_id=entry.id), data)


def _default_name(code: str) -> str:
    return ("catalog-" + re.sub(r"[^a-z0-9_-]+", "-", code.lower())).strip("-")[:100]


def dataset_publish_from_catalog(
    db: Session, *, actor: Actor, resource: int | str, data: PublishIn | None = None
) -> dict[str, Any]:
    """Publish (or republish at its newer version) a catalog entry as an open dataset.

    Raises ValidationError carrying the check (``details['check']``) when the check fails; nothing is
    written then.
    """
    data = data or PublishIn()
    entry = _resource(db, resource)
    require_department_admin(actor, entry.provider_id)
    snap = resource_published_content(db, resource_id=entry.id)
    check = _check(entry, snap, data)
    if not check.ok or snap is None:
        raise ValidationError(
            "开放前检查未通过：" + "；".join(check.problems),
            message_en="the publication check failed",
            code="opendata.publish_check",
            field="treatments",
            details={"check": check.model_dump(mode="json")},
        )
    dept = db.get(Department, entry.provider_id)
    assert dept is not None
    existing = db.scalar(
        select(Dataset).where(Dataset.catalog_resource_id == entry.id, Dataset.state == DatasetState.ACTIVE)
    )
    groups: list[Group] = []
    if snap.get("topic_code"):
        groups.append(
            group_for_topic(db, actor=actor, topic_code=snap["topic_code"], topic_name=snap["topic_name"])
        )
    for name in data.groups:
        group = db.scalar(select(Group).where(Group.name == name))
        if group is None:
            raise ValidationError(f"主题 {name} 不存在", message_en=f"Group {name} not found", field="groups")
        groups.append(group)
    name = data.name or (existing.name if existing else _default_name(entry.code))
    fmt = _FORMATS.get(str(snap.get("format", "")).lower(), str(snap.get("format", "")).upper()[:32])
    resources = [r.model_dump() for r in data.resources]
    if existing is not None and not resources:
        resources = [
            {"id": d.uuid, "name": d.name, "url": d.url, "format": d.format, "description": d.description}
            for d in existing.distributions
        ]
    if not resources:
        resources = [{"name": f"{snap['name']}（{fmt}）", "url": f"/opendata/datasets/{name}", "format": fmt}]
    payload = {
        "name": name,
        "title": snap["name"],
        "notes": snap.get("summary", ""),
        "owner_org": org_id(dept),
        "license_id": data.license_id,
        "private": data.private,
        "tags": [{"name": k} for k in snap.get("keywords", []) if k],
        "resources": resources,
        "open_type": snap["open_type"],
        "open_conditions": snap.get("open_conditions", ""),
        "update_frequency": snap.get("update_frequency", "irregular"),
        "temporal_start": data.temporal_start,
        "temporal_end": data.temporal_end,
        "spatial": data.spatial or dept.region_code,
    }
    try:
        content = DatasetIn.model_validate(payload)
    except PydanticError as exc:
        raise pydantic_errors(exc) from None
    clash = db.scalar(select(Dataset.id).where(Dataset.name == content.name))
    if clash is not None and (existing is None or clash != existing.id):
        raise Conflict(
            "该名称已被使用",
            message_en="That URL is already in use.",
            code="opendata.name_taken",
            field="name",
        )
    now = utcnow()
    dataset = existing or Dataset(
        uuid=str(uuid.uuid4()),
        organization_id=dept.id,
        state=DatasetState.ACTIVE,
        created_by=actor.user_id,
        metadata_created=now,
        metadata_modified=now,
    )
    if existing is None:
        db.add(dataset)
    apply_dataset(db, dataset, content, groups)
    dataset.catalog_resource_id = entry.id
    dataset.catalog_code = entry.code
    dataset.catalog_version = check.catalog_version
    dataset.treatments = [
        ElementTreatment(
            name_en=e.name_en, position=i, name=e.name, sensitivity=e.sensitivity, treatment=e.treatment
        )
        for i, e in enumerate(check.elements)
    ]
    reindex(db, dataset)
    audit_record(
        db,
        actor=actor,
        action="opendata.dataset.publish" if existing is None else "opendata.dataset.republish",
        target_type="opendata_dataset",
        target_id=dataset.uuid,
        details={
            "name": dataset.name,
            "catalog_code": entry.code,
            "catalog_version": check.catalog_version,
            "treatments": {e.name_en: str(e.treatment) for e in check.elements},
        },
    )
    return dataset_dict(db, dataset)
