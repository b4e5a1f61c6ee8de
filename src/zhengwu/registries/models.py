"""Tables of the base registries (基础库): population and legal entities, with history and provenance.

Design: current state + append-only versions (system time)
---------------------------------------------------------
Each registry has two tables:

* a **current-state** table (``registry_persons``, ``registry_entities``), one row per key (resident ID
  or USCC). It answers lookups, searches and verification with a primary-key read, and carries the
  provenance of its current content (``batch_id``, ``source_department``, ``valid_from``). It is the
  one *open* state of a record: valid since ``valid_from``, still valid now;
* an **append-only versions** table (``registry_person_versions``, ``registry_entity_versions``): every
  *superseded* state a record has had, with the half-open system-time interval ``[valid_from,
  valid_to)`` during which the registry said so, and the batch and source department that delivered
  it. A version is written once, when an ingestion replaces the current row (the old row is copied,
  closed at the batch's time), and never updated or deleted. A first load therefore writes each record
  once, not twice (migration ``registries_more_0001``).

"What did the registry say on 1 March?" is then two indexed reads: the version with
``valid_from <= t < valid_to``, else the current row if ``valid_from <= t``. Provenance of a single
*value* is derived from the states: the value of a field came from the oldest state of the latest
unbroken run of states holding that value (see :func:`zhengwu.registries.services.person_history`).
This keeps one row per change instead of one row per field per change, which matters at 10 million
persons.

Times are *system* time (when the registry learnt it), not the real-world date of an event; the
real-world dates (death, deregistration...) are ordinary attributes (``status_date``) and so are
versioned too.

Re-ingestion is idempotent: a delivered row that would leave the current one as it is (the same
values, compared in SQL by :mod:`zhengwu.registries.ingest`) creates no version. ``registry_batches``
records every ingestion (its SM3 fingerprint makes a repeated file a no-op) and the error file of
rejected rows.

``batch_id`` deliberately has no foreign key constraint: PostgreSQL checks a foreign key with one
lookup per inserted row, which tripled the time of a million-row load. Every version is written by
:mod:`zhengwu.registries.ingest` in the same transaction as its batch row, and batches are never deleted.

Former names are kept in ``former_names`` (names separated by "；"): delivered by the department, or
accumulated automatically when a delivered name differs from the current one.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Final

from sqlalchemy import BigInteger, Date, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime, utcnow


class Registry(enum.StrEnum):
    """The base registries of this slice (geospatial and credit come later)."""

    POPULATION = "population"
    ENTITIES = "entities"


REGISTRY_LABELS_ZH: Final = {Registry.POPULATION: "人口基础库", Registry.ENTITIES: "法人单位基础库"}


class BatchStatus(enum.StrEnum):
    """Lifecycle of one ingestion batch."""

    RUNNING = "running"
    APPLIED = "applied"  # every row valid and applied
    PARTIAL = "partial"  # mode partial: valid rows applied, the rest in the error file
    REJECTED = "rejected"  # nothing applied (atomic mode with errors, or a malformed file)


BATCH_STATUS_ZH: Final = {
    BatchStatus.RUNNING: "进行中",
    BatchStatus.APPLIED: "已全部入库",
    BatchStatus.PARTIAL: "部分入库",
    BatchStatus.REJECTED: "已拒绝",
}

PERSON_STATUSES: Final = {"living": "在世", "deceased": "死亡", "emigrated": "迁出境外"}
ENTITY_STATUSES: Final = ("存续", "吊销", "注销", "迁出")

# The fields of a person and of an entity besides the key, in the order people read them: the
# staged columns of an ingestion, the values a version keeps, the rows of a record page.
PERSON_FIELDS: Final = (
    "name",
    "former_names",
    "sex",
    "birth_date",
    "ethnicity",
    "nationality",
    "household_region_code",
    "household_address",
    "current_region_code",
    "current_address",
    "phone",
    "status",
    "status_date",
)
ENTITY_FIELDS: Final = (
    "name",
    "former_names",
    "entity_type",
    "registration_authority_code",
    "registration_authority",
    "org_code",
    "legal_representative_id",
    "registered_capital",
    "currency",
    "established_date",
    "business_scope",
    "region_code",
    "address",
    "status",
    "status_date",
)
SEX_ZH: Final = {"M": "男", "F": "女"}

#: The current tables' keys (resident ID, USCC): compared bytewise on PostgreSQL, where the database's
#: collation would call strcoll() for codes whose order is the same either way (migration
#: ``registries_more_0004``: a faster primary key build on a first load).
IDENTIFIER_KEY: Final = String(18).with_variant(String(18, collation="C"), "postgresql")


class RegistryBatch(Base):
    """One delivery of one department's file (or query) to one registry."""

    __tablename__ = "registry_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # "registry" would shadow DeclarativeBase.registry; the column keeps the plain name.
    registry_name: Mapped[str] = mapped_column("registry", String(16))
    source_department: Mapped[str] = mapped_column(String(32))
    file_name: Mapped[str] = mapped_column(String(500))
    file_format: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.RUNNING.value)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_invalid: Mapped[int] = mapped_column(Integer, default=0)
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    error_file: Mapped[str | None] = mapped_column(String(500))
    actor_username: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_registry_batches_registry_fingerprint", "registry", "fingerprint"),
        Index("ix_registry_batches_registry_started_at", "registry", "started_at"),
    )


