"""Tables of the reuse showcase (应用展示, CKAN's ckanext-showcase).

A showcase is an app, a piece of research or a visualisation that reuses the portal's datasets: a
title, a description, a link, an optional image link, its author (person or organisation) and the
datasets it uses. Any registered user may submit one; it appears to the public only after the
platform's open-data operator (platform administrator or reviewer) has approved it.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Index, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime, utcnow


class ShowcaseStatus(enum.StrEnum):
    """Where a submitted showcase stands in moderation."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


STATUS_LABELS_ZH = {
    ShowcaseStatus.PENDING: "待审核",
    ShowcaseStatus.APPROVED: "已通过",
    ShowcaseStatus.REJECTED: "未通过",
}


class Showcase(Base):
    """One reuse of the portal's data."""

    __tablename__ = "opendata_showcases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, doc="CKAN's id")
    name: Mapped[str] = mapped_column(String(100), unique=True, doc="CKAN's URL name")
    title: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(500), default="", doc="where the app or article is")
    image_url: Mapped[str] = mapped_column(String(500), default="")
    author: Mapped[str] = mapped_column(String(200), default="", doc="person or organisation")
    status: Mapped[ShowcaseStatus] = mapped_column(
        Enum(
            ShowcaseStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        default=ShowcaseStatus.PENDING,
    )
    moderation_note: Mapped[str] = mapped_column(Text, default="")
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moderated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    moderated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_opendata_showcases_status_created_at", "status", "created_at"),)


class ShowcaseDataset(Base):
    """A dataset used by a showcase (ckanext-showcase's package association)."""

    __tablename__ = "opendata_showcase_datasets"

    showcase_id: Mapped[int] = mapped_column(BigId, ForeignKey("opendata_showcases.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(BigId, ForeignKey("opendata_datasets.id", ondelete="CASCADE"))

    __table_args__ = (
        PrimaryKeyConstraint("showcase_id", "dataset_id", name="pk_opendata_showcase_datasets"),
        Index("ix_opendata_showcase_datasets_dataset_id", "dataset_id"),
    )
