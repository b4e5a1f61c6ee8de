"""JSON API of the sharing workflow under /api/v1/sharing: requests, grants, grant checks, corrections."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from zhengwu.config import Settings
from zhengwu.sharing.common import resource_by_code
from zhengwu.sharing.corrections import (
    correction_answer,
    correction_create,
    correction_get,
    correction_history,
    correction_list,
)
from zhengwu.sharing.grants import (
    grant_check_for,
    grant_get,
    grant_list,
    grant_list_for_resource,
    grant_revoke,
)
from zhengwu.sharing.models import RequestStatus
from zhengwu.sharing.schemas import (
    ApproveIn,
    CorrectionAnswerIn,
    CorrectionIn,
    CorrectionOut,
    EventOut,
    GrantCheckIn,
    GrantDecision,
    GrantOut,
    ReasonIn,
    ShareRequestIn,
    ShareRequestOut,
    SharingStats,
)
from zhengwu.sharing.services import (
    share_request_approve,
    share_request_create,
    share_request_get,
    share_request_history,
    share_request_list,
    share_request_refuse,
    share_request_withdraw,
)
from zhengwu.sharing.stats import sharing_stats
from zhengwu.web.deps import AppSettings, DbSession, SignedInActor

router = APIRouter(prefix="/api/v1/sharing", tags=["sharing"])


def correction_deadline(settings: Settings) -> int:
    """Working days a provider has to answer a correction request."""
    return settings.correction_deadline_working_days


@router.post(
    "/requests",
    response_model=ShareRequestOut,
    status_code=status.HTTP_201_CREATED,
    summary="提交共享申请（无条件共享资源立即授权）",
)
def requests_create(
    db: DbSession, actor: SignedInActor, settings: AppSettings, body: ShareRequestIn
) -> ShareRequestOut:
    return share_request_create(
        db, actor=actor, data=body, deadline_working_days=settings.share_request_deadline_working_days
    )


@router.get("/requests", response_model=list[ShareRequestOut], summary="共享申请列表")
def requests_list(
    db: DbSession,
    actor: SignedInActor,
    box: Literal["mine", "to_me", "escalated", "all"] = "mine",
    status: RequestStatus | None = None,
) -> list[ShareRequestOut]:
    """``mine``: my department's requests; ``to_me``: requests to my department; ``escalated``/``all``:
    platform admins."""
    return share_request_list(db, actor=actor, box=box, status=status)


@router.get("/requests/{request_id}", response_model=ShareRequestOut, summary="共享申请详情")
def requests_get(db: DbSession, actor: SignedInActor, request_id: int) -> ShareRequestOut:
    return share_request_get(db, actor=actor, request_id=request_id)


@router.get("/requests/{request_id}/history", response_model=list[EventOut], summary="共享申请办理记录")
def requests_history(db: DbSession, actor: SignedInActor, request_id: int) -> list[EventOut]:
    return share_request_history(db, actor=actor, request_id=request_id)


@router.post(
    "/requests/{request_id}/approve", response_model=ShareRequestOut, summary="批准（可缩小信息项范围）"
)
def requests_approve(
    db: DbSession, actor: SignedInActor, request_id: int, body: ApproveIn | None = None
) -> ShareRequestOut:
    body = body or ApproveIn()
    return share_request_approve(
        db,
        actor=actor,
        request_id=request_id,
        elements=list(body.elements) if body.elements is not None else None,
        comment=body.comment,
    )


@router.post("/requests/{request_id}/refuse", response_model=ShareRequestOut, summary="拒绝（须说明理由）")
def requests_refuse(db: DbSession, actor: SignedInActor, request_id: int, body: ReasonIn) -> ShareRequestOut:
    return share_request_refuse(db, actor=actor, request_id=request_id, reason=body.reason)


@router.post("/requests/{request_id}/withdraw", response_model=ShareRequestOut, summary="撤回申请")
def requests_withdraw(db: DbSession, actor: SignedInActor, request_id: int) -> ShareRequestOut:
    return share_request_withdraw(db, actor=actor, request_id=request_id)


@router.get("/grants", response_model=list[GrantOut], summary="授权列表")
def grants_list(
    db: DbSession, actor: SignedInActor, box: Literal["mine", "given", "all"] = "mine"
) -> list[GrantOut]:
    """``mine``: grants my department holds; ``given``: grants it gave; ``all``: platform admins."""
    return grant_list(db, actor=actor, box=box)


@router.post("/grants/check", response_model=GrantDecision, summary="授权校验（交换前调用）")
def grants_check(db: DbSession, actor: SignedInActor, body: GrantCheckIn) -> GrantDecision:
    return grant_check_for(db, actor=actor, data=body)


@router.get("/grants/{grant_id}", response_model=GrantOut, summary="授权详情")
def grants_get(db: DbSession, actor: SignedInActor, grant_id: int) -> GrantOut:
    return grant_get(db, actor=actor, grant_id=grant_id)


@router.post("/grants/{grant_id}/revoke", response_model=GrantOut, summary="撤销授权（须说明理由）")
def grants_revoke(db: DbSession, actor: SignedInActor, grant_id: int, body: ReasonIn) -> GrantOut:
    return grant_revoke(db, actor=actor, grant_id=grant_id, reason=body.reason)


@router.get("/resources/{code}/grants", response_model=list[GrantOut], summary="资源的使用部门（有效授权）")
def resource_grants(db: DbSession, actor: SignedInActor, code: str) -> list[GrantOut]:
    resource = resource_by_code(db, code, field="code")
    return grant_list_for_resource(db, actor=actor, resource_id=resource.id)


@router.post(
    "/corrections", response_model=CorrectionOut, status_code=status.HTTP_201_CREATED, summary="提交数据校核"
)
def corrections_create(
    db: DbSession, actor: SignedInActor, settings: AppSettings, body: CorrectionIn
) -> CorrectionOut:
    return correction_create(db, actor=actor, data=body, deadline_working_days=correction_deadline(settings))


@router.get("/corrections", response_model=list[CorrectionOut], summary="数据校核列表")
def corrections_list(
    db: DbSession, actor: SignedInActor, box: Literal["mine", "to_me", "all"] = "mine"
) -> list[CorrectionOut]:
    return correction_list(db, actor=actor, box=box)


@router.get("/corrections/{correction_id}", response_model=CorrectionOut, summary="数据校核详情")
def corrections_get(db: DbSession, actor: SignedInActor, correction_id: int) -> CorrectionOut:
    return correction_get(db, actor=actor, correction_id=correction_id)


@router.get("/corrections/{correction_id}/history", response_model=list[EventOut], summary="数据校核办理记录")
def corrections_history(db: DbSession, actor: SignedInActor, correction_id: int) -> list[EventOut]:
    return correction_history(db, actor=actor, correction_id=correction_id)


@router.post(
    "/corrections/{correction_id}/answer", response_model=CorrectionOut, summary="答复校核（已更正/经核无误）"
)
def corrections_answer(
    db: DbSession, actor: SignedInActor, correction_id: int, body: CorrectionAnswerIn
) -> CorrectionOut:
    return correction_answer(db, actor=actor, correction_id=correction_id, data=body)


@router.get("/stats", response_model=SharingStats, summary="共享统计（按部门）")
def stats(
    db: DbSession,
    actor: SignedInActor,
    period_from: Annotated[
        dt.date | None, Query(alias="from", description="区间开始（含），按提交日期")
    ] = None,
    period_to: Annotated[dt.date | None, Query(alias="to", description="区间结束（含）")] = None,
) -> SharingStats:
    return sharing_stats(db, actor=actor, period_from=period_from, period_to=period_to)
