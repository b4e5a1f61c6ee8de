"""The working copy of a catalog entry: loading, rendering as data, the checks, snapshots, audit.

Shared by the write use cases (services.py) and the read use cases (queries.py); no authorization of
its own beyond the helpers named ``require_*``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_authenticated
from zhengwu.audit.services import audit_record
from zhengwu.catalog.models import (
    DataElement,
    OpenType,
    Resource,
    ResourceStatus,
    ResourceVersion,
    Secrecy,
    Sensitivity,
    ShareType,
    Topic,
)
from zhengwu.catalog.schemas import (
    CATEGORY_DIGIT,
    ELEMENT_LABELS_ZH,
    ElementIn,
    ElementOut,
    ResourceIn,
    ResourceOut,
)
from zhengwu.catalog.snapshots import CONTENT_FIELDS, snapshot_of
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotFound, PermissionDenied, ValidationError

STALE_MESSAGE = "该条目已被他人修改，请刷新页面查看最新内容后再保存"
EDITOR_ROLES = (Role.DATA_ADMIN, Role.PLATFORM_ADMIN)
REVIEW_ROLES = (Role.REVIEWER, Role.PLATFORM_ADMIN)


def stale_conflict(code: str) -> Conflict:
    return Conflict(
        STALE_MESSAGE,
        message_en="the entry was changed by someone else; reload it and apply your edits again",
        code="catalog.stale",
        field="row_version",
        details={"code": code},
    )


def flush_entry(db: Session, resource: Resource) -> None:
    """Flush, turning a lost optimistic-lock race into a Conflict the caller can explain."""
    try:
        db.flush()
    except StaleDataError as exc:
        raise stale_conflict(resource.code) from exc


def load_resource(db: Session, code: str) -> Resource:
    resource = db.scalar(select(Resource).where(Resource.code == code))
    if resource is None:
        raise NotFound(
            f"信息资源 {code} 不存在",
            message_en=f"resource {code} not found",
            field="code",
            code="catalog.not_found",
        )
    return resource


def department_of(db: Session, department_id: int) -> Department:
    dept = db.get(Department, department_id)
    if dept is None:
        raise ValidationError(
            "提供部门不存在", message_en="provider department not found", field="provider_id"
        )
    return dept


def under_review(resource: Resource) -> bool:
    """Whether a submission (a first one, or a revision of a published entry) awaits review."""
    if resource.submitted_at is None:
        return False
    return resource.status == ResourceStatus.SUBMITTED or (
        resource.status == ResourceStatus.PUBLISHED and resource.has_draft_changes
    )


def can_see_working_copy(actor: Actor, provider_id: int) -> bool:
    """Drafts and revisions are for the provider's data admins, reviewers and platform admins only."""
    if actor.has(*REVIEW_ROLES):
        return True
    return actor.has(Role.DATA_ADMIN) and actor.department_id == provider_id


def require_working_copy(actor: Actor, resource: Resource) -> None:
    require_authenticated(actor)
    if not can_see_working_copy(actor, resource.provider_id):
        raise PermissionDenied(
            "未发布的条目只有提供部门的数据管理员、审核员和平台管理员可以查看",
            message_en="unpublished entries are visible to the provider's data admins and reviewers only",
            code="catalog.draft_hidden",
        )


def topic_names(db: Session, topic_id: int | None) -> tuple[str | None, str | None]:
    topic = db.get(Topic, topic_id) if topic_id else None
    return (topic.code, topic.name) if topic else (None, None)


def snapshot_now(db: Session, resource: Resource) -> dict[str, Any]:
    provider = department_of(db, resource.provider_id)
    topic_code, topic_name = topic_names(db, resource.topic_id)
    return snapshot_of(
        resource,
        provider_code=provider.code,
        provider_name=provider.name,
        topic_code=topic_code,
        topic_name=topic_name,
    )


def published_snapshot(db: Session, resource: Resource) -> dict[str, Any] | None:
    if resource.published_version == 0:
        return None
    row = db.scalar(
        select(ResourceVersion).where(
            ResourceVersion.resource_id == resource.id, ResourceVersion.version == resource.published_version
        )
    )
    return dict(row.snapshot) if row else None


