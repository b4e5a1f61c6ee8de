"""What the sharing use cases share: who acts for which department, resources and their elements in force,
required text, history rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role, User
from zhengwu.accounts.permissions import (
    Actor,
    require_authenticated,
    require_roles,
)
from zhengwu.catalog.models import Resource, ResourceStatus, ResourceVersion
from zhengwu.errors import Conflict, NotFound, PermissionDenied, ValidationError
from zhengwu.sharing.models import (
    SharingEvent,
)
from zhengwu.sharing.schemas import (
    EventOut,
)

# A guard against typing 2206 for 2026, not a rule of the regulations.
MAX_PERIOD_DAYS = 10 * 366
DEPARTMENT_STAFF = (Role.DATA_ADMIN, Role.DEVELOPER)


@dataclass(frozen=True)
class ElementInfo:
    """One data element of the published version of a resource."""

    name_en: str
    name: str
    element_id: int | None
    sensitivity: str = ""
    identifies_person: bool = False


def required_text(value: str | None, *, field: str, label: str, max_length: int = 2000) -> str:
    """Strip ``value`` and refuse it when empty or longer than ``max_length``."""
    text = (value or "").strip()
    if not text:
        raise ValidationError(f"请填写{label}", message_en=f"{field} is required", field=field)
    if len(text) > max_length:
        raise ValidationError(
            f"{label}不能超过 {max_length} 个字符",
            message_en=f"{field} is longer than {max_length} characters",
            field=field,
        )
    return text


def department_names(db: Session) -> dict[int, str]:
    """Id → name of every department (a small table; read once per page)."""
    return {int(i): str(n) for i, n in db.execute(select(Department.id, Department.name))}


def is_staff(actor: Actor) -> bool:
    """Government staff (not a citizen or business account): may see who uses which resource."""
    return actor.is_system or actor.department_id is not None or actor.has(Role.PLATFORM_ADMIN, Role.AUDITOR)


def require_department_staff(actor: Actor, department_id: int) -> None:
    """A data administrator or developer of ``department_id``, or a platform admin."""
    require_authenticated(actor)
    if actor.has(Role.PLATFORM_ADMIN):
        return
    require_roles(actor, *DEPARTMENT_STAFF)
    if actor.department_id != department_id:
        raise PermissionDenied(
            "只能查看或办理本部门的事项",
            message_en="only staff of the department concerned may do this",
            code="sharing.forbidden",
            details={"department_id": department_id},
        )


def require_party(actor: Actor, *, consumer_id: int, provider_id: int, what_zh: str, what_en: str) -> None:
    """Allow a platform admin, or department staff of the consumer or the provider of ``what``."""
    require_authenticated(actor)
    if actor.has(Role.PLATFORM_ADMIN):
        return
    require_roles(actor, *DEPARTMENT_STAFF)
    if actor.department_id not in (consumer_id, provider_id):
        raise PermissionDenied(
            f"只能查看本部门提出或收到的{what_zh}",
            message_en=f"only the two departments concerned may read a {what_en}",
            code="sharing.forbidden",
        )


def acting_department(actor: Actor, requested: int | None, *, field: str = "consumer_department_id") -> int:
    """The department on whose behalf ``actor`` acts: its own, or any for a platform admin."""
    require_authenticated(actor)
    if actor.has(Role.PLATFORM_ADMIN):
        department_id = requested if requested is not None else actor.department_id
        if department_id is None:
            raise ValidationError("请指定申请部门", message_en="consumer department required", field=field)
        return department_id
    require_roles(actor, *DEPARTMENT_STAFF)
    if actor.department_id is None:
        raise PermissionDenied(
            "账号不属于任何部门", message_en="account has no department", code="sharing.no_department"
        )
    if requested is not None and requested != actor.department_id:
        raise PermissionDenied(
            "只能以本部门名义办理",
            message_en="may only act for one's own department",
            code="sharing.forbidden",
        )
    return actor.department_id


def active_department(db: Session, department_id: int, *, field: str) -> Department:
    dept = db.get(Department, department_id)
    if dept is None:
        raise NotFound("部门不存在", message_en="department not found", field=field)
    if not dept.is_active:
        raise Conflict(
            "部门已停用", message_en="department is inactive", code="sharing.department_inactive", field=field
        )
    return dept


def resource_by_code(db: Session, code: str, *, field: str = "resource_code") -> Resource:
    """A published (or withdrawn) resource; drafts of any department stay invisible here."""
    resource = db.scalar(select(Resource).where(Resource.code == code.strip()))
    if resource is None or resource.published_version == 0:
        raise NotFound(
            f"资源 {code} 不存在或尚未发布",
            message_en=f"resource {code} not found or never published",
            code="sharing.resource.not_found",
            field=field,
        )
    return resource


def require_published(resource: Resource, *, field: str = "resource_code") -> None:
    if resource.status != ResourceStatus.PUBLISHED:
        raise Conflict(
            f"资源「{resource.name}」已撤销，不能申请或使用",
            message_en="resource is not published",
            code="sharing.resource.not_published",
            field=field,
        )


def published_elements(db: Session, resource: Resource) -> list[ElementInfo]:
    """The data elements of the version in force (a revision being edited does not count yet)."""
    rows = list(resource.elements)
    by_name = {e.name_en: e for e in rows}
    if resource.has_draft_changes and resource.published_version:
        snapshot = db.scalar(
            select(ResourceVersion.snapshot).where(
                ResourceVersion.resource_id == resource.id,
                ResourceVersion.version == resource.published_version,
            )
        )
        frozen = snapshot.get("elements") if isinstance(snapshot, dict) else None
        if isinstance(frozen, list) and frozen:
            out: list[ElementInfo] = []
            for item in frozen:
                if not isinstance(item, dict) or not item.get("name_en"):
                    continue
                name_en = str(item["name_en"])
                row = by_name.get(name_en)
                out.append(
                    ElementInfo(
                        name_en=name_en,
                        name=str(item.get("name") or name_en),
                        element_id=row.id if row is not None else None,
                        sensitivity=str(item.get("sensitivity") or ""),
                        identifies_person=bool(item.get("identifies_person")),
                    )
                )
            if out:
                return out
    return [
        ElementInfo(e.name_en, e.name, e.id, str(e.sensitivity.value), bool(e.identifies_person))
        for e in rows
    ]


def resolve_elements(
    refs: list[int | str], available: list[ElementInfo], *, field: str = "elements"
) -> list[str]:
    """English names of the elements ``refs`` name (by name_en or id), in catalog order, no duplicates."""
    if not refs:
        raise ValidationError(
            "请至少选择一个信息项", message_en="at least one element is required", field=field
        )
    by_name = {e.name_en: e for e in available}
    by_id = {e.element_id: e for e in available if e.element_id is not None}
    chosen: set[str] = set()
    unknown: list[str] = []
    for ref in refs:
        info: ElementInfo | None = None
        if isinstance(ref, int):
            info = by_id.get(ref)
        else:
            text = ref.strip()
            info = by_name.get(text) or (by_id.get(int(text)) if text.isdigit() else None)
        if info is None:
            unknown.append(str(ref)[:100])
        else:
            chosen.add(info.name_en)
    if unknown:
        raise ValidationError(
            "资源中没有以下信息项：" + "、".join(unknown[:10]),
            message_en="unknown data elements: " + ", ".join(unknown[:10]),
            code="sharing.element.unknown",
            field=field,
            details={"unknown": unknown[:50]},
        )
    return [e.name_en for e in available if e.name_en in chosen]


def record_event(
    db: Session,
    *,
    actor: Actor,
    action: str,
    at: dt.datetime,
    request_id: int | None = None,
    grant_id: int | None = None,
    correction_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str = "",
) -> None:
    """Add one history row (the caller also writes the audit record)."""
    db.add(
        SharingEvent(
            request_id=request_id,
            grant_id=grant_id,
            correction_id=correction_id,
            at=at,
            actor_id=actor.user_id,
            action=action,
            from_status=from_status,
            to_status=to_status,
            note=note,
        )
    )


def events_out(db: Session, rows: list[SharingEvent]) -> list[EventOut]:
    """Events with the display names of their actors."""
    ids = {e.actor_id for e in rows if e.actor_id is not None}
    names = (
        {int(i): str(n) for i, n in db.execute(select(User.id, User.display_name).where(User.id.in_(ids)))}
        if ids
        else {}
    )
    return [
        EventOut(
            at=e.at,
            action=e.action,
            actor_name=names.get(e.actor_id, "系统") if e.actor_id is not None else "系统",
            from_status=e.from_status,
            to_status=e.to_status,
            note=e.note,
        )
        for e in rows
    ]


def check_period(valid_from: dt.date, valid_until: dt.date, *, today: dt.date) -> None:
    if valid_until < valid_from:
        raise ValidationError(
            "有效期截止日期不能早于起始日期",
            message_en="valid_until is before valid_from",
            code="sharing.period.reversed",
            field="valid_until",
        )
    if valid_until < today:
        raise ValidationError(
            "有效期截止日期已过",
            message_en="valid_until is in the past",
            code="sharing.period.past",
            field="valid_until",
        )
    if (valid_until - valid_from).days > MAX_PERIOD_DAYS:
        raise ValidationError(
            "有效期不能超过 10 年",
            message_en="period longer than 10 years",
            code="sharing.period.too_long",
            field="valid_until",
        )
