"""Tables of the resource catalog, following 《政务信息资源目录编制指南（试行）》.

A resource (信息资源) is one catalog entry of a provider department; its data elements (信息项) are its
fields. The working copy lives in ``catalog_resources`` / ``catalog_elements``; each publication freezes
a full snapshot into ``catalog_resource_versions`` so every published version stays readable and diffable.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from zhengwu.db import Base, BigId, UTCDateTime, utcnow


def _enum(cls: type[enum.Enum], length: int = 16) -> Enum:
    # Stored as plain strings (no native ENUM type) so that adding a value needs no ALTER TYPE.
    return Enum(
        cls,
        native_enum=False,
        length=length,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class ResourceCategory(enum.StrEnum):
    """Which catalog the resource belongs to (基础 / 主题 / 部门信息资源目录)."""

    BASE = "base"
    THEMATIC = "thematic"
    DEPARTMENTAL = "departmental"


class ShareType(enum.StrEnum):
    """共享类型 (国发〔2016〕51号, 政务数据共享条例)."""

    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NONE = "none"


class OpenType(enum.StrEnum):
    """开放属性."""

    OPEN = "open"
    CONDITIONAL = "conditional"
    CLOSED = "closed"


class Delivery(enum.StrEnum):
    """共享方式: through an API, a database table, or files."""

    API = "api"
    TABLE = "table"
    FILE = "file"


class UpdateFrequency(enum.StrEnum):
    """更新周期."""

    REALTIME = "realtime"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    YEARLY = "yearly"
    IRREGULAR = "irregular"


class Secrecy(enum.StrEnum):
    """涉密 / 非涉密: classified resources may only be catalogued on an intranet node."""

    UNCLASSIFIED = "unclassified"
    CLASSIFIED = "classified"


class ResourceStatus(enum.StrEnum):
    """Lifecycle of an entry: draft → submitted → (rejected → draft) → published → withdrawn.

    A published entry being revised keeps status ``published`` (the last published version stays in force)
    while ``has_draft_changes`` says a revision is being edited or is under review.
    """

    DRAFT = "draft"
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class ElementType(enum.StrEnum):
    """Data type of a data element (信息项数据类型)."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    BINARY = "binary"


class Sensitivity(enum.StrEnum):
    """Data classification grade of an element; drives masking in the exchange and the open data portal."""

    PUBLIC = "public"
    INTERNAL = "internal"
    SENSITIVE = "sensitive"
    CONFIDENTIAL = "confidential"


# Chinese labels per enum class. Keyed by class first: StrEnum members compare equal across classes by
# value (ShareType.CONDITIONAL == OpenType.CONDITIONAL), so one flat dict would mix their labels.
ENUM_LABELS_ZH: dict[type[enum.Enum], dict[str, str]] = {
    ResourceCategory: {"base": "基础信息资源", "thematic": "主题信息资源", "departmental": "部门信息资源"},
    ShareType: {"unconditional": "无条件共享", "conditional": "有条件共享", "none": "不予共享"},
    OpenType: {"open": "无条件开放", "conditional": "有条件开放", "closed": "不予开放"},
    Delivery: {"api": "接口", "table": "库表", "file": "文件"},
    UpdateFrequency: {
        "realtime": "实时",
        "daily": "每日",
        "weekly": "每周",
        "monthly": "每月",
        "quarterly": "每季度",
        "semiannual": "每半年",
        "yearly": "每年",
        "irregular": "不定期",
    },
    Secrecy: {"unclassified": "非涉密", "classified": "涉密"},
    ResourceStatus: {
        "draft": "草稿",
        "submitted": "待审核",
        "rejected": "已退回",
        "published": "已发布",
        "withdrawn": "已撤销",
    },
    ElementType: {
        "string": "字符型",
        "integer": "整数型",
        "decimal": "数值型",
        "date": "日期型",
        "datetime": "日期时间型",
        "boolean": "布尔型",
        "binary": "二进制",
    },
    Sensitivity: {"public": "公开", "internal": "内部", "sensitive": "敏感", "confidential": "机密"},
}


def label_zh(member: enum.Enum) -> str:
    """The Chinese label of an enum member of the catalog (its value if unknown)."""
    return ENUM_LABELS_ZH.get(type(member), {}).get(str(member.value), str(member.value))


