"""Tables of conditional opening (有条件开放): applicants, applications, dataset keys and their usage.

A public user registered on the portal (a natural person or a company) has an applicant profile: the
identifier was checked at sign-up and only its masked form is kept (the provider sees who applies, the
platform keeps no full resident ID it does not need). An application asks for one conditional dataset
with a purpose and an intended use period; the provider department's data administrator approves it
(conditions, validity, rate limit, daily quota) or refuses it with a reason. An approved applicant
issues a key scoped to that dataset; like API tokens only a hash of its secret is stored, and it ends
with the approval. Every use of a key, refused ones included, leaves a usage row.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Date, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    # Plain strings, no native ENUM type: adding a value needs no ALTER TYPE.
    return Enum(
        cls,
        native_enum=False,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class ApplicantKind(enum.StrEnum):
    """Who applies: a natural person (resident ID) or a company (USCC)."""

    PERSON = "person"
    COMPANY = "company"


APPLICANT_KIND_LABELS_ZH = {ApplicantKind.PERSON: "自然人", ApplicantKind.COMPANY: "法人/企业"}


class ApplicationStatus(enum.StrEnum):
    """Where an application stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


APPLICATION_STATUS_LABELS_ZH = {
    ApplicationStatus.PENDING: "待审核",
    ApplicationStatus.APPROVED: "已批准",
    ApplicationStatus.REFUSED: "未获批准",
}


class Applicant(Base):
    """The real-name profile of a public user who may apply for conditional datasets."""

    __tablename__ = "opendata_access_applicants"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[ApplicantKind] = mapped_column(_enum(ApplicantKind))
    name: Mapped[str] = mapped_column(String(200), doc="the person's or company's legal name")
    identifier_masked: Mapped[str] = mapped_column(String(32), doc="resident ID or USCC, masked")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Application(Base):
    """One application for one conditional dataset, and the provider's decision."""

    __tablename__ = "opendata_access_applications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("opendata_datasets.id", ondelete="CASCADE"))
    # The provider at the time of applying: the department whose data administrators decide.
    organization_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    applicant_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(Text)
    use_start: Mapped[dt.date] = mapped_column(Date)
    use_end: Mapped[dt.date] = mapped_column(Date)
    contact_name: Mapped[str] = mapped_column(String(100))
    contact_phone: Mapped[str] = mapped_column(String(32))
    contact_email: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[ApplicationStatus] = mapped_column(
        _enum(ApplicationStatus), default=ApplicationStatus.PENDING
    )
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_date: Mapped[dt.date] = mapped_column(Date, doc="decision deadline (working days)")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="", doc="why refused")
    conditions: Mapped[str] = mapped_column(Text, default="", doc="conditions of use set on approval")
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, doc="approval (and keys) end")
    rate_per_minute: Mapped[int] = mapped_column(Integer, default=60)
    daily_quota: Mapped[int] = mapped_column(Integer, default=10_000)

    __table_args__ = (
        Index("ix_opendata_access_applications_dataset_id", "dataset_id"),
        Index("ix_opendata_access_applications_organization_id", "organization_id", "status"),
        Index("ix_opendata_access_applications_applicant_id", "applicant_id"),
    )


class AccessKey(Base):
    """A key to one conditional dataset's data. Only an SM3 hash of the secret is stored; shown once."""

    __tablename__ = "opendata_access_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("opendata_access_applications.id", ondelete="CASCADE")
    )
    dataset_id: Mapped[int] = mapped_column(ForeignKey("opendata_datasets.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(16), unique=True, doc="public part, shown in lists")
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_opendata_access_keys_application_id", "application_id"),)


class KeyUsage(Base):
    """One use of a key: which action on which dataset, how much went out, when, and the HTTP status."""

    __tablename__ = "opendata_access_usage"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("opendata_access_keys.id", ondelete="CASCADE"))
    application_id: Mapped[int] = mapped_column(BigId)
    dataset_id: Mapped[int] = mapped_column(BigId, doc="the dataset asked for (may differ from the key's)")
    action: Mapped[str] = mapped_column(String(32), doc="datastore_search, dump.csv, ...")
    rows: Mapped[int | None] = mapped_column(BigId)
    bytes: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[int] = mapped_column(Integer, doc="HTTP status answered: 200, 403, 429")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # Daily quota and per-day figures read one key's (or one application's) rows of a time range.
        Index("ix_opendata_access_usage_key_at", "key_id", "at"),
        Index("ix_opendata_access_usage_application_at", "application_id", "at"),
    )
