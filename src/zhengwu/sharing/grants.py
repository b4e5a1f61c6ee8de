"""Use cases of grants (授权): lists, revocation, expiry, and the check the exchange enforces.

A grant is created when a request is approved (or at once for an unconditional resource, see
:mod:`zhengwu.sharing.services`). The provider's data administrators or a platform admin revoke it with a
reason; the daily sweep marks it expired after its period; :func:`grant_check` answers, per exchange
call, whether a department may receive some elements of a resource for a purpose.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import (
    Actor,
    require_authenticated,
    require_department_admin,
    require_roles,
)
from zhengwu.audit.services import audit_record
from zhengwu.catalog.models import Resource, ResourceStatus
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotFound, PermissionDenied
from zhengwu.sharing.calendar import (
    beijing_date,
    beijing_today,
)
from zhengwu.sharing.common import (
    DEPARTMENT_STAFF,
    department_names,
    is_staff,
    published_elements,
    record_event,
    require_department_staff,
    required_text,
)
from zhengwu.sharing.models import (
    LABELS_ZH,
    Grant,
    GrantStatus,
)
from zhengwu.sharing.schemas import (
    GrantCheckIn,
    GrantDecision,
    GrantOut,
)

GrantBox = Literal["mine", "given", "all"]


def effective_grant_status(grant: Grant, on: dt.date) -> GrantStatus:
    """Expired as soon as the period is over, even before the sweep writes it."""
    if grant.status == GrantStatus.ACTIVE and grant.valid_until < on:
        return GrantStatus.EXPIRED
    return grant.status


def _grants_out(db: Session, rows: list[Grant], *, today: dt.date) -> list[GrantOut]:
    if not rows:
        return []
    names = department_names(db)
    resources = {
        r.id: r for r in db.scalars(select(Resource).where(Resource.id.in_({g.resource_id for g in rows})))
    }
    labels = {rid: {e.name_en: e.name for e in published_elements(db, res)} for rid, res in resources.items()}
    out = []
    for g in rows:
        status = effective_grant_status(g, today)
        res = resources[g.resource_id]
        out.append(
            GrantOut(
                id=g.id,
                request_id=g.request_id,
                resource_id=g.resource_id,
                resource_code=res.code,
                resource_name=res.name,
                provider_id=g.provider_id,
                provider_name=names.get(g.provider_id, ""),
                consumer_id=g.consumer_id,
                consumer_name=names.get(g.consumer_id, ""),
                consumer_system=g.consumer_system,
                elements=list(g.elements),
                element_labels={n: labels[g.resource_id].get(n, n) for n in g.elements},
                purpose=g.purpose,
                valid_from=g.valid_from,
                valid_until=g.valid_until,
                status=status,
                status_label=LABELS_ZH[status],
                created_at=g.created_at,
                revoked_at=g.revoked_at,
                revoke_reason=g.revoke_reason,
            )
        )
    return out


def grant_list(
    db: Session, *, actor: Actor, box: GrantBox = "mine", today: dt.date | None = None, limit: int = 500
) -> list[GrantOut]:
    """Grants my department holds (``mine``), gave (``given``), or all of them (platform admins)."""
    require_authenticated(actor)
    query = select(Grant)
    if box == "all":
        require_roles(actor, Role.PLATFORM_ADMIN)
    else:
        if actor.department_id is None:
            raise PermissionDenied(
                "账号不属于任何部门", message_en="account has no department", code="sharing.no_department"
            )
        require_department_staff(actor, actor.department_id)
        column = Grant.consumer_id if box == "mine" else Grant.provider_id
        query = query.where(column == actor.department_id)
    rows = list(db.scalars(query.order_by(Grant.created_at.desc(), Grant.id.desc()).limit(limit)))
    return _grants_out(db, rows, today=today or beijing_today())


def grant_list_for_resource(
    db: Session, *, actor: Actor, resource_id: int, today: dt.date | None = None
) -> list[GrantOut]:
    """Who uses this resource: its grants in force today (any government staff may see this)."""
    require_authenticated(actor)
    if not is_staff(actor):
        raise PermissionDenied(
            "仅政务部门人员可查看", message_en="government staff only", code="sharing.forbidden"
        )
    today = today or beijing_today()
    rows = list(
        db.scalars(
            select(Grant)
            .where(
                Grant.resource_id == resource_id,
                Grant.status == GrantStatus.ACTIVE,
                Grant.valid_until >= today,
            )
            .order_by(Grant.valid_until, Grant.id)
        )
    )
    return _grants_out(db, rows, today=today)


def grant_get(db: Session, *, actor: Actor, grant_id: int, today: dt.date | None = None) -> GrantOut:
    grant = db.get(Grant, grant_id)
    if grant is None:
        raise NotFound(
            "授权不存在", message_en="grant not found", code="sharing.grant.not_found", field="grant_id"
        )
    require_authenticated(actor)
    if not actor.has(Role.PLATFORM_ADMIN):
        require_roles(actor, *DEPARTMENT_STAFF)
        if actor.department_id not in (grant.consumer_id, grant.provider_id):
            raise PermissionDenied(
                "只能查看本部门的授权", message_en="not a party to this grant", code="sharing.forbidden"
            )
    return _grants_out(db, [grant], today=today or beijing_today())[0]


def grant_revoke(
    db: Session, *, actor: Actor, grant_id: int, reason: str, now: dt.datetime | None = None
) -> GrantOut:
    """The provider (or a platform admin) revokes a grant in force; the reason is required."""
    now = now or utcnow()
    text = required_text(reason, field="reason", label="撤销理由")
    grant = db.scalar(select(Grant).where(Grant.id == grant_id).with_for_update())
    if grant is None:
        raise NotFound(
            "授权不存在", message_en="grant not found", code="sharing.grant.not_found", field="grant_id"
        )
    require_department_admin(actor, grant.provider_id)
    if grant.status != GrantStatus.ACTIVE:
        raise Conflict(
            f"授权已是「{LABELS_ZH[grant.status]}」状态",
            message_en=f"grant is {grant.status.value}",
            code="sharing.grant.not_active",
        )
    grant.status = GrantStatus.REVOKED
    grant.revoked_at = now
    grant.revoked_by = actor.user_id
    grant.revoke_reason = text
    record_event(
        db,
        actor=actor,
        action="grant.revoke",
        at=now,
        grant_id=grant.id,
        from_status=GrantStatus.ACTIVE.value,
        to_status=GrantStatus.REVOKED.value,
        note=text,
    )
    audit_record(
        db,
        actor=actor,
        action="sharing.grant.revoke",
        target_type="sharing_grant",
        target_id=grant.id,
        details={"consumer_id": grant.consumer_id, "resource_id": grant.resource_id, "reason": text[:500]},
    )
    db.flush()
    return _grants_out(db, [grant], today=beijing_date(now))[0]


def grant_expire_due(db: Session, *, today: dt.date, now: dt.datetime | None = None) -> int:
    """Mark active grants whose period ended before ``today`` as expired; returns how many."""
    actor = Actor.system("sharing-expiry")
    now = now or utcnow()
    rows = list(
        db.scalars(
            select(Grant)
            .where(Grant.status == GrantStatus.ACTIVE, Grant.valid_until < today)
            .with_for_update()
        )
    )
    for grant in rows:
        grant.status = GrantStatus.EXPIRED
        record_event(
            db,
            actor=actor,
            action="grant.expire",
            at=now,
            grant_id=grant.id,
            from_status=GrantStatus.ACTIVE.value,
            to_status=GrantStatus.EXPIRED.value,
        )
        audit_record(
            db, actor=actor, action="sharing.grant.expire", target_type="sharing_grant", target_id=grant.id
        )
    db.flush()
    return len(rows)


def normalise_purpose(text: str) -> str:
    """Purposes compare after NFKC (full-width → half-width) and whitespace folding."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def grant_check(
    db: Session,
    *,
    consumer_department_id: int,
    resource_id: int,
    element_names: list[str],
    purpose: str,
    at: dt.datetime | None = None,
) -> GrantDecision:
    """May this department receive these elements of this resource for this purpose at ``at``?

    Allowed only when one grant in force covers every asked element for the same purpose (purpose
    limitation: 谁经手，谁使用，谁管理，谁负责). Otherwise ``reason`` says why, most specific first:
    ``resource.unavailable``, ``grant.none``, ``grant.revoked``, ``grant.expired``, ``grant.not_yet_valid``,
    ``grant.purpose_mismatch``, ``grant.element_not_granted``. Reads only; the exchange calls it per call.
    """
    on = beijing_date(at or utcnow())
    asked = list(dict.fromkeys(n.strip() for n in element_names if n.strip()))
    resource = db.get(Resource, resource_id)
    if resource is None or resource.status != ResourceStatus.PUBLISHED:
        return GrantDecision(
            allowed=False, reason="resource.unavailable", missing=asked, message="资源不存在或未发布"
        )
    grants = list(
        db.scalars(
            select(Grant)
            .where(Grant.consumer_id == consumer_department_id, Grant.resource_id == resource_id)
            .order_by(Grant.id.desc())
        )
    )
    if not grants:
        return GrantDecision(allowed=False, reason="grant.none", missing=asked, message="未获授权")
    if not asked:
        return GrantDecision(allowed=False, reason="grant.element_not_granted", message="未指定信息项")
    in_force = [g for g in grants if g.status == GrantStatus.ACTIVE and g.valid_from <= on <= g.valid_until]
    if not in_force:
        statuses = [effective_grant_status(g, on) for g in grants]
        if any(g.status == GrantStatus.ACTIVE and g.valid_from > on for g in grants):
            reason, message = "grant.not_yet_valid", "授权尚未生效"
        elif GrantStatus.EXPIRED in statuses:
            reason, message = "grant.expired", "授权已过期"
        else:
            reason, message = "grant.revoked", "授权已撤销"
        return GrantDecision(
            allowed=False, reason=reason, missing=asked, message=message, grant_id=grants[0].id
        )
    wanted = normalise_purpose(purpose)
    same_purpose = [g for g in in_force if normalise_purpose(g.purpose) == wanted]
    if not same_purpose:
        return GrantDecision(
            allowed=False,
            reason="grant.purpose_mismatch",
            missing=asked,
            grant_id=in_force[0].id,
            message="用途与授权用途不符",
        )
    best: Grant | None = None
    best_cover: list[str] = []
    for g in same_purpose:
        cover = [n for n in asked if n in set(g.elements)]
        if len(cover) > len(best_cover) or best is None:
            best, best_cover = g, cover
        if len(cover) == len(asked):
            return GrantDecision(allowed=True, grant_id=g.id, elements=cover, message="已授权")
    assert best is not None
    missing = [n for n in asked if n not in best_cover]
    return GrantDecision(
        allowed=False,
        reason="grant.element_not_granted",
        grant_id=best.id,
        elements=best_cover,
        missing=missing,
        message="以下信息项未获授权：" + "、".join(missing[:20]),
    )


def grant_check_for(db: Session, *, actor: Actor, data: GrantCheckIn) -> GrantDecision:
    """:func:`grant_check` for an API caller: the consumer, the provider or a platform admin."""
    require_authenticated(actor)
    if not actor.has(Role.PLATFORM_ADMIN):
        require_roles(actor, *DEPARTMENT_STAFF)
        resource = db.get(Resource, data.resource_id)
        provider = resource.provider_id if resource is not None else None
        if actor.department_id not in (data.consumer_department_id, provider):
            raise PermissionDenied(
                "只能查询本部门相关的授权", message_en="not a party to this grant", code="sharing.forbidden"
            )
    return grant_check(
        db,
        consumer_department_id=data.consumer_department_id,
        resource_id=data.resource_id,
        element_names=list(data.element_names),
        purpose=data.purpose,
        at=data.at,
    )