class _PersonColumns:
    """Attributes of a person, shared by the current and the versions table."""

    name: Mapped[str] = mapped_column(String(100))
    former_names: Mapped[str | None] = mapped_column(String(500))
    sex: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    ethnicity: Mapped[str] = mapped_column(String(2))
    nationality: Mapped[str] = mapped_column(String(3))
    household_region_code: Mapped[str] = mapped_column(String(6))
    household_address: Mapped[str] = mapped_column(String(300))
    current_region_code: Mapped[str | None] = mapped_column(String(6))
    current_address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    status_date: Mapped[dt.date | None] = mapped_column(Date)
    source_department: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Person(_PersonColumns, Base):
    """Current state of one person (人口基础信息), keyed by the resident ID number."""

    __tablename__ = "registry_persons"

    resident_id: Mapped[str] = mapped_column(IDENTIFIER_KEY, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigId)  # no foreign key: see the module docstring

    # The search pages ask for a name or region *prefix* (``LIKE '张%'``), which a btree in the database's
    # collation (C.UTF-8, zh_CN...) cannot serve; the pattern operator class compares bytes, so it can, and
    # its build sorts without a strcoll() per comparison (≈ 2× faster at 10 million persons). Equality
    # works too; no query orders persons by these indexes alone (migration registries_more_0003).
    __table_args__ = (
        Index("ix_registry_persons_name", "name", postgresql_ops={"name": "varchar_pattern_ops"}),
        Index(
            "ix_registry_persons_household_region_code",
            "household_region_code",
            postgresql_ops={"household_region_code": "varchar_pattern_ops"},
        ),
    )


class PersonVersion(_PersonColumns, Base):
    """One state a person had in the registry, from ``valid_from`` until ``valid_to`` (system time)."""

    __tablename__ = "registry_person_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[str] = mapped_column(String(18))
    batch_id: Mapped[int] = mapped_column(BigId)  # no foreign key: see the module docstring
    valid_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_registry_person_versions_resident_id", "resident_id", "valid_from"),
        Index("ix_registry_person_versions_batch_id", "batch_id"),
    )


class _EntityColumns:
    """Attributes of a legal entity, shared by the current and the versions table."""

    name: Mapped[str] = mapped_column(String(200))
    former_names: Mapped[str | None] = mapped_column(String(1000))
    entity_type: Mapped[str] = mapped_column(String(40))
    registration_authority_code: Mapped[str] = mapped_column(String(1))
    registration_authority: Mapped[str | None] = mapped_column(String(200))
    org_code: Mapped[str] = mapped_column(String(9))
    legal_representative_id: Mapped[str] = mapped_column(String(18))
    registered_capital: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    established_date: Mapped[dt.date] = mapped_column(Date)
    business_scope: Mapped[str | None] = mapped_column(Text)
    region_code: Mapped[str] = mapped_column(String(6))
    address: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(8))
    status_date: Mapped[dt.date | None] = mapped_column(Date)
    source_department: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Entity(_EntityColumns, Base):
    """Current state of one legal entity (法人单位基础信息), keyed by the USCC."""

    __tablename__ = "registry_entities"

    uscc: Mapped[str] = mapped_column(IDENTIFIER_KEY, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigId)  # no foreign key: see the module docstring

    __table_args__ = (
        Index("ix_registry_entities_name", "name"),
        Index("ix_registry_entities_region_code", "region_code"),
        Index("ix_registry_entities_legal_representative_id", "legal_representative_id"),
    )


class EntityVersion(_EntityColumns, Base):
    """One state a legal entity had in the registry, from ``valid_from`` until ``valid_to``."""

    __tablename__ = "registry_entity_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18))
    batch_id: Mapped[int] = mapped_column(BigId)  # no foreign key: see the module docstring
    valid_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_registry_entity_versions_uscc", "uscc", "valid_from"),
        Index("ix_registry_entity_versions_batch_id", "batch_id"),
    )


RELATION_KINDS: Final = {"parent": "父母", "spouse": "配偶"}
#: What the relative is to the person, as a page says it.
RELATION_ROLES_ZH: Final = {"parent": "父母", "child": "子女", "spouse": "配偶"}


class PersonRelation(Base):
    """A family link between two registered persons, valid from ``valid_from`` until ``valid_to``.

    ``kind`` "parent": ``relative_id`` is a parent of ``resident_id``. "spouse": the two are married;
    a marriage is stored in both directions (two rows, same batch and times), so "who is the spouse of
    X" is one indexed read either way. A link that ends (divorce, a corrected parent) is closed
    (``valid_to`` set) and never deleted, so the history and the "as of" question work as for persons;
    ``batch_id`` and ``source_department`` are the provenance of the link, and ``ended_batch_id`` of its end.
    """

    __tablename__ = "registry_person_relations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resident_id: Mapped[str] = mapped_column(String(18))
    relative_id: Mapped[str] = mapped_column(String(18))
    kind: Mapped[str] = mapped_column(String(8))
    source_department: Mapped[str] = mapped_column(String(32))
    batch_id: Mapped[int] = mapped_column(BigId)  # no foreign key: see the module docstring
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_batch_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_registry_person_relations_resident_id", "resident_id", "kind"),
        Index("ix_registry_person_relations_relative_id", "relative_id", "kind"),
    )
