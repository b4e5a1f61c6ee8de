"""Data in and out of the open data portal's use cases.

Input models take CKAN's parameter names (``owner_org``, ``notes``, ``tags`` as ``[{"name": ...}]``,
``resources``, ``extras``) and ignore keys they do not know, because CKAN clients send whole package
dictionaries back (``package_update`` after ``package_show``). Text is NFKC-normalised where a name or
code is expected, so full-width input (ｔｒａｆｆｉｃ－２０２４) means what it looks like.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from zhengwu.opendata.models import Treatment

NAME_RE = re.compile(r"^[a-z0-9_-]{2,100}$")
OPEN_TYPES = ("open", "conditional")
FREQUENCIES = ("realtime", "daily", "weekly", "monthly", "quarterly", "semiannual", "yearly", "irregular")


def _nfkc(value: Any) -> Any:
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value


class TagIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=100)

    @field_validator("name", mode="before")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        value = _nfkc(value)
        if isinstance(value, str) and any(ch in value for ch in ",\n\r\t\x00"):
            raise ValueError("标签不能包含逗号或控制字符 (tag must not contain commas or control characters)")
        return value


class GroupRef(BaseModel):
    """A topic named by ``name`` or ``id``."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    id: str | None = None


class ExtraIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=1, max_length=100)
    value: str = Field(default="", max_length=10_000)


class DistributionIn(BaseModel):
    """A CKAN resource as ``resource_create`` / ``package_create`` take it."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    name: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=10_000)
    url: str = Field(default="", max_length=1000)
    format: str = Field(default="", max_length=32)
    mimetype: str | None = Field(default=None, max_length=100)
    size: int | None = Field(default=None, ge=0)

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, value: Any) -> Any:
        value = _nfkc(value)
        return value.upper().lstrip(".") if isinstance(value, str) else value

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> Any:
        value = _nfkc(value)
        if isinstance(value, str) and value and not re.match(r"^(https?|ftp)://|^/", value, re.IGNORECASE):
            raise ValueError(
                "链接须以 http://、https:// 或 / 开头 (url must be http(s), ftp or a local path)"
            )
        return value


class DatasetIn(BaseModel):
    """A dataset as ``package_create`` takes it (``package_update`` replaces every field)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    title: str = Field(default="", max_length=300)
    notes: str = Field(default="", max_length=100_000)
    owner_org: str | None = None
    license_id: str = Field(default="", max_length=64)
    version: str = Field(default="", max_length=64)
    url: str = Field(default="", max_length=500)
    maintainer: str = Field(default="", max_length=200)
    maintainer_email: str = Field(default="", max_length=200)
    private: bool = False
    tags: list[TagIn] = Field(default_factory=list, max_length=100)
    groups: list[GroupRef] = Field(default_factory=list, max_length=50)
    resources: list[DistributionIn] = Field(default_factory=list, max_length=200)
    extras: list[ExtraIn] = Field(default_factory=list, max_length=100)
    open_type: str = "open"
    open_conditions: str = Field(default="", max_length=10_000)
    update_frequency: str = "irregular"
    temporal_start: dt.date | None = None
    temporal_end: dt.date | None = None
    spatial: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _tag_string(cls, data: Any) -> Any:
        # CKAN also takes tags as one comma-separated "tag_string".
        if isinstance(data, dict) and data.get("tag_string") and not data.get("tags"):
            data = {
                **data,
                "tags": [{"name": t.strip()} for t in str(data["tag_string"]).split(",") if t.strip()],
            }
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if v is not None or k in ("owner_org",)}
        return data

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        value = _nfkc(value)
        if isinstance(value, str) and not NAME_RE.match(value):
            raise ValueError(
                "名称须为 2–100 个小写字母、数字、- 或 _ "
                "(must be 2-100 lowercase alphanumeric characters, - or _)"
            )
        return value

    @field_validator("open_type")
    @classmethod
    def _open_type(cls, value: str) -> str:
        if value not in OPEN_TYPES:
            raise ValueError("开放属性须为 open 或 conditional (open_type must be open or conditional)")
        return value

    @field_validator("update_frequency")
    @classmethod
    def _frequency(cls, value: str) -> str:
        if value not in FREQUENCIES:
            raise ValueError("更新周期无效 (unknown update_frequency): " + ", ".join(FREQUENCIES))
        return value

    @field_validator("spatial", mode="before")
    @classmethod
    def _spatial(cls, value: Any) -> Any:
        value = _nfkc(value)
        if isinstance(value, str) and value and not re.fullmatch(r"\d{6}", value):
            raise ValueError("空间范围须为 6 位行政区划代码 (spatial must be a 6-digit region code)")
        return value or None

    @model_validator(mode="after")
    def _period(self) -> DatasetIn:
        if self.temporal_start and self.temporal_end and self.temporal_start > self.temporal_end:
            raise ValueError("时间范围的开始晚于结束 (temporal_start is after temporal_end)")
        return self


class TreatmentIn(BaseModel):
    """The publisher's choice for one data element."""

    name_en: str
    treatment: Treatment


class ElementCheck(BaseModel):
    """The sensitivity check of one data element, as shown to the publisher."""

    name: str
    name_en: str
    sensitivity: str
    sensitivity_label: str
    treatment: Treatment
    treatment_label: str
    ok: bool
    reason: str


class PublishCheck(BaseModel):
    """The result of the sensitivity check of a catalog entry's publication."""

    resource_code: str
    resource_name: str
    catalog_version: int
    open_type: str
    ok: bool
    elements: list[ElementCheck]
    problems: list[str]


class PublishIn(BaseModel):
    """What the publisher adds to a catalog entry to make it an open dataset."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    license_id: str = ""
    treatments: list[TreatmentIn] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)
    temporal_start: dt.date | None = None
    temporal_end: dt.date | None = None
    spatial: str | None = None
    private: bool = False
    resources: list[DistributionIn] = Field(default_factory=list)
