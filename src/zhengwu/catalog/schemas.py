"""Plain data in and out of the catalog use cases (核心元数据 of 《政务信息资源目录编制指南（试行）》).

Field formats are checked here; rules that concern an entry as a whole (a "none" share type needs its
basis, at least one data element, no classified entry on an extranet node) are checked by the services
at submission, so that a half-finished draft can still be saved.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# Labels live with the enums in models; re-exported here for the pages and the API.
from zhengwu.catalog.models import ENUM_LABELS_ZH as ENUM_LABELS_ZH
from zhengwu.catalog.models import (
    Delivery,
    ElementType,
    OpenType,
    ResourceCategory,
    ResourceStatus,
    Secrecy,
    Sensitivity,
    ShareType,
    UpdateFrequency,
)
from zhengwu.catalog.models import label_zh as label_zh

# 类 (1 digit: 1 基础, 2 主题, 3 部门) - 项 (2 digits) - 目 (3 digits) - 细目 (1 to 6 digits, optional).
CLASSIFICATION_PATTERN = r"^[1-3]-\d{2}-\d{3}(-\d{1,6})?$"
CLASSIFICATION_RE = re.compile(CLASSIFICATION_PATTERN)
# The 类 digit of the classification is the catalog the entry belongs to.
CATEGORY_DIGIT = {
    ResourceCategory.BASE: "1",
    ResourceCategory.THEMATIC: "2",
    ResourceCategory.DEPARTMENTAL: "3",
}
# English identifier of a data element: how it is named in APIs and exchanged tables.
NAME_EN_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
RESOURCE_CODE_PATTERN = r"^[1-3]-\d{2}-\d{3}(-\d{1,6})?-[A-Za-z0-9][A-Za-z0-9_.-]*-\d{5,}$"
TOPIC_CODE_PATTERN = r"^\d{2}(\d{2}){0,3}$"

# 信息资源格式 (guideline 6.2): the kinds of carrier; the concrete file type goes into the summary.
FORMAT_LABELS_ZH: dict[str, str] = {
    "database": "数据库",
    "spreadsheet": "电子表格",
    "document": "电子文件",
    "image": "图形图像",
    "media": "流媒体",
    "api": "接口（自描述格式）",
    "other": "其他",
}

# Chinese names of the metadata fields, for error messages, diffs and the editor.
FIELD_LABELS_ZH: dict[str, str] = {
    "name": "信息资源名称",
    "provider_id": "提供部门",
    "category": "目录类别",
    "classification": "资源分类（类-项-目-细目）",
    "topic_code": "主题分类",
    "summary": "信息资源摘要",
    "format": "信息资源格式",
    "share_type": "共享类型",
    "share_conditions": "共享条件",
    "share_basis": "不予共享依据",
    "delivery": "共享方式",
    "open_type": "开放属性",
    "open_conditions": "开放条件",
    "update_frequency": "更新周期",
    "secrecy": "涉密属性",
    "source_system": "来源系统",
    "related_codes": "关联资源代码",
    "keywords": "关键词",
    "elements": "信息项",
    "row_version": "版本号",
    "reason": "原因",
}
ELEMENT_LABELS_ZH: dict[str, str] = {
    "name": "信息项名称",
    "name_en": "英文标识",
    "data_type": "数据类型",
    "length": "长度",
    "identifies_person": "可识别个人",
    "sensitivity": "敏感级别",
    "description": "说明",
}

Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Keyword = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
RelatedCode = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=64, pattern=RESOURCE_CODE_PATTERN)
]


class ElementIn(BaseModel):
    """One data element (信息项) as the editor or an API client sends it."""

    model_config = ConfigDict(extra="forbid")

    name: Text100 = Field(description="信息项名称, e.g. 公民身份号码.")
    name_en: str = Field(
        max_length=64,
        pattern=NAME_EN_PATTERN,
        description="English snake_case identifier, unique within the resource, e.g. resident_id.",
    )
    data_type: ElementType
    length: int | None = Field(None, ge=1, le=1_000_000, description="Maximum length, where it applies.")
    identifies_person: bool = Field(False, description="Whether the value identifies a natural person.")
    sensitivity: Sensitivity = Sensitivity.INTERNAL
    description: str = Field("", max_length=1000)

    @field_validator("name_en", mode="before")
    @classmethod
    def _strip_name_en(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class ElementOut(ElementIn):
    """A data element as stored; ``id`` is absent in published snapshots."""

    model_config = ConfigDict(extra="ignore")

    id: int | None = None
    position: int = 0


class ResourceIn(BaseModel):
    """The content of an entry: everything the provider fills in (not its lifecycle)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=200, description="信息资源名称.")
    category: ResourceCategory
    classification: str = Field(
        max_length=18,
        pattern=CLASSIFICATION_PATTERN,
        description="类-项-目-细目, e.g. '3-01-002-001'; 类 1 基础, 2 主题, 3 部门.",
    )
    topic_code: str | None = Field(None, max_length=32, description="Code of a node of the topic tree.")
    summary: str = Field("", max_length=4000, description="信息资源摘要.")
    format: str = Field(description="信息资源格式: " + ", ".join(FORMAT_LABELS_ZH))
    share_type: ShareType
    share_conditions: str = Field("", max_length=2000, description="Conditions of a conditional share.")
    share_basis: str = Field("", max_length=2000, description="Legal or policy basis; required for 'none'.")
    delivery: Delivery
    open_type: OpenType
    open_conditions: str = Field("", max_length=2000)
    update_frequency: UpdateFrequency
    secrecy: Secrecy = Secrecy.UNCLASSIFIED
    source_system: str = Field("", max_length=200, description="The information system it comes from.")
    related_codes: list[RelatedCode] = Field(default_factory=list, max_length=50)
    keywords: list[Keyword] = Field(default_factory=list, max_length=20)
    elements: list[ElementIn] = Field(default_factory=list, max_length=1000)

    @field_validator("name", "summary", "share_conditions", "share_basis", "open_conditions", "source_system")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if len(value) < 2:
            raise ValueError("名称至少 2 个字")
        return value

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in FORMAT_LABELS_ZH:
            raise ValueError("format must be one of " + ", ".join(FORMAT_LABELS_ZH))
        return value

    @field_validator("topic_code", mode="before")
    @classmethod
    def _blank_topic(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value


class ResourceCreate(ResourceIn):
    """A new entry. ``provider_id`` defaults to the caller's department; only platform admins pick."""

    provider_id: int | None = None


class ResourceUpdate(ResourceIn):
    """A new state of an entry's content; ``row_version`` is the version the client edited."""

    row_version: int = Field(ge=1, description="The row_version read before editing (optimistic lock).")


class ResourceOut(BaseModel):
    """One entry: its content (working copy or a published snapshot, see ``view``) and its lifecycle."""

    id: int
    code: str
    name: str
    provider_id: int
    provider_code: str
    provider_name: str
    category: ResourceCategory
    classification: str
    topic_code: str | None
    topic_name: str | None
    summary: str
    format: str
    share_type: ShareType
    share_conditions: str
    share_basis: str
    delivery: Delivery
    open_type: OpenType
    open_conditions: str
    update_frequency: UpdateFrequency
    secrecy: Secrecy
    source_system: str
    related_codes: list[str]
    keywords: list[str]
    elements: list[ElementOut]
    status: ResourceStatus
    has_draft_changes: bool
    under_review: bool = Field(description="A submission (first or revision) awaits the platform's review.")
    published_version: int
    first_published_at: dt.datetime | None
    published_at: dt.datetime | None
    withdrawn_at: dt.datetime | None
    withdraw_reason: str
    review_comment: str
    submitted_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    row_version: int
    view: Literal["working", "published"] = Field(
        description="'published': the version in force; 'working': the editable copy (may be unpublished)."
    )


class ResourceSummary(BaseModel):
    """One line of a list of entries."""

    id: int
    code: str
    name: str
    provider_id: int
    provider_name: str
    category: ResourceCategory
    classification: str
    share_type: ShareType
    open_type: OpenType
    delivery: Delivery
    update_frequency: UpdateFrequency
    status: ResourceStatus
    has_draft_changes: bool
    under_review: bool
    published_version: int
    published_at: dt.datetime | None
    submitted_at: dt.datetime | None
    updated_at: dt.datetime
    element_count: int
    review_comment: str = ""


class VersionOut(BaseModel):
    """One published version of an entry."""

    version: int
    published_at: dt.datetime
    published_by: str | None
    reviewed_by: str | None
    change_note: str
    snapshot: dict[str, Any] | None = None


class FieldChange(BaseModel):
    field: str
    label: str
    before: Any
    after: Any


class ElementChange(BaseModel):
    name_en: str
    name: str
    changes: list[FieldChange]


class DiffOut(BaseModel):
    """Field-level difference between two versions (``to_version`` None: the working copy)."""

    code: str
    from_version: int | None
    to_version: int | None
    fields: list[FieldChange]
    elements_added: list[ElementOut]
    elements_removed: list[ElementOut]
    elements_changed: list[ElementChange]

    @property
    def empty(self) -> bool:
        return not (self.fields or self.elements_added or self.elements_removed or self.elements_changed)


class ReasonIn(BaseModel):
    """A reason (rejection, withdrawal)."""

    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("reason")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("reason must not be blank")
        return value


class ApproveIn(BaseModel):
    comment: str = Field("", max_length=2000)


class TopicIn(BaseModel):
    """A new node of the topic tree; codes nest by two digits: 02, 0201, 020103."""

    code: str = Field(pattern=TOPIC_CODE_PATTERN, description="e.g. '02' or '0201' (child of '02').")
    name: str = Field(min_length=1, max_length=100)


class TopicOut(BaseModel):
    id: int
    code: str
    name: str
    parent_code: str | None
    level: int
    path: str = Field(description="Names from the root, e.g. '社会保障 › 养老保险'.")


class ManageList(BaseModel):
    """The editor's list for one department, with counts per status for the filter."""

    department_id: int
    department_name: str
    total: int
    counts: dict[str, int]
    items: list[ResourceSummary]
