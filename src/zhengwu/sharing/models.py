"""Tables of the sharing workflow: share requests (共享申请), grants (授权) and correction requests (校核).

A consumer department asks a provider for a subset of the data elements of a published catalog resource;
the provider answers within a deadline counted in Chinese official working days. An approval (or the
automatic answer for an unconditional resource) produces a grant, which the exchange enforces. Element
lists are stored by English name (``DataElement.name_en``): that is what the exchange sees in payloads,
and it survives a catalog revision that renumbers element rows.

Every state change also writes a ``sharing_events`` row, so the history of a request, grant or correction
can be shown without reading the whole audit trail.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Boolean, Date, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhengwu.catalog.models import ENUM_LABELS_ZH, ShareType
from zhengwu.db import Base, BigId, UTCDateTime, utcnow


def _enum(cls: type[enum.Enum], length: int = 16) -> Enum:
    # Plain strings (no native ENUM type): a new state needs no ALTER TYPE, as in the catalog tables.
    return Enum(
        cls,
        native_enum=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class RequestStatus(enum.StrEnum):
    """State of a share request. ``approved`` covers a narrower subset too (see ``ShareRequest.narrowed``)."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class GrantStatus(enum.StrEnum):
    """State of a grant. ``expired`` is set by the daily sweep; checks also compare dates themselves."""

    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


class CorrectionStatus(enum.StrEnum):
    """State of a correction request (校核)."""

    OPEN = "open"
    CORRECTED = "corrected"
    NOT_AN_ERROR = "not_an_error"


LABELS_ZH: dict[enum.Enum, str] = {
    RequestStatus.PENDING: "待审批",
    RequestStatus.APPROVED: "已批准",
    RequestStatus.REFUSED: "已拒绝",
    RequestStatus.WITHDRAWN: "已撤回",
    GrantStatus.ACTIVE: "有效",
    GrantStatus.REVOKED: "已撤销",
    GrantStatus.EXPIRED: "已过期",
    CorrectionStatus.OPEN: "待答复",
    CorrectionStatus.CORRECTED: "已更正",
    CorrectionStatus.NOT_AN_ERROR: "经核无误",
}


# Share-type labels by plain value (requests store the share type the consumer saw as a string).
SHARE_TYPE_ZH: dict[str, str] = dict(ENUM_LABELS_ZH[ShareType])


class ShareRequest(Base):
    """One request of a consumer department for some data elements of one published resource."""

    __tablename__ = "sharing_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resources.id", ondelete="RESTRICT"))
    # The published version the consumer saw: a later revision may rename or drop elements.
    resource_version: Mapped[int] = mapped_column(Integer)
    provider_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    consumer_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    consumer_system: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    requested_elements: Mapped[list[str]] = mapped_column(JSON, default=list)
    approved_elements: Mapped[list[str]] = mapped_column(JSON, default=list)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[RequestStatus] = mapped_column(_enum(RequestStatus), default=RequestStatus.PENDING)
    auto_granted: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Dates on the Beijing calendar: deadlines are counted in official working days, not UTC days.
    submitted_on: Mapped[dt.date] = mapped_column(Date)
    # Kept so the sweep can recompute ``due_on`` once the calendar package learns a new year's holidays.
    deadline_days: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[dt.date] = mapped_column(Date)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_on: Mapped[dt.date | None] = mapped_column(Date)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Working days the provider took, frozen at answer time so statistics do not depend on the calendar
    # package version installed later.
    working_days_taken: Mapped[int | None] = mapped_column(Integer)
    answer_reason: Mapped[str] = mapped_column(Text, default="")
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_sharing_requests_resource_id", "resource_id"),
        Index("ix_sharing_requests_provider_id_status", "provider_id", "status"),
        Index("ix_sharing_requests_consumer_id_status", "consumer_id", "status"),
        Index("ix_sharing_requests_status_due_on", "status", "due_on"),
    )

    @property
    def narrowed(self) -> bool:
        """Whether the provider approved fewer elements than were asked."""
        return self.status == RequestStatus.APPROVED and set(self.approved_elements) < set(
            self.requested_elements
        )


class Grant(Base):
    """A consumer department's right to receive some elements of one resource for one purpose."""

    __tablename__ = "sharing_grants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("sharing_requests.id", ondelete="SET NULL"), unique=True
    )
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resources.id", ondelete="RESTRICT"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    consumer_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    consumer_system: Mapped[str] = mapped_column(String(200))
    elements: Mapped[list[str]] = mapped_column(JSON, default=list)
    purpose: Mapped[str] = mapped_column(Text)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[GrantStatus] = mapped_column(_enum(GrantStatus), default=GrantStatus.ACTIVE)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoke_reason: Mapped[str] = mapped_column(Text, default="")

    request: Mapped[ShareRequest | None] = relationship()

    __table_args__ = (
        Index("ix_sharing_grants_resource_id", "resource_id"),
        Index("ix_sharing_grants_consumer_id_resource_id", "consumer_id", "resource_id"),
        Index("ix_sharing_grants_provider_id", "provider_id"),
    )


class CorrectionRequest(Base):
    """A consumer's report of a wrong value in a provider's resource (校核)."""

    __tablename__ = "sharing_corrections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resources.id", ondelete="RESTRICT"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    consumer_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    element_name: Mapped[str] = mapped_column(String(100), doc="DataElement.name_en of the wrong value.")
    record_key: Mapped[str] = mapped_column(
        String(200), doc="Identifier of the record in the provider's data."
    )
    value_seen: Mapped[str] = mapped_column(Text)
    value_expected: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[CorrectionStatus] = mapped_column(_enum(CorrectionStatus), default=CorrectionStatus.OPEN)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_on: Mapped[dt.date] = mapped_column(Date)
    deadline_days: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[dt.date] = mapped_column(Date)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_on: Mapped[dt.date | None] = mapped_column(Date)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    answer: Mapped[str] = mapped_column(Text, default="")
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_sharing_corrections_provider_id_status", "provider_id", "status"),
        Index("ix_sharing_corrections_consumer_id", "consumer_id"),
        Index("ix_sharing_corrections_resource_id", "resource_id"),
    )


class SharingEvent(Base):
    """One state change of a request, grant or correction: the history shown on their pages."""

    __tablename__ = "sharing_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_requests.id", ondelete="CASCADE"))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_grants.id", ondelete="CASCADE"))
    correction_id: Mapped[int | None] = mapped_column(
        ForeignKey("sharing_corrections.id", ondelete="CASCADE")
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index("ix_sharing_events_request_id", "request_id"),
        Index("ix_sharing_events_grant_id", "grant_id"),
        Index("ix_sharing_events_correction_id", "correction_id"),
    )


__all__ = [
    "LABELS_ZH",
    "SHARE_TYPE_ZH",
    "CorrectionRequest",
    "CorrectionStatus",
    "Grant",
    "GrantStatus",
    "RequestStatus",
    "ShareRequest",
    "SharingEvent",
]
