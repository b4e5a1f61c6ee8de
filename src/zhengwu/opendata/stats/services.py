"""Use cases of the usage statistics: per dataset, per publisher, portal-wide, CSV export, CKAN tracking.

Statistics are public, as on data.gov.uk or data.gouv.fr: anyone may read how often an open dataset
was viewed, downloaded and called. Only active, public datasets are counted in publisher and portal
figures; the figures of a private dataset are shown to those who may see the dataset.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department
from zhengwu.accounts.permissions import Actor
from zhengwu.errors import NotFound, ValidationError
from zhengwu.opendata.models import Dataset, DatasetState
from zhengwu.opendata.packages import org_name, org_name_of
from zhengwu.opendata.services import dataset_by_ref, department_by_ref, is_visible
from zhengwu.opendata.stats.models import KIND_LABELS_ZH, UsageCount, UsageKind
from zhengwu.opendata.stats.recorder import today

PERIODS: Final = (30, 90)
MAX_DAYS: Final = 366
TOP: Final = 10
TRACKING_RECENT_DAYS: Final = 14  # CKAN's tracking_summary "recent": the last 14 days
KINDS: Final = (UsageKind.VIEW, UsageKind.DOWNLOAD, UsageKind.API)
CSV_COLUMNS: Final = (
    "day",
    "dataset",
    "dataset_title",
    "organization",
    "kind",
    "detail",
    "resource_id",
    "count",
)


@dataclass
class UsageTotals:
    """Views, downloads and API calls."""

    views: int = 0
    downloads: int = 0
    api_calls: int = 0

    def add(self, kind: str, count: int) -> None:
        if kind == UsageKind.VIEW:
            self.views += count
        elif kind == UsageKind.DOWNLOAD:
            self.downloads += count
        elif kind == UsageKind.API:
            self.api_calls += count


@dataclass
class UsageSeries:
    """One value per day and kind, oldest day first (days without use count 0)."""

    days: list[str]
    views: list[int]
    downloads: list[int]
    api_calls: list[int]


@dataclass
class DatasetUsageRow:
    """A dataset's figures in a ranking or a publisher's table."""

    name: str
    title: str
    organization: str
    views: int
    downloads: int
    api_calls: int


@dataclass
class PublisherUsageRow:
    """A publisher's figures in the portal's table."""

    name: str
    title: str
    datasets: int
    views: int
    downloads: int
    api_calls: int


@dataclass
class DatasetUsage:
    """The statistics of one dataset: all time, the period, per day, per format and per action."""

    name: str
    title: str
    organization: str
    organization_title: str
    days: int
    total: UsageTotals
    period: UsageTotals
    series: UsageSeries
    downloads_by_format: list[tuple[str, int]]
    api_by_action: list[tuple[str, int]]


@dataclass
class PublisherUsage:
    """The statistics of one publisher: totals, per day, its datasets ranked."""

    name: str
    title: str
    days: int
    total: UsageTotals
    period: UsageTotals
    series: UsageSeries
    datasets: list[DatasetUsageRow]


@dataclass
class PortalUsage:
    """The portal's statistics: totals, per day, top datasets by each kind, publishers."""

    days: int
    total: UsageTotals
    period: UsageTotals
    series: UsageSeries
    top_views: list[DatasetUsageRow] = field(default_factory=list)
    top_downloads: list[DatasetUsageRow] = field(default_factory=list)
    top_api_calls: list[DatasetUsageRow] = field(default_factory=list)
    publishers: list[PublisherUsageRow] = field(default_factory=list)