def resource_out(db: Session, resource: Resource, *, view: str = "working") -> ResourceOut:
    content = snapshot_now(db, resource)
    if view == "published":
        content = published_snapshot(db, resource) or content
    elements = [
        ElementOut.model_validate({**e, "position": i, "id": None}) for i, e in enumerate(content["elements"])
    ]
    if view == "working":
        elements = [
            ElementOut.model_validate(
                {**{f: getattr(e, f) for f in ElementIn.model_fields}, "id": e.id, "position": i}
            )
            for i, e in enumerate(resource.elements)
        ]
    data = {f: content.get(f) for f in CONTENT_FIELDS}
    data.update(
        topic_name=content.get("topic_name"),
        provider_code=content["provider_code"],
        provider_name=content["provider_name"],
        elements=elements,
    )
    for name in (
        "id", "code", "provider_id", "status", "has_draft_changes", "published_version", "first_published_at",
        "published_at", "withdrawn_at", "withdraw_reason", "review_comment", "submitted_at", "created_at",
        "updated_at", "row_version",
    ):  # fmt: skip
        data[name] = getattr(resource, name)
    data["under_review"] = under_review(resource)
    data["view"] = view
    return ResourceOut.model_validate(data)


def element_error(index: int, name: str, reason: str) -> dict[str, Any]:
    return {
        "field": f"elements.{index}.{name}",
        "row": index + 1,
        "reason": f"第 {index + 1} 个信息项的{ELEMENT_LABELS_ZH[name]}：{reason}",
    }


def raise_all(errors: list[dict[str, Any]], *, code: str, message_en: str) -> None:
    if not errors:
        return
    first = errors[0]
    message = first["reason"] if len(errors) == 1 else f"{first['reason']}（另有 {len(errors) - 1} 处问题）"
    raise ValidationError(message, message_en=message_en, code=code, field=first["field"], errors=errors)


def check_content(db: Session, data: ResourceIn, *, zone: str) -> Topic | None:
    """Rules on the fields of one save (a draft may still be incomplete); returns the topic."""
    errors: list[dict[str, Any]] = []
    if not data.classification.startswith(CATEGORY_DIGIT[data.category] + "-"):
        errors.append(
            {
                "field": "classification",
                "reason": f"资源分类的“类”应为 {CATEGORY_DIGIT[data.category]}"
                "（1 基础信息资源、2 主题信息资源、3 部门信息资源），与所选目录类别一致",
            }
        )
    topic = None
    if data.topic_code:
        topic = db.scalar(select(Topic).where(Topic.code == data.topic_code))
        if topic is None:
            errors.append({"field": "topic_code", "reason": f"主题分类 {data.topic_code} 不存在"})
    if data.secrecy == Secrecy.CLASSIFIED and zone != "intranet":
        errors.append(
            {"field": "secrecy", "reason": "本节点位于政务外网，涉密信息资源只能在政务内网节点编目"}
        )
    seen_en: dict[str, int] = {}
    seen_name: dict[str, int] = {}
    for i, element in enumerate(data.elements):
        if element.name_en in seen_en:
            errors.append(
                element_error(i, "name_en", f"{element.name_en} 与第 {seen_en[element.name_en] + 1} 个重复")
            )
        seen_en.setdefault(element.name_en, i)
        if element.name in seen_name:
            errors.append(
                element_error(i, "name", f"{element.name} 与第 {seen_name[element.name] + 1} 个重复")
            )
        seen_name.setdefault(element.name, i)
    raise_all(errors, code="catalog.invalid", message_en="the entry has invalid fields")
    return topic


