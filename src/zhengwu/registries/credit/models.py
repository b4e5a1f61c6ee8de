"""Tables of the social credit registry (社会信用信息库): 双公示 records, red and black lists, the joint
reward and punishment measures (联合奖惩) attached to each list, and credit repair (信用修复).

History as in the other registries: current state + append-only versions
------------------------------------------------------------------------
Licensing and penalty records (``credit_records``) and list entries (``credit_list_entries``) each have
a current-state table and an append-only versions table with the half-open system-time interval
``[valid_from, valid_to)`` during which the registry said so. A delivery that changes a record, a
credit repair, a removal from a list: each closes the open version and appends a new one. Nothing is
ever deleted, so "what did the registry publish on 1 March" is one indexed read of the versions.

Publication (公示) is a state of the record, not its existence: ``status`` is ``active`` while the
record stands, ``repaired`` after a credit repair, ``revoked`` when the decision was withdrawn; only
``active`` records whose publication period covers the day are shown to the public. The repair
decision itself is kept in ``credit_repairs`` (append-only) and named by the version it produced.

Keys: a record is identified by (kind, issuing department, decision number) — decision numbers
(文书号) are unique within the department that issues them; a list entry by (list, decision number of
the listing). ``row_hash`` of the delivered values makes re-delivery idempotent. ``batch_id`` refers to
``registry_batches`` (the shared ingestion history) without a foreign key, as in the other registries.

Department columns hold the department *code* as delivered, not a foreign key: records stay readable
after a department is renamed or merged.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Final

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime, utcnow

#: ``registry_batches.registry`` values of the credit registry's deliveries.
BATCH_RECORDS: Final = "credit_records"
BATCH_LIST_ENTRIES: Final = "credit_lists"


class RecordKind(enum.StrEnum):
    """The two kinds of 双公示 records."""

    LICENSING = "licensing"
    PENALTY = "penalty"


RECORD_KIND_ZH: Final = {RecordKind.LICENSING: "行政许可", RecordKind.PENALTY: "行政处罚"}


class SubjectType(enum.StrEnum):
    """Who a record or a list entry is about: a natural person or a legal entity."""

    PERSON = "person"
    ENTITY = "entity"


SUBJECT_TYPE_ZH: Final = {SubjectType.PERSON: "自然人", SubjectType.ENTITY: "法人和非法人组织"}


class Status(enum.StrEnum):
    """State of a record or list entry. Only ``active`` ones are published or have consequences."""

    ACTIVE = "active"
    REPAIRED = "repaired"  # left publication after credit repair
    REVOKED = "revoked"  # the decision was withdrawn or the entry removed by its department


STATUS_ZH: Final = {Status.ACTIVE: "有效", Status.REPAIRED: "已信用修复", Status.REVOKED: "已撤销/移出"}


class ListType(enum.StrEnum):
    """Red lists reward, black lists restrict."""

    RED = "red"
    BLACK = "black"


LIST_TYPE_ZH: Final = {ListType.RED: "红名单", ListType.BLACK: "黑名单"}


class MeasureKind(enum.StrEnum):
    """A joint measure is an incentive (for red lists) or a restriction (for black lists)."""

    REWARD = "reward"
    PUNISHMENT = "punishment"


MEASURE_KIND_ZH: Final = {MeasureKind.REWARD: "激励", MeasureKind.PUNISHMENT: "惩戒"}
#: A measure item code that applies to every service item.
ALL_ITEMS: Final = "*"

RECORD_FIELDS: Final = (
    "subject_type",
    "subject_id",
    "subject_name",
    "decision_name",
    "category",
    "content",
    "basis",
    "amount_yuan",
    "decision_date",
    "validity_from",
    "validity_to",
    "publication_to",
    "status",
)
ENTRY_FIELDS: Final = (
    "subject_type",
    "subject_id",
    "subject_name",
    "reason",
    "basis",
    "period_from",
    "period_to",
    "status",
)


class _RecordColumns:
    """Attributes of a 双公示 record, shared by the current and the versions table."""

    kind: Mapped[str] = mapped_column(String(16))
    issuing_department: Mapped[str] = mapped_column(String(32))
    decision_number: Mapped[str] = mapped_column(String(128))
    subject_type: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[str] = mapped_column(String(18))
    subject_name: Mapped[str] = mapped_column(String(200))
    decision_name: Mapped[str | None] = mapped_column(String(200))
    # 许可类别 (普通、特许、认可、核准、登记、其他) or 处罚类别 (警告、罚款、…).
    category: Mapped[str] = mapped_column(String(40))
    content: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text)
    amount_yuan: Mapped[int | None] = mapped_column(BigInteger)
    decision_date: Mapped[dt.date] = mapped_column(Date)
    validity_from: Mapped[dt.date | None] = mapped_column(Date)
    validity_to: Mapped[dt.date | None] = mapped_column(Date)
    publication_to: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    repair_id: Mapped[int | None] = mapped_column(BigId)
    row_hash: Mapped[str] = mapped_column(String(32))
    source_department: Mapped[str] = mapped_column(String(32))
    batch_id: Mapped[int | None] = mapped_column(BigId)
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CreditRecord(_RecordColumns, Base):
    """Current state of one administrative licensing or penalty decision (双公示)."""

    __tablename__ = "credit_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)

    __table_args__ = (
        UniqueConstraint("kind", "issuing_department", "decision_number", name="uq_credit_records_key"),
        Index("ix_credit_records_subject", "subject_id", "kind"),
        Index("ix_credit_records_subject_name", "subject_name"),
    )


class CreditRecordVersion(_RecordColumns, Base):
    """One state a record had, from ``valid_from`` until ``valid_to`` (system time)."""

    __tablename__ = "credit_record_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_id: Mapped[int] = mapped_column(BigId)
    valid_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_credit_record_versions_record", "record_id", "valid_from"),
        Index("ix_credit_record_versions_subject", "subject_id", "valid_from"),
    )


class CreditList(Base):
    """One red or black list (e.g. 纳税信用A级纳税人名单, 失信被执行人名单) and its issuing department."""

    __tablename__ = "credit_lists"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    list_type: Mapped[str] = mapped_column(String(8))
    issuing_department: Mapped[str] = mapped_column(String(32))
    basis: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CreditMeasure(Base):
    """A joint reward or punishment measure (联合奖惩措施) attached to a list, carried out by a department."""

    __tablename__ = "credit_measures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("credit_lists.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    implementing_department: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_credit_measures_list_id", "list_id"),)


class CreditMeasureItem(Base):
    """A service item (政务服务事项) a measure applies to; ``item_code`` ``*`` means every item."""

    __tablename__ = "credit_measure_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    measure_id: Mapped[int] = mapped_column(ForeignKey("credit_measures.id", ondelete="CASCADE"))
    item_code: Mapped[str] = mapped_column(String(64))
    item_name: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("measure_id", "item_code", name="uq_credit_measure_items_measure_item"),
        Index("ix_credit_measure_items_item_code", "item_code"),
    )


class _EntryColumns:
    """Attributes of a list entry, shared by the current and the versions table."""

    list_id: Mapped[int] = mapped_column(BigId)
    decision_number: Mapped[str] = mapped_column(String(128))
    subject_type: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[str] = mapped_column(String(18))
    subject_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    basis: Mapped[str] = mapped_column(Text)
    period_from: Mapped[dt.date] = mapped_column(Date)
    period_to: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    repair_id: Mapped[int | None] = mapped_column(BigId)
    row_hash: Mapped[str] = mapped_column(String(32))
    source_department: Mapped[str] = mapped_column(String(32))
    batch_id: Mapped[int | None] = mapped_column(BigId)
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class CreditListEntry(_EntryColumns, Base):
    """Current state of one subject's membership of one list."""

    __tablename__ = "credit_list_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)

    __table_args__ = (
        UniqueConstraint("list_id", "decision_number", name="uq_credit_list_entries_key"),
        Index("ix_credit_list_entries_subject", "subject_id", "status"),
    )


class CreditListEntryVersion(_EntryColumns, Base):
    """One state a list entry had, from ``valid_from`` until ``valid_to``."""

    __tablename__ = "credit_list_entry_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BigId)
    valid_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_credit_list_entry_versions_entry", "entry_id", "valid_from"),
        Index("ix_credit_list_entry_versions_subject", "subject_id", "valid_from"),
    )


class CreditRepair(Base):
    """A credit repair decision (信用修复决定): append-only, never deleted.

    ``target_type`` is ``record`` or ``list_entry``; the repaired object keeps every earlier version.
    """

    __tablename__ = "credit_repairs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int] = mapped_column(BigId)
    subject_id: Mapped[str] = mapped_column(String(18))
    decision_number: Mapped[str] = mapped_column(String(128))
    decision_date: Mapped[dt.date] = mapped_column(Date)
    department: Mapped[str] = mapped_column(String(32))
    rectification: Mapped[str] = mapped_column(Text)
    actor_username: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_credit_repairs_target", "target_type", "target_id"),
        Index("ix_credit_repairs_subject_id", "subject_id"),
    )