def check_days(days: int) -> int:
    """A period length in days: 1 to 366."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(
            f"统计天数须在 1 到 {MAX_DAYS} 之间",
            message_en=f"days must be between 1 and {MAX_DAYS}",
            code="opendata.stats",
            field="days",
        )
    return days


def _public() -> Any:
    return (Dataset.state == DatasetState.ACTIVE) & Dataset.private.is_(False)


def _visible_dataset(db: Session, actor: Actor, ref: str) -> Dataset:
    dataset = dataset_by_ref(db, ref)
    if not is_visible(actor, dataset):
        raise NotFound("数据集不存在", message_en="Dataset not found", code="opendata.not_found", field="id")
    return dataset


def _totals(db: Session, stmt: Select[Any]) -> UsageTotals:
    totals = UsageTotals()
    for kind, count in db.execute(stmt.group_by(UsageCount.kind)).tuples():
        totals.add(kind, int(count or 0))
    return totals


def _base(*where: Any) -> Select[Any]:
    return (
        select(UsageCount.kind, func.sum(UsageCount.count))
        .join(Dataset, Dataset.id == UsageCount.dataset_id)
        .where(*where)
    )


def _series(db: Session, days: int, *where: Any) -> UsageSeries:
    end = today()
    start = end - dt.timedelta(days=days - 1)
    stmt = (
        select(UsageCount.day, UsageCount.kind, func.sum(UsageCount.count))
        .join(Dataset, Dataset.id == UsageCount.dataset_id)
        .where(UsageCount.day >= start, UsageCount.day <= end, *where)
        .group_by(UsageCount.day, UsageCount.kind)
    )
    index = {start + dt.timedelta(days=i): i for i in range(days)}
    values = {kind: [0] * days for kind in KINDS}
    for day, kind, count in db.execute(stmt).tuples():
        if day in index and kind in values:
            values[UsageKind(kind)][index[day]] += int(count or 0)
    return UsageSeries(
        days=[d.isoformat() for d in index],
        views=values[UsageKind.VIEW],
        downloads=values[UsageKind.DOWNLOAD],
        api_calls=values[UsageKind.API],
    )


def _period_start(days: int) -> dt.date:
    return today() - dt.timedelta(days=days - 1)


def _ranked(db: Session, *where: Any, order_kind: str | None, limit: int | None) -> list[DatasetUsageRow]:
    """Datasets with their totals in the period, by the count of ``order_kind`` (all kinds if None)."""
    views = func.sum(UsageCount.count).filter(UsageCount.kind == UsageKind.VIEW)
    downloads = func.sum(UsageCount.count).filter(UsageCount.kind == UsageKind.DOWNLOAD)
    calls = func.sum(UsageCount.count).filter(UsageCount.kind == UsageKind.API)
    by_kind = {str(UsageKind.VIEW): views, str(UsageKind.DOWNLOAD): downloads, str(UsageKind.API): calls}
    order = by_kind.get(order_kind or "", func.sum(UsageCount.count))
    stmt = (
        select(Dataset.name, Dataset.title, Department.code, Department.id, views, downloads, calls)
        .join(Dataset, Dataset.id == UsageCount.dataset_id)
        .join(Department, Department.id == Dataset.organization_id)
        .where(*where)
        .group_by(Dataset.id, Dataset.name, Dataset.title, Department.code, Department.id)
        .order_by(func.coalesce(order, 0).desc(), Dataset.name)
    )
    if order_kind:
        stmt = stmt.having(func.coalesce(order, 0) > 0)
    if limit:
        stmt = stmt.limit(limit)
    return [
        DatasetUsageRow(
            name=name,
            title=title,
            organization=org_name_of(code, dept_id),
            views=int(v or 0),
            downloads=int(d or 0),
            api_calls=int(a or 0),
        )
        for name, title, code, dept_id, v, d, a in db.execute(stmt).tuples()
    ]


def dataset_usage(
    db: Session, *, actor: Actor, ref: str, days: int = 30, breakdown: bool = True
) -> DatasetUsage:
    """Statistics of one dataset (NotFound when the caller may not see it); without ``breakdown`` (the
    dataset page's summary) the downloads by format and calls by action are left empty."""
    check_days(days)
    dataset = _visible_dataset(db, actor, ref)
    dept = db.get(Department, dataset.organization_id)
    assert dept is not None
    mine = UsageCount.dataset_id == dataset.id
    in_period = UsageCount.day >= _period_start(days)

    def by_detail(kind: UsageKind) -> list[tuple[str, int]]:
        if not breakdown:
            return []
        stmt = (
            select(UsageCount.detail, func.sum(UsageCount.count))
            .where(mine, in_period, UsageCount.kind == kind)
            .group_by(UsageCount.detail)
            .order_by(func.sum(UsageCount.count).desc(), UsageCount.detail)
        )
        return [(detail or "—", int(n or 0)) for detail, n in db.execute(stmt).tuples()]

    return DatasetUsage(
        name=dataset.name,
        title=dataset.title,
        organization=org_name(dept),
        organization_title=dept.name,
        days=days,
        total=_totals(db, _base(mine)),
        period=_totals(db, _base(mine, in_period)),
        series=_series(db, days, mine),
        downloads_by_format=by_detail(UsageKind.DOWNLOAD),
        api_by_action=by_detail(UsageKind.API),
    )


def publisher_usage(db: Session, *, actor: Actor, ref: str, days: int = 30) -> PublisherUsage:
    """Statistics of one publisher's public datasets."""
    del actor  # public figures of public datasets
    check_days(days)
    dept = department_by_ref(db, ref)
    mine = _public() & (Dataset.organization_id == dept.id)
    in_period = UsageCount.day >= _period_start(days)
    return PublisherUsage(
        name=org_name(dept),
        title=dept.name,
        days=days,
        total=_totals(db, _base(mine)),
        period=_totals(db, _base(mine, in_period)),
        series=_series(db, days, mine),
        datasets=_ranked(db, mine, in_period, order_kind=None, limit=100),
    )


def portal_usage(db: Session, *, actor: Actor, days: int = 30, top: int = TOP) -> PortalUsage:
    """The portal's statistics over the last ``days`` days (public datasets only)."""
    del actor
    check_days(days)
    public = _public()
    in_period = UsageCount.day >= _period_start(days)
    views = func.sum(UsageCount.count).filter(UsageCount.kind == UsageKind.VIEW)
    downloads = func.sum(UsageCount.count).filter(UsageCount.kind == UsageKind.DOWNLOAD)
    calls = func.sum(UsageCount.count).filter(UsageCount.kind == UsageKind.API)
    per_org = (
        select(
            Department.code,
            Department.id,
            Department.name,
            func.count(func.distinct(Dataset.id)),
            views,
            downloads,
            calls,
        )
        .join(Dataset, Dataset.id == UsageCount.dataset_id)
        .join(Department, Department.id == Dataset.organization_id)
        .where(public, in_period)
        .group_by(Department.id, Department.code, Department.name)
        .order_by(func.sum(UsageCount.count).desc(), Department.name)
    )
    publishers = [
        PublisherUsageRow(
            name=org_name_of(code, dept_id),
            title=name,
            datasets=int(n),
            views=int(v or 0),
            downloads=int(d or 0),
            api_calls=int(a or 0),
        )
        for code, dept_id, name, n, v, d, a in db.execute(per_org).tuples()
    ]
    return PortalUsage(
        days=days,
        total=_totals(db, _base(public)),
        period=_totals(db, _base(public, in_period)),
        series=_series(db, days, public),
        top_views=_ranked(db, public, in_period, order_kind=UsageKind.VIEW, limit=top),
        top_downloads=_ranked(db, public, in_period, order_kind=UsageKind.DOWNLOAD, limit=top),
        top_api_calls=_ranked(db, public, in_period, order_kind=UsageKind.API, limit=top),
        publishers=publishers,
    )


def usage_csv(
    db: Session, *, actor: Actor, days: int = 90, organization: str = "", dataset: str = ""
) -> Iterator[str]:
    """The counters of the last ``days`` days as CSV text chunks (UTF-8 with BOM for Excel)."""
    check_days(days)
    where: list[Any] = [UsageCount.day >= _period_start(days)]
    if dataset:
        where.append(Dataset.id == _visible_dataset(db, actor, dataset).id)
    else:
        where.append(_public())
    if organization:
        where.append(Dataset.organization_id == department_by_ref(db, organization).id)
    stmt = (
        select(
            UsageCount.day,
            Dataset.name,
            Dataset.title,
            Department.code,
            Department.id,
            UsageCount.kind,
            UsageCount.detail,
            UsageCount.resource,
            UsageCount.count,
        )
        .join(Dataset, Dataset.id == UsageCount.dataset_id)
        .join(Department, Department.id == Dataset.organization_id)
        .where(*where)
        .order_by(UsageCount.day, Dataset.name, UsageCount.kind, UsageCount.detail, UsageCount.resource)
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    for day, name, title, code, dept_id, kind, detail, resource, count in db.execute(stmt).tuples():
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            [day.isoformat(), name, title, org_name_of(code, dept_id), kind, detail, resource, count]
        )
        yield buffer.getvalue()


def tracking_summaries(db: Session, dataset_id: int) -> dict[str, dict[str, int]]:
    """CKAN's ``tracking_summary`` of a dataset (views) and of each resource (downloads), keyed by
    ``""`` for the dataset and by resource id: ``{"total", "recent"}`` (recent: the last 14 days)."""
    recent_start = today() - dt.timedelta(days=TRACKING_RECENT_DAYS - 1)
    stmt = (
        select(
            UsageCount.kind,
            UsageCount.resource,
            func.sum(UsageCount.count),
            func.sum(UsageCount.count).filter(UsageCount.day >= recent_start),
        )
        .where(
            UsageCount.dataset_id == dataset_id,
            UsageCount.kind.in_([UsageKind.VIEW, UsageKind.DOWNLOAD]),
        )
        .group_by(UsageCount.kind, UsageCount.resource)
    )
    out: dict[str, dict[str, int]] = {"": {"total": 0, "recent": 0}}
    for kind, resource, total, recent in db.execute(stmt).tuples():
        key = "" if kind == UsageKind.VIEW else resource
        if kind == UsageKind.DOWNLOAD and not resource:
            continue
        entry = out.setdefault(key, {"total": 0, "recent": 0})
        entry["total"] += int(total or 0)
        entry["recent"] += int(recent or 0)
    return out


def package_tracking(db: Session, package: dict[str, Any]) -> dict[str, Any]:
    """A ``package_show`` result with CKAN's ``tracking_summary`` on it and on each resource."""
    dataset = dataset_by_ref(db, str(package["id"]))
    summaries = tracking_summaries(db, dataset.id)
    package["tracking_summary"] = summaries[""]
    for resource in package.get("resources", []):
        resource["tracking_summary"] = summaries.get(str(resource.get("id")), {"total": 0, "recent": 0})
    return package


def kind_labels() -> dict[str, str]:
    """The Chinese names of the kinds, for pages."""
    return {str(k): v for k, v in KIND_LABELS_ZH.items()}