class Topic(Base):
    """A node of the topic tree (主题分类), e.g. 社会保障 › 养老保险."""

    __tablename__ = "catalog_topics"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_topics.id", ondelete="RESTRICT"))

    __table_args__ = (Index("ix_catalog_topics_parent_id", "parent_id"),)


class Resource(Base):
    """The working copy of one catalog entry (信息资源) of one provider department."""

    __tablename__ = "catalog_resources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # 信息资源代码: classification prefix (类-项-目-细目) + provider + sequence; unique and never reused.
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    category: Mapped[ResourceCategory] = mapped_column(_enum(ResourceCategory))
    classification: Mapped[str] = mapped_column(String(32), doc="类-项-目-细目, e.g. '1-02-003-004'")
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_topics.id", ondelete="SET NULL"))
    summary: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(32), doc="信息资源格式: database, spreadsheet, document, ...")
    share_type: Mapped[ShareType] = mapped_column(_enum(ShareType))
    share_conditions: Mapped[str] = mapped_column(Text, default="")
    share_basis: Mapped[str] = mapped_column(
        Text, default="", doc="Legal or policy basis (required for 'none')."
    )
    delivery: Mapped[Delivery] = mapped_column(_enum(Delivery))
    open_type: Mapped[OpenType] = mapped_column(_enum(OpenType))
    open_conditions: Mapped[str] = mapped_column(Text, default="")
    update_frequency: Mapped[UpdateFrequency] = mapped_column(_enum(UpdateFrequency))
    secrecy: Mapped[Secrecy] = mapped_column(_enum(Secrecy), default=Secrecy.UNCLASSIFIED)
    source_system: Mapped[str] = mapped_column(
        String(200), default="", doc="The information system it comes from."
    )
    related_codes: Mapped[list[str]] = mapped_column(JSON, default=list, doc="关联资源代码")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[ResourceStatus] = mapped_column(_enum(ResourceStatus), default=ResourceStatus.DRAFT)
    has_draft_changes: Mapped[bool] = mapped_column(Boolean, default=True)
    published_version: Mapped[int] = mapped_column(Integer, default=0, doc="0 until first published.")
    first_published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdraw_reason: Mapped[str] = mapped_column(Text, default="")
    review_comment: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Optimistic locking: two administrators editing the same entry cannot silently overwrite each other.
    row_version: Mapped[int] = mapped_column(Integer, default=1)

    elements: Mapped[list[DataElement]] = relationship(
        back_populates="resource", cascade="all, delete-orphan", order_by="DataElement.position"
    )

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012 - SQLAlchemy reads it as a class dict
    __table_args__ = (
        Index("ix_catalog_resources_provider_id", "provider_id"),
        Index("ix_catalog_resources_status", "status"),
        Index("ix_catalog_resources_topic_id", "topic_id"),
    )


class DataElement(Base):
    """One field of a resource (信息项)."""

    __tablename__ = "catalog_elements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resources.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), doc="English identifier, e.g. resident_id.")
    data_type: Mapped[ElementType] = mapped_column(_enum(ElementType))
    length: Mapped[int | None] = mapped_column(Integer)
    identifies_person: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitivity: Mapped[Sensitivity] = mapped_column(_enum(Sensitivity), default=Sensitivity.INTERNAL)
    description: Mapped[str] = mapped_column(Text, default="")

    resource: Mapped[Resource] = relationship(back_populates="elements")

    __table_args__ = (
        UniqueConstraint("resource_id", "name_en", name="uq_catalog_elements_resource_name_en"),
        Index("ix_catalog_elements_resource_id", "resource_id"),
    )


class ResourceVersion(Base):
    """A frozen snapshot of an entry as published; versions count 1, 2, 3… per resource."""

    __tablename__ = "catalog_resource_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("catalog_resources.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    change_note: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        UniqueConstraint("resource_id", "version", name="uq_catalog_resource_versions_resource_version"),
    )


class ResourceSequence(Base):
    """The last sequence number used per code prefix, so resource codes are never reused."""

    __tablename__ = "catalog_resource_sequences"

    prefix: Mapped[str] = mapped_column(String(48), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)
