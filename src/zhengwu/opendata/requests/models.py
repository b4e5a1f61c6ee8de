"""The table of data requests (数据需求): what the public asks the portal to open, and the answers.

A request names what is wanted and why, optionally the publisher it is addressed to; a data
administrator of that publisher (or a platform administrator) answers it: planned, published (with
the dataset), or refused with a reason. Requests and answers are public, the requester's name masked.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime, utcnow


class RequestStatus(enum.StrEnum):
    """Where a data request stands."""

    OPEN = "open"
    PLANNED = "planned"
    PUBLISHED = "published"
    REFUSED = "refused"


STATUS_LABELS_ZH = {
    RequestStatus.OPEN: "待答复",
    RequestStatus.PLANNED: "已列入开放计划",
    RequestStatus.PUBLISHED: "已开放",
    RequestStatus.REFUSED: "暂不开放",
}


class DataRequest(Base):
    """One data request of the public and its answer."""

    __tablename__ = "opendata_data_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    purpose: Mapped[str] = mapped_column(Text, default="")
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requester_name: Mapped[str] = mapped_column(String(150), default="")
    status: Mapped[RequestStatus] = mapped_column(
        Enum(
            RequestStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        default=RequestStatus.OPEN,
    )
    answer: Mapped[str] = mapped_column(Text, default="")
    dataset_name: Mapped[str] = mapped_column(String(100), default="")
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_opendata_data_requests_organization_id", "organization_id"),
        Index("ix_opendata_data_requests_created_at", "created_at"),
    )
