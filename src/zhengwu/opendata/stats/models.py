"""The table of usage counters: (dataset, day, kind, detail, resource) → count.

One row per dataset per Beijing day per kind of use (page ``view``, file ``download``, ``api`` call)
and detail (the download format, the CKAN action name; empty for views) and resource (the
distribution's CKAN id for downloads and resource-level calls; empty otherwise). Rows are upserted in
batches by the in-process recorder (``recorder.py``), never once per request. Nothing about the caller
is stored: no IP address, no account, no user agent.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Date, ForeignKey, Index, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId


class UsageKind(enum.StrEnum):
    """What was counted."""

    VIEW = "view"
    DOWNLOAD = "download"
    API = "api"


KIND_LABELS_ZH = {UsageKind.VIEW: "浏览", UsageKind.DOWNLOAD: "下载", UsageKind.API: "接口调用"}


class UsageCount(Base):
    """How often a dataset was used one day, by kind, detail and resource."""

    __tablename__ = "opendata_usage_counts"

    dataset_id: Mapped[int] = mapped_column(BigId, ForeignKey("opendata_datasets.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date, doc="the day in Beijing time")
    kind: Mapped[str] = mapped_column(String(16), doc="view, download or api")
    detail: Mapped[str] = mapped_column(String(64), default="", doc="download format or CKAN action")
    resource: Mapped[str] = mapped_column(String(36), default="", doc="distribution (CKAN resource id)")
    count: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (
        PrimaryKeyConstraint(
            "dataset_id", "day", "kind", "detail", "resource", name="pk_opendata_usage_counts"
        ),
        # Portal-wide figures of a period read by day first.
        Index("ix_opendata_usage_counts_day", "day"),
    )
