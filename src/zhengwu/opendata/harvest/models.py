"""Tables of harvesting (级联采集): sources, jobs, the per-item log and the origin of harvested datasets.

A *source* is another portal (a CKAN Action API or a DCAT endpoint) whose datasets this portal copies
under a local publisher. A *job* is one run over a source, in ckanext-harvest's three stages (gather the
remote ids and modified times, fetch what changed, import); its counts and the log of every item that
was not skipped are kept. A *record* ties a local dataset to its origin (source, remote id, remote
modified time, remote URL, hash of the remote content): it makes a second run skip what did not change,
makes the dataset read-only locally, and is shown on the dataset page as provenance.

The lock of a source (``lock_token``, ``locked_at``) is taken by a conditional UPDATE that only one
concurrent run can win, on SQLite and PostgreSQL alike; a stale lock (a crashed run) expires.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    # Plain strings, no native ENUM type: adding a value needs no ALTER TYPE.
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class JobStatus(enum.StrEnum):
    """Where a harvest job stands."""

    RUNNING = "running"
    FINISHED = "finished"  # every item imported or skipped
    PARTIAL = "partial"  # finished, some items failed (see the log)
    FAILED = "failed"  # the remote could not be listed: nothing was withdrawn


JOB_STATUS_LABELS_ZH = {
    JobStatus.RUNNING: "运行中",
    JobStatus.FINISHED: "成功",
    JobStatus.PARTIAL: "部分失败",
    JobStatus.FAILED: "失败",
}


class ItemAction(enum.StrEnum):
    """What a job did with one remote dataset."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    SKIPPED = "skipped"
    FAILED = "failed"


ITEM_ACTION_LABELS_ZH = {
    ItemAction.CREATED: "新增",
    ItemAction.UPDATED: "更新",
    ItemAction.DELETED: "撤回",
    ItemAction.SKIPPED: "未变化",
    ItemAction.FAILED: "失败",
}


class HarvestSource(Base):
    """Another portal whose datasets are harvested under a local publisher."""

    __tablename__ = "opendata_harvest_sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True, doc="a-z 0-9 - _ (prefix of clashing names)")
    title: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500), doc="CKAN base URL or DCAT endpoint URL")
    backend: Mapped[str] = mapped_column(String(32), doc="a registered backend: ckan, dcat")
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT"), doc="publisher of the harvested datasets"
    )
    # Remote publisher (CKAN organization name or DCAT publisher name) → local department code.
    organization_map: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    schedule: Mapped[str] = mapped_column(
        String(32), default="manual", doc="manual, hourly, daily, weekly, */N"
    )
    interval_minutes: Mapped[int] = mapped_column(Integer, default=0, doc="0: only run by hand")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_job_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lock_token: Mapped[str | None] = mapped_column(String(36))
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class HarvestJob(Base):
    """One run over a source: when, what it did in counts, and why it failed if it did."""

    __tablename__ = "opendata_harvest_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("opendata_harvest_sources.id", ondelete="CASCADE"))
    status: Mapped[JobStatus] = mapped_column(_enum(JobStatus), default=JobStatus.RUNNING)
    trigger: Mapped[str] = mapped_column(String(16), default="manual", doc="manual, schedule, cli, api")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    gathered: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="", doc="why the job failed as a whole")

    __table_args__ = (Index("ix_opendata_harvest_jobs_source_started", "source_id", "started_at"),)


class HarvestItem(Base):
    """The log of one remote dataset in one job (skipped items are only counted, not logged)."""

    __tablename__ = "opendata_harvest_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("opendata_harvest_jobs.id", ondelete="CASCADE"))
    remote_id: Mapped[str] = mapped_column(String(500))
    action: Mapped[ItemAction] = mapped_column(_enum(ItemAction))
    dataset_name: Mapped[str] = mapped_column(String(100), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_opendata_harvest_items_job_id", "job_id"),)


class HarvestRecord(Base):
    """The origin of one harvested local dataset (what ckanext-harvest keeps as the current object)."""

    __tablename__ = "opendata_harvest_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("opendata_harvest_sources.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("opendata_datasets.id", ondelete="CASCADE"))
    remote_id: Mapped[str] = mapped_column(String(500))
    remote_name: Mapped[str] = mapped_column(String(200), default="")
    remote_url: Mapped[str] = mapped_column(String(1000), default="")
    remote_modified: Mapped[str] = mapped_column(String(64), default="", doc="as the remote states it")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False, doc="gone from the remote")
    harvested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("opendata_harvest_jobs.id", ondelete="SET NULL"))

    __table_args__ = (
        UniqueConstraint("source_id", "remote_id", name="uq_opendata_harvest_records_source_remote"),
        UniqueConstraint("dataset_id", name="uq_opendata_harvest_records_dataset_id"),
    )
