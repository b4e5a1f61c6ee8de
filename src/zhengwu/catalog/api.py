"""JSON API of catalog entries under /api/v1/catalog (the search list ``GET /resources`` lives in search/).

Authenticated by session cookie or ``Authorization: Bearer <token>``; errors are the platform's one
format ``{"error": {"code", "message", "message_en", "field"}}``. Editing needs the ``row_version`` read
before editing: a stale one answers 409 ``catalog.stale``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response, status

from zhengwu.catalog.models import ResourceStatus
from zhengwu.catalog.schemas import (
    ApproveIn,
    DiffOut,
    ManageList,
    ReasonIn,
    ResourceCreate,
    ResourceOut,
    ResourceSummary,
    ResourceUpdate,
    TopicIn,
    TopicOut,
    VersionOut,
)
from zhengwu.catalog.services import (
    resource_approve,
    resource_create,
    resource_delete_draft,
    resource_diff,
    resource_discard_revision,
    resource_get,
    resource_list_manage,
    resource_pending_diff,
    resource_reinstate,
    resource_reject,
    resource_revise,
    resource_submit,
    resource_update,
    resource_version,
    resource_versions,
    resource_withdraw,
    review_queue,
    topic_create,
    topic_list,
)
from zhengwu.errors import ValidationError
from zhengwu.web.deps import AppSettings, CurrentActor, DbSession, SignedInActor

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])


@router.post(
    "/resources",
    response_model=ResourceOut,
    status_code=status.HTTP_201_CREATED,
    summary="新建目录条目（草稿）",
    description="Data admins create for their own department; platform admins may name `provider_id`. "
    "The answer carries the permanent `code` and the `row_version` to send with the next edit.",
)
def resources_create(
    db: DbSession, actor: SignedInActor, settings: AppSettings, body: ResourceCreate
) -> ResourceOut:
    return resource_create(db, actor=actor, data=body, zone=settings.zone)


@router.get(
    "/resources/{code}",
    response_model=ResourceOut,
    summary="目录条目详情",
    description="`view=published` (default) answers the version in force; `view=working` the editable copy "
    "(provider's data admins, reviewers, platform admins). Never-published entries answer the working copy "
    "to those roles and 403 to everyone else.",
)
def resources_get(
    db: DbSession,
    actor: SignedInActor,
    code: str,
    view: Literal["published", "working"] = "published",
) -> ResourceOut:
    return resource_get(db, actor=actor, code=code, working=view == "working")


@router.put(
    "/resources/{code}",
    response_model=ResourceOut,
    summary="保存目录条目（草稿、已退回或修订中）",
    responses={409: {"description": "`catalog.stale`: row_version is not the current one"}},
)
def resources_update(
    db: DbSession, actor: SignedInActor, settings: AppSettings, code: str, body: ResourceUpdate
) -> ResourceOut:
    return resource_update(db, actor=actor, code=code, data=body, zone=settings.zone)


@router.delete(
    "/resources/{code}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="删除从未发布的草稿",
)
def resources_delete(db: DbSession, actor: SignedInActor, code: str) -> Response:
    resource_delete_draft(db, actor=actor, code=code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/resources/{code}/submit", response_model=ResourceOut, summary="提交审核")
def resources_submit(db: DbSession, actor: SignedInActor, settings: AppSettings, code: str) -> ResourceOut:
    return resource_submit(db, actor=actor, code=code, zone=settings.zone)


@router.post("/resources/{code}/approve", response_model=ResourceOut, summary="审核通过并发布（审核员）")
def resources_approve(
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    code: str,
    body: Annotated[ApproveIn | None, Body()] = None,
) -> ResourceOut:
    comment = body.comment if body else ""
    return resource_approve(db, actor=actor, code=code, comment=comment, zone=settings.zone)


@router.post("/resources/{code}/reject", response_model=ResourceOut, summary="退回（审核员，须写明原因）")
def resources_reject(db: DbSession, actor: SignedInActor, code: str, body: ReasonIn) -> ResourceOut:
    return resource_reject(db, actor=actor, code=code, reason=body.reason)


@router.post("/resources/{code}/revise", response_model=ResourceOut, summary="开始修订已发布的条目")
def resources_revise(db: DbSession, actor: SignedInActor, code: str) -> ResourceOut:
    return resource_revise(db, actor=actor, code=code)


@router.post("/resources/{code}/discard-revision", response_model=ResourceOut, summary="放弃未提交的修订")
def resources_discard_revision(db: DbSession, actor: SignedInActor, code: str) -> ResourceOut:
    return resource_discard_revision(db, actor=actor, code=code)


@router.post("/resources/{code}/withdraw", response_model=ResourceOut, summary="撤销已发布的条目")
def resources_withdraw(db: DbSession, actor: SignedInActor, code: str, body: ReasonIn) -> ResourceOut:
    return resource_withdraw(db, actor=actor, code=code, reason=body.reason)


@router.post("/resources/{code}/reinstate", response_model=ResourceOut, summary="申请恢复已撤销的条目")
def resources_reinstate(db: DbSession, actor: SignedInActor, code: str, body: ReasonIn) -> ResourceOut:
    return resource_reinstate(db, actor=actor, code=code, reason=body.reason)


@router.get("/resources/{code}/versions", response_model=list[VersionOut], summary="已发布版本列表")
def resources_versions(db: DbSession, actor: SignedInActor, code: str) -> list[VersionOut]:
    return resource_versions(db, actor=actor, code=code)


@router.get(
    "/resources/{code}/versions/{version}", response_model=VersionOut, summary="某一发布版本（含完整快照）"
)
def resources_version(db: DbSession, actor: SignedInActor, code: str, version: int) -> VersionOut:
    return resource_version(db, actor=actor, code=code, version=version)


@router.get(
    "/resources/{code}/diff",
    response_model=DiffOut,
    summary="版本差异",
    description="With `from` and `to`: the difference of two published versions. Without them: what the "
    "working copy changes against the version in force (editors and reviewers only).",
)
def resources_diff(
    db: DbSession,
    actor: SignedInActor,
    code: str,
    from_version: Annotated[int | None, Query(alias="from", ge=1)] = None,
    to_version: Annotated[int | None, Query(alias="to", ge=1)] = None,
) -> DiffOut:
    if from_version is None and to_version is None:
        return resource_pending_diff(db, actor=actor, code=code)
    if from_version is None or to_version is None:
        raise ValidationError(
            "请同时给出 from 和 to 两个版本号",
            message_en="give both 'from' and 'to'",
            field="to" if to_version is None else "from",
        )
    return resource_diff(db, actor=actor, code=code, v1=from_version, v2=to_version)


@router.get("/manage", response_model=ManageList, summary="本部门目录条目（数据管理员）")
def manage_list(
    db: DbSession,
    actor: SignedInActor,
    department_id: int | None = None,
    status: ResourceStatus | None = None,
) -> ManageList:
    return resource_list_manage(db, actor=actor, department_id=department_id, status=status)


@router.get("/review-queue", response_model=list[ResourceSummary], summary="待审核的提交（审核员）")
def review_list(db: DbSession, actor: SignedInActor) -> list[ResourceSummary]:
    return review_queue(db, actor=actor)


@router.get("/topics", response_model=list[TopicOut], summary="主题分类树（按代码排序）")
def topics(db: DbSession, actor: CurrentActor) -> list[TopicOut]:
    return topic_list(db, actor=actor)


@router.post(
    "/topics", response_model=TopicOut, status_code=status.HTTP_201_CREATED, summary="新增主题（平台管理员）"
)
def topics_create(db: DbSession, actor: SignedInActor, body: TopicIn) -> TopicOut:
    return topic_create(db, actor=actor, data=body)
