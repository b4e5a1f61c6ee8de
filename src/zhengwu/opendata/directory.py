"""Publishers (CKAN organizations = departments), topics (CKAN groups), tags and licences.

Read use cases are public, as in CKAN; creating a topic is for platform administrators.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.errors import Conflict, NotFound, ValidationError
from zhengwu.opendata.datastore.models import DatastoreTable
from zhengwu.opendata.licenses import LICENSES
from zhengwu.opendata.models import Dataset, DatasetGroup, DatasetState, DatasetTag, Distribution, Group
from zhengwu.opendata.packages import group_dict, org_name, organization_dict
from zhengwu.opendata.schemas import NAME_RE
from zhengwu.opendata.services import department_by_ref

MAX_LIST = 1000


def _public_counts_by_org(db: Session) -> dict[int, int]:
    stmt = (
        select(Dataset.organization_id, func.count())
        .where(Dataset.state == DatasetState.ACTIVE, Dataset.private.is_(False))
        .group_by(Dataset.organization_id)
    )
    return {org: n for org, n in db.execute(stmt).tuples()}


def organization_list(
    db: Session, *, actor: Actor, all_fields: bool = False, limit: int = MAX_LIST, offset: int = 0
) -> list[Any]:
    """``organization_list``: publishers that have open datasets, by name (or their dictionaries)."""
    del actor
    counts = _public_counts_by_org(db)
    depts = sorted((d for d in db.scalars(select(Department)) if d.id in counts), key=org_name)
    page = depts[offset : offset + min(limit, MAX_LIST)]
    if all_fields:
        return [organization_dict(d, package_count=counts.get(d.id, 0)) for d in page]
    return [org_name(d) for d in page]


def organization_get(db: Session, *, actor: Actor, ref: str) -> dict[str, Any]:
    """``organization_show``: one publisher and how many public datasets it has."""
    del actor
    dept = department_by_ref(db, ref)
    return organization_dict(dept, package_count=_public_counts_by_org(db).get(dept.id, 0))


@dataclass
class PortalFigures:
    """The headline figures of the portal, or of one publisher."""

    datasets: int
    publishers: int
    distributions: int
    tables: int
    rows: int


def portal_figures(db: Session, *, actor: Actor, organization_id: int | None = None) -> PortalFigures:
    """Public figures: open datasets, publishers, distributions, datastore tables and their rows."""
    del actor  # public figures: only active, public datasets are counted
    public = (Dataset.state == DatasetState.ACTIVE) & Dataset.private.is_(False)
    if organization_id is not None:
        public = public & (Dataset.organization_id == organization_id)
    datasets, publishers = db.execute(
        select(func.count(), func.count(func.distinct(Dataset.organization_id))).where(public)
    ).one()
    distributions = db.scalar(select(func.count()).select_from(Distribution).join(Dataset).where(public))
    tables, rows = db.execute(
        select(func.count(), func.coalesce(func.sum(DatastoreTable.row_count), 0))
        .select_from(DatastoreTable)
        .join(Distribution, Distribution.uuid == DatastoreTable.resource_id)
        .join(Dataset, Dataset.id == Distribution.dataset_id)
        .where(public, DatastoreTable.is_open.is_(True))
    ).one()
    return PortalFigures(
        datasets=int(datasets),
        publishers=int(publishers),
        distributions=int(distributions or 0),
        tables=int(tables),
        rows=int(rows),
    )


def _group_counts(db: Session) -> dict[int, int]:
    stmt = (
        select(DatasetGroup.group_id, func.count())
        .join(Dataset, Dataset.id == DatasetGroup.dataset_id)
        .where(Dataset.state == DatasetState.ACTIVE, Dataset.private.is_(False))
        .group_by(DatasetGroup.group_id)
    )
    return {g: n for g, n in db.execute(stmt).tuples()}


def group_list(
    db: Session, *, actor: Actor, all_fields: bool = False, limit: int = MAX_LIST, offset: int = 0
) -> list[Any]:
    """``group_list``: the portal's topics by name (or their dictionaries)."""
    del actor
    groups = list(db.scalars(select(Group).order_by(Group.name).limit(min(limit, MAX_LIST)).offset(offset)))
    if all_fields:
        counts = _group_counts(db)
        return [group_dict(g, package_count=counts.get(g.id, 0)) for g in groups]
    return [g.name for g in groups]


def group_get(db: Session, *, actor: Actor, ref: str) -> dict[str, Any]:
    """``group_show``."""
    del actor
    group = db.scalar(select(Group).where((Group.name == ref) | (Group.uuid == ref)))
    if group is None:
        raise NotFound(
            "主题不存在", message_en="Group not found", code="opendata.group_not_found", field="id"
        )
    return group_dict(group, package_count=_group_counts(db).get(group.id, 0))


def group_create(
    db: Session,
    *,
    actor: Actor,
    name: str,
    title: str,
    description: str = "",
    catalog_topic_code: str | None = None,
) -> dict[str, Any]:
    """A new topic of the portal (platform administrators)."""
    require_roles(actor, Role.PLATFORM_ADMIN)
    if not NAME_RE.match(name):
        raise ValidationError(
            "主题名称无效", message_en="invalid group name", code="opendata.group_name", field="name"
        )
    if db.scalar(select(func.count()).select_from(Group).where(Group.name == name)):
        raise Conflict(
            "主题名称已存在",
            message_en="Group name already exists",
            code="opendata.group_taken",
            field="name",
        )
    group = Group(
        uuid=str(uuid.uuid4()),
        name=name,
        title=title,
        description=description,
        catalog_topic_code=catalog_topic_code,
    )
    db.add(group)
    db.flush()
    audit_record(
        db, actor=actor, action="opendata.group.create", target_type="opendata_group", target_id=name
    )
    return group_dict(group, package_count=0)


def group_for_topic(db: Session, *, actor: Actor, topic_code: str, topic_name: str) -> Group:
    """The portal topic mirroring a catalog topic, created on first use."""
    group = db.scalar(select(Group).where(Group.catalog_topic_code == topic_code))
    if group is None:
        require_roles(actor, Role.PLATFORM_ADMIN, Role.DATA_ADMIN)
        name = "topic-" + "".join(ch if ch.isalnum() else "-" for ch in topic_code.lower())
        group = Group(
            uuid=str(uuid.uuid4()), name=name[:100], title=topic_name, catalog_topic_code=topic_code
        )
        db.add(group)
        db.flush()
    return group


def tag_list(
    db: Session, *, actor: Actor, query: str = "", limit: int = MAX_LIST, offset: int = 0
) -> list[str]:
    """``tag_list``: tags of public active datasets, by name; ``query`` filters by substring."""
    del actor
    stmt = (
        select(DatasetTag.name)
        .join(Dataset, Dataset.id == DatasetTag.dataset_id)
        .where(Dataset.state == DatasetState.ACTIVE, Dataset.private.is_(False))
        .distinct()
        .order_by(DatasetTag.name)
        .limit(min(limit, MAX_LIST))
        .offset(offset)
    )
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(DatasetTag.name.like(pattern, escape="\\"))
    return list(db.scalars(stmt))


def license_list(*, actor: Actor) -> list[dict[str, Any]]:
    """``license_list``: the licences a dataset may carry."""
    del actor
    return [lic.ckan_dict() for lic in LICENSES]
