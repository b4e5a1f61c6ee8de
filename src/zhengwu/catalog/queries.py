"""Read use cases of catalog entries: one entry, lists for editors and reviewers, versions, diffs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role, User
from zhengwu.accounts.permissions import Actor, require_authenticated, require_department_admin, require_roles
from zhengwu.catalog.entries import (
    EDITOR_ROLES,
    REVIEW_ROLES,
    can_see_working_copy,
    load_resource,
    published_snapshot,
    require_working_copy,
    resource_out,
    snapshot_now,
    under_review,
)
from zhengwu.catalog.models import DataElement, Resource, ResourceStatus, ResourceVersion
from zhengwu.catalog.schemas import DiffOut, ManageList, ResourceOut, ResourceSummary, TopicOut, VersionOut
from zhengwu.catalog.snapshots import diff_snapshots
from zhengwu.catalog.topics import topic_list
from zhengwu.errors import NotFound, ValidationError


def resource_get(db: Session, *, actor: Actor, code: str, working: bool = False) -> ResourceOut:
    """One entry: the version in force for everyone signed in, or the working copy for its editors.

    A never-published entry only exists as a working copy and is hidden from other departments.
    """
    require_authenticated(actor)
    resource = load_resource(db, code)
    if working or resource.published_version == 0:
        require_working_copy(actor, resource)
        return resource_out(db, resource, view="working")
    return resource_out(db, resource, view="published")


def resource_published_content(db: Session, *, resource_id: int) -> dict[str, Any] | None:
    """The snapshot in force of a resource (None if never published), for the search index and sharing.

    No authorization: internal to the platform, called by other use cases that did their own checks.
    """
    resource = db.get(Resource, resource_id)
    return None if resource is None else published_snapshot(db, resource)


def _pairs(db: Session, query: Select[Any]) -> dict[Any, Any]:
    # Result objects have .keys(), so dict(result) would treat them as mappings: go through rows.
    return {key: value for key, value in db.execute(query).tuples()}


def summaries(db: Session, resources: list[Resource]) -> list[ResourceSummary]:
    if not resources:
        return []
    ids = [r.id for r in resources]
    counts = _pairs(
        db,
        select(DataElement.resource_id, func.count())
        .where(DataElement.resource_id.in_(ids))
        .group_by(DataElement.resource_id),
    )
    providers = {r.provider_id for r in resources}
    names = _pairs(db, select(Department.id, Department.name).where(Department.id.in_(providers)))
    return [
        ResourceSummary(
            id=r.id,
            code=r.code,
            name=r.name,
            provider_id=r.provider_id,
            provider_name=names.get(r.provider_id, ""),
            category=r.category,
            classification=r.classification,
            share_type=r.share_type,
            open_type=r.open_type,
            delivery=r.delivery,
            update_frequency=r.update_frequency,
            status=r.status,
            has_draft_changes=r.has_draft_changes,
            under_review=under_review(r),
            published_version=r.published_version,
            published_at=r.published_at,
            submitted_at=r.submitted_at,
            updated_at=r.updated_at,
            element_count=int(counts.get(r.id, 0)),
            review_comment=r.review_comment,
        )
        for r in resources
    ]


def resource_list_manage(
    db: Session, *, actor: Actor, department_id: int | None = None, status: ResourceStatus | None = None
) -> ManageList:
    """The editor's list: every entry of one department (default the caller's), newest change first."""
    require_roles(actor, *EDITOR_ROLES)
    department_id = department_id if department_id is not None else actor.department_id
    if department_id is None:
        raise ValidationError("请选择部门", message_en="department_id is required", field="department_id")
    require_department_admin(actor, department_id)
    dept = db.get(Department, department_id)
    if dept is None:
        raise NotFound("部门不存在", message_en="department not found", field="department_id")
    counts = _pairs(
        db,
        select(Resource.status, func.count())
        .where(Resource.provider_id == department_id)
        .group_by(Resource.status),
    )
    query = select(Resource).where(Resource.provider_id == department_id)
    if status is not None:
        query = query.where(Resource.status == status)
    rows = list(db.scalars(query.order_by(Resource.updated_at.desc(), Resource.id.desc())))
    return ManageList(
        department_id=dept.id,
        department_name=dept.name,
        total=sum(int(v) for v in counts.values()),
        counts={str(k): int(v) for k, v in counts.items()},
        items=summaries(db, rows),
    )


def review_queue(db: Session, *, actor: Actor) -> list[ResourceSummary]:
    """Submissions awaiting review, oldest first (first submissions and revisions alike)."""
    require_roles(actor, *REVIEW_ROLES)
    rows = db.scalars(
        select(Resource)
        .where(
            Resource.submitted_at.is_not(None),
            Resource.status.in_([ResourceStatus.SUBMITTED, ResourceStatus.PUBLISHED]),
        )
        .order_by(Resource.submitted_at, Resource.id)
    )
    return summaries(db, [r for r in rows if under_review(r)])


def user_names(db: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return _pairs(db, select(User.id, User.display_name).where(User.id.in_(wanted)))


def resource_versions(db: Session, *, actor: Actor, code: str) -> list[VersionOut]:
    """Every published version of an entry, newest first (without their snapshots)."""
    require_authenticated(actor)
    resource = load_resource(db, code)
    if resource.published_version == 0:
        require_working_copy(actor, resource)
    rows = list(
        db.scalars(
            select(ResourceVersion)
            .where(ResourceVersion.resource_id == resource.id)
            .order_by(ResourceVersion.version.desc())
        )
    )
    names = user_names(db, {r.published_by for r in rows} | {r.reviewed_by for r in rows})
    return [
        VersionOut(
            version=r.version,
            published_at=r.published_at,
            published_by=names.get(r.published_by) if r.published_by else None,
            reviewed_by=names.get(r.reviewed_by) if r.reviewed_by else None,
            change_note=r.change_note,
        )
        for r in rows
    ]


def resource_version(db: Session, *, actor: Actor, code: str, version: int) -> VersionOut:
    """One published version with its full snapshot."""
    require_authenticated(actor)
    resource = load_resource(db, code)
    row = db.scalar(
        select(ResourceVersion).where(
            ResourceVersion.resource_id == resource.id, ResourceVersion.version == version
        )
    )
    if row is None:
        raise NotFound(
            f"{code} 没有第 {version} 版", message_en=f"{code} has no version {version}", field="version"
        )
    names = user_names(db, {row.published_by, row.reviewed_by})
    return VersionOut(
        version=row.version,
        published_at=row.published_at,
        published_by=names.get(row.published_by) if row.published_by else None,
        reviewed_by=names.get(row.reviewed_by) if row.reviewed_by else None,
        change_note=row.change_note,
        snapshot=dict(row.snapshot),
    )


def version_snapshot(db: Session, resource: Resource, version: int, field: str) -> dict[str, Any]:
    row = db.scalar(
        select(ResourceVersion).where(
            ResourceVersion.resource_id == resource.id, ResourceVersion.version == version
        )
    )
    if row is None:
        raise NotFound(
            f"{resource.code} 没有第 {version} 版",
            message_en=f"{resource.code} has no version {version}",
            field=field,
        )
    return dict(row.snapshot)


def resource_diff(db: Session, *, actor: Actor, code: str, v1: int, v2: int) -> DiffOut:
    """Field-level difference between two published versions (elements added, removed, changed)."""
    require_authenticated(actor)
    resource = load_resource(db, code)
    before = version_snapshot(db, resource, v1, "from")
    after = version_snapshot(db, resource, v2, "to")
    fields, added, removed, changed = diff_snapshots(before, after)
    return DiffOut(
        code=code, from_version=v1, to_version=v2, fields=fields,
        elements_added=added, elements_removed=removed, elements_changed=changed,
    )  # fmt: skip


def resource_pending_diff(db: Session, *, actor: Actor, code: str) -> DiffOut:
    """What the working copy changes against the version in force (everything, for a first version)."""
    require_authenticated(actor)
    resource = load_resource(db, code)
    require_working_copy(actor, resource)
    before = published_snapshot(db, resource) or {"elements": []}
    fields, added, removed, changed = diff_snapshots(before, snapshot_now(db, resource))
    return DiffOut(
        code=code, from_version=resource.published_version or None, to_version=None, fields=fields,
        elements_added=added, elements_removed=removed, elements_changed=changed,
    )  # fmt: skip


def resource_get_for_edit(db: Session, *, actor: Actor, code: str) -> ResourceOut:
    """The working copy, for the provider's data admins and platform admins (the editor form)."""
    require_authenticated(actor)
    resource = load_resource(db, code)
    require_department_admin(actor, resource.provider_id)
    return resource_out(db, resource, view="working")


