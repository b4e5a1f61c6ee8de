"""Use cases of catalog entries: create, edit, submit, review, publish, revise, withdraw, read, compare.

Lifecycle (``ResourceStatus``)::

    draft ──submit──▶ submitted ──approve──▶ published ──withdraw──▶ withdrawn
      ▲                   │reject                │ revise (has_draft_changes)
      └──── rejected ◀────┘                      ▼
                                       editing ─submit─▶ under review ─approve─▶ published v n+1
                                                                       └reject─▶ editing

While a published entry is revised, the version in force stays readable by everyone; only the provider's
data administrators, reviewers and platform admins see the working copy. Every change is audited and
every function checks authorization first.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor, require_authenticated, require_department_admin, require_roles
from zhengwu.audit.models import AuditEvent
from zhengwu.catalog.codes import code_prefix, format_code, next_sequence
from zhengwu.catalog.entries import (
    EDITOR_ROLES,
    REVIEW_ROLES,
    apply_content,
    audit_entry,
    check_complete,
    check_content,
    department_of,
    flush_entry,
    load_resource,
    published_snapshot,
    resource_out,
    restore_published,
    snapshot_now,
    stale_conflict,
    under_review,
)
from zhengwu.catalog.models import Resource, ResourceStatus, ResourceVersion

# The read use cases and the topic tree live in their own modules; import them from here as well.
from zhengwu.catalog.queries import (
    Allowed,
    EditorOptions,
    editor_options,
    resource_allowed,
    resource_diff,
    resource_get,
    resource_get_for_edit,
    resource_list_manage,
    resource_pending_diff,
    resource_published_content,
    resource_version,
    resource_versions,
    review_queue,
)
from zhengwu.catalog.schemas import ResourceCreate, ResourceOut, ResourceUpdate
from zhengwu.catalog.search import services as search_services
from zhengwu.catalog.snapshots import change_note, diff_snapshots
from zhengwu.catalog.topics import topic_create, topic_list
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, ValidationError

__all__ = [
    "Allowed",
    "EditorOptions",
    "editor_options",
    "resource_allowed",
    "resource_approve",
    "resource_create",
    "resource_delete_draft",
    "resource_diff",
    "resource_discard_revision",
    "resource_get",
    "resource_get_for_edit",
    "resource_list_manage",
    "resource_pending_diff",
    "resource_published_content",
    "resource_reinstate",
    "resource_reject",
    "resource_revise",
    "resource_submit",
    "resource_update",
    "resource_version",
    "resource_versions",
    "resource_withdraw",
    "review_queue",
    "topic_create",
    "topic_list",
    "under_review",
]


def resource_create(
    db: Session, *, actor: Actor, data: ResourceCreate, zone: str = "extranet"
) -> ResourceOut:
    """Register a new entry as a draft and give it its permanent code.

    Data admins create for their own department; platform admins name any ``provider_id``. ``zone`` is
    the node's network zone (default extranet, the stricter one: classified entries are refused there).
    """
    require_roles(actor, *EDITOR_ROLES)
    provider_id = data.provider_id if data.provider_id is not None else actor.department_id
    if provider_id is None:
        raise ValidationError("请选择提供部门", message_en="provider_id is required", field="provider_id")
    require_department_admin(actor, provider_id)
    provider = department_of(db, provider_id)
    topic = check_content(db, data, zone=zone)
    prefix = code_prefix(data.classification, provider.code)
    resource = Resource(
        code="",
        provider_id=provider.id,
        status=ResourceStatus.DRAFT,
        has_draft_changes=True,
        created_by=actor.user_id,
    )
    apply_content(resource, data, topic)
    try:
        with db.begin_nested():
            resource.code = format_code(prefix, next_sequence(db, prefix))
            db.add(resource)
            db.flush()
    except IntegrityError as exc:  # only a hand-made code row could collide; never silently reuse it
        raise Conflict(
            "信息资源代码冲突，请重试",
            message_en="resource code collision, retry",
            code="catalog.code_collision",
        ) from exc
    audit_entry(db, actor, "create", resource, elements=len(resource.elements))
    return resource_out(db, resource)


def resource_update(
    db: Session, *, actor: Actor, code: str, data: ResourceUpdate, zone: str = "extranet"
) -> ResourceOut:
    """Save the working copy of a draft, a rejected entry or a revision; refuses a stale ``row_version``."""
    require_authenticated(actor)
    resource = load_resource(db, code)
    require_department_admin(actor, resource.provider_id)
    if resource.row_version != data.row_version:
        raise stale_conflict(code)
    editable = resource.status in (ResourceStatus.DRAFT, ResourceStatus.REJECTED) or (
        resource.status == ResourceStatus.PUBLISHED
        and resource.has_draft_changes
        and resource.submitted_at is None
    )
    if not editable:
        hint = {
            ResourceStatus.SUBMITTED: "条目正在审核，不能修改",
            ResourceStatus.PUBLISHED: "已发布的条目请先点击“修订”再修改"
            if not resource.has_draft_changes
            else "修订正在审核，不能修改",
            ResourceStatus.WITHDRAWN: "已撤销的条目不能修改",
        }[resource.status]
        raise Conflict(
            hint,
            message_en=f"entry in state {resource.status.value} cannot be edited",
            code="catalog.not_editable",
        )
    topic = check_content(db, data, zone=zone)
    before = snapshot_now(db, resource)
    with db.begin_nested():
        apply_content(resource, data, topic)
        flush_entry(db, resource)
        fields, added, removed, changed = diff_snapshots(before, snapshot_now(db, resource))
        audit_entry(
            db,
            actor,
            "update",
            resource,
            fields=[c.field for c in fields],
            elements_added=[e.name_en for e in added],
            elements_removed=[e.name_en for e in removed],
            elements_changed=[c.name_en for c in changed],
        )
    return resource_out(db, resource)


def resource_submit(db: Session, *, actor: Actor, code: str, zone: str = "extranet") -> ResourceOut:
    """Send a draft, a rejected entry or a revision to the platform for review, once it is complete."""
    require_authenticated(actor)
    resource = load_resource(db, code)
    require_department_admin(actor, resource.provider_id)
    first = resource.status in (ResourceStatus.DRAFT, ResourceStatus.REJECTED)
    revision = resource.status == ResourceStatus.PUBLISHED and resource.has_draft_changes
    if under_review(resource) or not (first or revision):
        raise Conflict(
            "只有草稿、已退回的条目或修订中的条目可以提交审核",
            message_en=f"cannot submit an entry in state {resource.status.value}",
            code="catalog.not_submittable",
        )
    check_complete(db, resource, zone=zone)
    with db.begin_nested():
        if first:
            resource.status = ResourceStatus.SUBMITTED
        resource.submitted_at = utcnow()
        flush_entry(db, resource)
        audit_entry(db, actor, "submit", resource, revision=revision)
    return resource_out(db, resource)


def resource_approve(
    db: Session, *, actor: Actor, code: str, comment: str = "", zone: str = "extranet"
) -> ResourceOut:
    """A reviewer publishes a submission: a new version n+1 is frozen and becomes the one in force."""
    require_roles(actor, *REVIEW_ROLES)
    resource = load_resource(db, code)
    if not under_review(resource):
        raise Conflict(
            "该条目没有待审核的提交", message_en="nothing awaits review", code="catalog.not_under_review"
        )
    check_complete(db, resource, zone=zone)
    before = published_snapshot(db, resource)
    snap = snapshot_now(db, resource)
    now = utcnow()
    version = resource.published_version + 1
    submitter = db.scalar(
        select(AuditEvent.actor_user_id)
        .where(
            AuditEvent.action == "catalog.resource.submit",
            AuditEvent.target_type == "catalog_resource",
            AuditEvent.target_id == resource.code,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    with db.begin_nested():
        db.add(
            ResourceVersion(
                resource_id=resource.id,
                version=version,
                snapshot=snap,
                change_note=change_note(before, snap),
                published_at=now,
                published_by=submitter,
                reviewed_by=actor.user_id,
            )
        )
        resource.status = ResourceStatus.PUBLISHED
        resource.published_version = version
        resource.published_at = now
        resource.first_published_at = resource.first_published_at or now
        # A reinstated entry is back in force: the withdrawal stays in the audit trail and the versions.
        resource.withdrawn_at = None
        resource.withdraw_reason = ""
        resource.has_draft_changes = False
        resource.submitted_at = None
        resource.review_comment = comment.strip()[:2000]
        flush_entry(db, resource)
        audit_entry(db, actor, "publish", resource, version=version)
        search_services.search_index_update(db, resource_id=resource.id)
    return resource_out(db, resource)


def resource_reject(db: Session, *, actor: Actor, code: str, reason: str) -> ResourceOut:
    """A reviewer sends a submission back with a reason; a rejected revision leaves the version in force."""
    require_roles(actor, *REVIEW_ROLES)
    if not reason.strip():
        raise ValidationError("请填写退回原因", message_en="a reason is required", field="reason")
    resource = load_resource(db, code)
    if not under_review(resource):
        raise Conflict(
            "该条目没有待审核的提交", message_en="nothing awaits review", code="catalog.not_under_review"
        )
    with db.begin_nested():
        if resource.status == ResourceStatus.SUBMITTED:
            resource.status = ResourceStatus.REJECTED
        resource.submitted_at = None
        resource.review_comment = reason.strip()[:2000]
        flush_entry(db, resource)
        audit_entry(db, actor, "reject", resource, reason=resource.review_comment)
    return resource_out(db, resource)


def resource_revise(db: Session, *, actor: Actor, code: str) -> ResourceOut:
    """Open a revision of a published entry; the published version stays in force until the next one."""
    require_authenticated(actor)
    resource = load_resource(db, code)
    require_department_admin(actor, resource.provider_id)
    if resource.status != ResourceStatus.PUBLISHED:
        raise Conflict(
            "只有已发布的条目可以修订",
            message_en="only published entries can be revised",
            code="catalog.not_revisable",
        )
    if not resource.has_draft_changes:
        with db.begin_nested():
            resource.has_draft_changes = True
            resource.review_comment = ""
            flush_entry(db, resource)
            audit_entry(db, actor, "revise", resource, from_version=resource.published_version)
    return resource_out(db, resource)


def resource_discard_revision(db: Session, *, actor: Actor, code: str) -> ResourceOut:
    """Drop an unsubmitted revision: the working copy goes back to the version in force."""
    require_authenticated(actor)
    resource = load_resource(db, code)
    require_department_admin(actor, resource.provider_id)
    if (
        resource.status != ResourceStatus.PUBLISHED
        or not resource.has_draft_changes
        or under_review(resource)
    ):
        raise Conflict(
            "没有可放弃的修订", message_en="no open revision to discard", code="catalog.no_revision"
        )
    with db.begin_nested():
        restore_published(db, resource)
        resource.updated_at = utcnow()
        flush_entry(db, resource)
        audit_entry(db, actor, "discard_revision", resource)
    return resource_out(db, resource)


def resource_withdraw(db: Session, *, actor: Actor, code: str, reason: str) -> ResourceOut:
    """Take a published entry out of the catalog (kept, readable, no longer searchable or requestable)."""
    require_authenticated(actor)
    resource = load_resource(db, code)
    require_department_admin(actor, resource.provider_id)
    if not reason.strip():
        raise ValidationError("请填写撤销原因", message_en="a reason is required", field="reason")
    if resource.status != ResourceStatus.PUBLISHED:
        raise Conflict(
            "只有已发布的条目可以撤销",
            message_en="only published entries can be withdrawn",
            code="catalog.not_withdrawable",
        )
    with db.begin_nested():
        restore_published(db, resource)
        resource.status = ResourceStatus.WITHDRAWN
        resource.withdrawn_at = utcnow()
        resource.withdraw_reason = reason.strip()[:2000]
        flush_entry(db, resource)
        audit_entry(db, actor, "withdraw", resource, reason=resource.withdraw_reason)
        search_services.search_index_remove(db, resource_id=resource.id)
    return resource_out(db, resource)


def resource_reinstate(db: Session, *, actor: Actor, code: str, reason: str) -> ResourceOut:
    """Ask to bring a withdrawn entry back into the catalog.

    It goes through review again (the platform decides, as for a first publication); approval publishes it
    as version n+1, a rejection leaves it editable. Its code never changes, so grants and links still match.
    """
    require_authenticated(actor)
    resource = load_resource(db, code)
    require_department_admin(actor, resource.provider_id)
    if not reason.strip():
        raise ValidationError("请填写恢复理由", message_en="a reason is required", field="reason")
    if resource.status != ResourceStatus.WITHDRAWN:
        raise Conflict(
            "只有已撤销的条目可以申请恢复",
            message_en="only withdrawn entries can be reinstated",
            code="catalog.not_reinstatable",
        )
    with db.begin_nested():
        resource.status = ResourceStatus.SUBMITTED
        resource.submitted_at = utcnow()
        resource.has_draft_changes = True
        resource.review_comment = ""
        flush_entry(db, resource)
        audit_entry(db, actor, "reinstate", resource, reason=reason.strip()[:2000])
    return resource_out(db, resource)


def resource_delete_draft(db: Session, *, actor: Actor, code: str) -> None:
    """Delete an entry that was never published; its code is not handed out again."""
    require_authenticated(actor)
    resource = load_resource(db, code)
    require_department_admin(actor, resource.provider_id)
    if resource.published_version or resource.status not in (ResourceStatus.DRAFT, ResourceStatus.REJECTED):
        raise Conflict(
            "只有从未发布的草稿可以删除",
            message_en="only never-published drafts can be deleted",
            code="catalog.not_deletable",
        )
    with db.begin_nested():
        audit_entry(db, actor, "delete", resource)
        db.delete(resource)
        db.flush()
