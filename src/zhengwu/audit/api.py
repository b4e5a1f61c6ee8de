"""JSON API of the audit trail (auditors and platform admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import require_roles
from zhengwu.audit.services import audit_list, audit_seal, audit_verify
from zhengwu.web.deps import DbSession, SignedInActor

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/events", summary="审计日志")
def events(
    db: DbSession,
    actor: SignedInActor,
    action: str | None = None,
    username: str | None = None,
    page: int = Query(1, ge=1),
    page_size: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    result = audit_list(
        db, actor=actor, action_prefix=action, username=username, page=page, page_size=page_size
    )
    return {"count": result.total, "results": result.events}


@router.post("/verify", summary="封存并校验审计日志哈希链")
def verify(db: DbSession, actor: SignedInActor) -> dict[str, Any]:
    require_roles(actor, Role.AUDITOR, Role.PLATFORM_ADMIN)
    sealed = audit_seal(db)
    result = audit_verify(db)
    return {
        "ok": result.ok,
        "records": result.records,
        "sealed": result.sealed,
        "newly_sealed": sealed,
        "first_bad_id": result.first_bad_id,
        "reason": result.reason,
    }