def check_complete(db: Session, resource: Resource, *, zone: str) -> None:
    """Rules on the entry as a whole, checked before it may be submitted or published."""
    errors: list[dict[str, Any]] = []
    if not resource.summary.strip():
        errors.append({"field": "summary", "reason": "请填写信息资源摘要"})
    if not resource.elements:
        errors.append({"field": "elements", "reason": "至少需要一个信息项"})
    if resource.share_type == ShareType.NONE and not resource.share_basis.strip():
        errors.append(
            {
                "field": "share_basis",
                "reason": "不予共享的信息资源必须写明法律、行政法规或党中央、国务院政策依据",
            }
        )
    if resource.share_type == ShareType.CONDITIONAL and not resource.share_conditions.strip():
        errors.append({"field": "share_conditions", "reason": "有条件共享的信息资源必须写明共享条件"})
    if resource.open_type == OpenType.CONDITIONAL and not resource.open_conditions.strip():
        errors.append({"field": "open_conditions", "reason": "有条件开放的信息资源必须写明开放条件"})
    if resource.open_type != OpenType.CLOSED and resource.share_type == ShareType.NONE:
        errors.append({"field": "open_type", "reason": "不予共享的信息资源不能向社会开放"})
    if resource.secrecy == Secrecy.CLASSIFIED:
        if zone != "intranet":
            errors.append(
                {"field": "secrecy", "reason": "本节点位于政务外网，涉密信息资源只能在政务内网节点编目"}
            )
        if resource.open_type != OpenType.CLOSED:
            errors.append({"field": "open_type", "reason": "涉密信息资源不能向社会开放"})
    for i, element in enumerate(resource.elements):
        if element.identifies_person and element.sensitivity == Sensitivity.PUBLIC:
            errors.append(element_error(i, "sensitivity", "可识别个人的信息项不能定为“公开”级"))
        if element.identifies_person and resource.open_type == OpenType.OPEN:
            errors.append(element_error(i, "identifies_person", "无条件开放的资源不能包含可识别个人的信息项"))
    unknown = [c for c in resource.related_codes if c == resource.code or not code_exists(db, c)]
    if unknown:
        errors.append(
            {"field": "related_codes", "reason": "关联资源代码不存在或指向自身：" + "、".join(unknown)}
        )
    raise_all(
        errors, code="catalog.incomplete", message_en="the entry is not complete enough to be submitted"
    )


def code_exists(db: Session, code: str) -> bool:
    return db.scalar(select(Resource.id).where(Resource.code == code)) is not None


def apply_content(resource: Resource, data: ResourceIn, topic: Topic | None) -> None:
    """Copy the content of ``data`` into the working copy; elements keep their ids by English name."""
    for name in CONTENT_FIELDS:
        if name == "topic_code":
            continue
        setattr(resource, name, getattr(data, name))
    resource.related_codes = list(dict.fromkeys(data.related_codes))
    resource.keywords = list(dict.fromkeys(data.keywords))
    resource.topic_id = topic.id if topic else None
    set_elements(resource, [e.model_dump() for e in data.elements])
    resource.updated_at = utcnow()  # also bumps row_version when only the elements changed


def set_elements(resource: Resource, elements: list[dict[str, Any]]) -> None:
    existing = {e.name_en: e for e in resource.elements}
    rows: list[DataElement] = []
    for position, values in enumerate(elements):
        row = existing.get(values["name_en"]) or DataElement(name_en=values["name_en"])
        for name in ElementIn.model_fields:
            setattr(row, name, values.get(name))
        row.position = position
        rows.append(row)
    resource.elements = rows


def restore_published(db: Session, resource: Resource) -> None:
    """Put the working copy back to the version in force (a revision is dropped)."""
    snap = published_snapshot(db, resource)
    if snap is None:
        return
    for name in CONTENT_FIELDS:
        if name != "topic_code":
            setattr(resource, name, snap.get(name))
    topic = (
        db.scalar(select(Topic).where(Topic.code == snap.get("topic_code")))
        if snap.get("topic_code")
        else None
    )
    resource.topic_id = topic.id if topic else None
    set_elements(resource, list(snap["elements"]))
    resource.has_draft_changes = False
    resource.submitted_at = None


def audit_entry(db: Session, actor: Actor, action: str, resource: Resource, **details: Any) -> None:
    audit_record(
        db,
        actor=actor,
        action=f"catalog.resource.{action}",
        target_type="catalog_resource",
        target_id=resource.code,
        details={"name": resource.name, "provider_id": resource.provider_id, **details},
    )
