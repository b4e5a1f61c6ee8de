"""Data in and out of conditional opening: sign-up, applications, decisions, keys, usage."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from zhengwu.opendata.access.models import ApplicantKind

MAX_PURPOSE = 2_000
MAX_RATE_PER_MINUTE = 6_000
MAX_DAILY_QUOTA = 10_000_000


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ApplicantIn(_In):
    """A public sign-up: an account and the real-name profile of a person or a company."""

    kind: ApplicantKind
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    password: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200, description="姓名或企业名称")
    identifier: str = Field(min_length=1, max_length=32, description="公民身份号码或统一社会信用代码")
    phone: str = Field(min_length=5, max_length=32, pattern=r"^[0-9+\- ]+$")
    email: str = Field("", max_length=200)


class ApplicationIn(_In):
    """What an applicant asks for: one conditional dataset, why, for how long, and whom to contact."""

    dataset: str = Field(min_length=1, max_length=100, description="数据集名称或 id")
    purpose: str = Field(min_length=10, max_length=MAX_PURPOSE, description="用途（至少 10 字）")
    use_start: dt.date
    use_end: dt.date
    contact_name: str = Field(min_length=1, max_length=100)
    contact_phone: str = Field(min_length=5, max_length=32, pattern=r"^[0-9+\- ]+$")
    contact_email: str = Field("", max_length=200)

    @model_validator(mode="after")
    def _period(self) -> ApplicationIn:
        if self.use_end < self.use_start:
            raise ValueError("使用期限的结束日期早于开始日期 (use_end is before use_start)")
        if (self.use_end - self.use_start).days > 3 * 366:
            raise ValueError("使用期限最长三年 (the use period is at most three years)")
        return self


class ApproveIn(_In):
    """The provider's approval: conditions of use, until when, and the key's limits."""

    conditions: str = Field("", max_length=MAX_PURPOSE)
    valid_until: dt.date
    rate_per_minute: int = Field(60, ge=1, le=MAX_RATE_PER_MINUTE)
    daily_quota: int = Field(10_000, ge=1, le=MAX_DAILY_QUOTA)

    @field_validator("valid_until")
    @classmethod
    def _future(cls, value: dt.date) -> dt.date:
        if value <= dt.date.today():
            raise ValueError("有效期须晚于今天 (valid_until must be after today)")
        return value


class ApplicantOut(BaseModel):
    """An applicant as the provider sees it: the identifier masked."""

    user_id: int
    kind: str
    kind_label: str
    name: str
    identifier_masked: str


class KeyOut(BaseModel):
    """A dataset key without its secret."""

    id: int
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    active: bool


class KeyIssued(KeyOut):
    """A new key; ``key`` is shown this once and never again."""

    key: str


class UsageDay(BaseModel):
    """One Beijing day of a key's (or an application's) use."""

    day: dt.date
    calls: int
    refused: int
    rows: int
    bytes: int


class ApplicationOut(BaseModel):
    """An application and its decision, as its applicant and its provider see it."""

    id: int
    dataset_name: str
    dataset_title: str
    organization: str
    applicant: ApplicantOut
    purpose: str
    use_start: dt.date
    use_end: dt.date
    contact_name: str
    contact_phone: str
    contact_email: str
    status: str
    status_label: str
    submitted_at: dt.datetime
    due_date: dt.date
    working_days_left: int | None = Field(None, description="pending only: 0 due today, <0 overdue")
    decided_at: dt.datetime | None
    reason: str
    conditions: str
    valid_until: dt.datetime | None
    rate_per_minute: int
    daily_quota: int
    usable: bool = Field(description="approved and not expired: a key may be issued")
    keys: list[KeyOut] = Field(default_factory=list)
