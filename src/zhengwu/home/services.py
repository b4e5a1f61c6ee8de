"""Figures for the home page, readable by anyone (no personal data)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import LEVEL_LABELS_ZH, ROLE_LABELS_ZH, Department, Role, User, UserRole
from zhengwu.accounts.permissions import Actor
from zhengwu.audit.models import AuditEvent
from zhengwu.catalog.models import DataElement, Resource, ResourceStatus
from zhengwu.opendata.models import Dataset, DatasetState
from zhengwu.opendata.showcase.models import Showcase, ShowcaseStatus
from zhengwu.registries.models import Entity, Person


@dataclass(frozen=True)
class Figure:
    label: str
    value: int
    href: str | None = None


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    share: float


@dataclass(frozen=True)
class PlatformFigures:
    figures: list[Figure]
    departments_by_level: list[Bar]
    users_by_role: list[Bar] | None


def _bars(pairs: list[tuple[str, int]]) -> list[Bar]:
    top = max((v for _, v in pairs), default=0) or 1
    return [Bar(label, value, round(100 * value / top, 1)) for label, value in pairs]


def platform_figures(db: Session, *, actor: Actor) -> PlatformFigures:
    """Counts of what the platform holds. Everyone sees the catalog and organisation figures; the
    account and audit figures are for platform admins and auditors only."""
    staff_view = actor.has(Role.PLATFORM_ADMIN, Role.AUDITOR)
    departments = int(db.scalar(select(func.count()).select_from(Department)) or 0)
    users = int(db.scalar(select(func.count()).select_from(User)) or 0)
    events = int(db.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    published = Resource.status == ResourceStatus.PUBLISHED
    resources = int(db.scalar(select(func.count()).select_from(Resource).where(published)) or 0)
    elements = int(
        db.scalar(select(func.count()).select_from(DataElement).join(Resource).where(published)) or 0
    )
    providers = int(db.scalar(select(func.count(func.distinct(Resource.provider_id))).where(published)) or 0)
    open_datasets = int(
        db.scalar(
            select(func.count()).where(Dataset.state == DatasetState.ACTIVE, Dataset.private.is_(False))
        )
        or 0
    )
    showcases = int(db.scalar(select(func.count()).where(Showcase.status == ShowcaseStatus.APPROVED)) or 0)
    by_level = dict(
        db.execute(select(Department.level, func.count()).group_by(Department.level)).tuples().all()
    )
    by_role = dict(db.execute(select(UserRole.role, func.count()).group_by(UserRole.role)).tuples().all())
    return PlatformFigures(
        figures=[
            Figure("已发布信息资源", resources, "/catalog"),
            Figure("信息项", elements),
            Figure("提供部门", providers),
            Figure("接入部门", departments, "/admin/departments"),
            Figure(
                "人口基础库（人）",
                int(db.scalar(select(func.count()).select_from(Person)) or 0),
                "/registries",
            ),
            Figure(
                "法人基础库（个）",
                int(db.scalar(select(func.count()).select_from(Entity)) or 0),
                "/registries",
            ),
            Figure("开放数据集", open_datasets, "/opendata"),
            Figure("开放数据应用", showcases, "/opendata/showcases"),
            *([Figure("用户", users), Figure("审计记录", events)] if staff_view else []),
        ],
        departments_by_level=_bars(
            [(LEVEL_LABELS_ZH[lv], int(by_level.get(lv, 0))) for lv in LEVEL_LABELS_ZH]
        ),
        users_by_role=_bars([(ROLE_LABELS_ZH[r], int(by_role.get(r.value, 0))) for r in Role])
        if staff_view
        else None,
    )