@dataclass(frozen=True)
class Allowed:
    """What the caller may do with an entry now: drives which buttons a page shows (services re-check)."""

    see_working: bool
    edit: bool
    submit: bool
    revise: bool
    discard: bool
    withdraw: bool
    reinstate: bool
    delete: bool
    review: bool


def resource_allowed(actor: Actor, resource: ResourceOut) -> Allowed:
    """The actions open to ``actor`` on ``resource``, by role and lifecycle state."""
    owner = actor.is_authenticated and (
        actor.has(Role.PLATFORM_ADMIN)
        or (actor.has(Role.DATA_ADMIN) and actor.department_id == resource.provider_id)
    )
    status = resource.status
    first = status in (ResourceStatus.DRAFT, ResourceStatus.REJECTED)
    revising = status == ResourceStatus.PUBLISHED and resource.has_draft_changes
    return Allowed(
        see_working=actor.is_authenticated and can_see_working_copy(actor, resource.provider_id),
        edit=owner and (first or (revising and not resource.under_review)),
        submit=owner and (first or revising) and not resource.under_review,
        revise=owner and status == ResourceStatus.PUBLISHED and not resource.has_draft_changes,
        discard=owner and revising and not resource.under_review,
        withdraw=owner and status == ResourceStatus.PUBLISHED,
        reinstate=owner and status == ResourceStatus.WITHDRAWN,
        delete=owner and first and resource.published_version == 0,
        review=actor.is_authenticated and actor.has(*REVIEW_ROLES) and resource.under_review,
    )


@dataclass(frozen=True)
class EditorOptions:
    """Choices the editor form offers: providers the caller may file for, topics, classifications in use."""

    departments: list[tuple[int, str]]
    topics: list[TopicOut]
    classifications: list[str]


def editor_options(db: Session, *, actor: Actor) -> EditorOptions:
    """What the editor needs to offer; data admins and platform admins only."""
    require_roles(actor, *EDITOR_ROLES)
    query = select(Department.id, Department.name).order_by(Department.code)
    if not actor.has(Role.PLATFORM_ADMIN):
        query = query.where(Department.id == actor.department_id)
    departments = [(int(i), str(n)) for i, n in db.execute(query).tuples()]
    used = select(Resource.classification).distinct().order_by(Resource.classification)
    if not actor.has(Role.PLATFORM_ADMIN):
        used = used.where(Resource.provider_id == actor.department_id)
    return EditorOptions(
        departments=departments,
        topics=topic_list(db, actor=actor),
        classifications=[str(c) for c in db.scalars(used.limit(200))],
    )
