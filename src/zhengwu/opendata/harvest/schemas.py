"""Data in and out of harvesting: a source as an operator writes it, sources, jobs and log items out."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

SOURCE_NAME_RE = re.compile(r"^[a-z0-9_-]{2,60}$")
# How often a source runs: by hand only, a named interval, or every N minutes (cron's "*/N").
SCHEDULES = {"manual": 0, "hourly": 60, "daily": 1440, "weekly": 10080}
SCHEDULE_LABELS_ZH = {"manual": "仅手动", "hourly": "每小时", "daily": "每天", "weekly": "每周"}
MIN_INTERVAL = 5


def schedule_minutes(schedule: str) -> int:
    """Minutes between runs of ``schedule`` (0: by hand only); ValueError when it is not understood."""
    value = unicodedata.normalize("NFKC", schedule or "").strip().lower()
    if value in SCHEDULES:
        return SCHEDULES[value]
    match = re.fullmatch(r"(?:\*/)?(\d{1,6})", value)
    if not match:
        raise ValueError(
            "调度须为 manual、hourly、daily、weekly 或 */分钟数 "
            "(schedule must be manual, hourly, daily, weekly or */N minutes)"
        )
    minutes = int(match.group(1))
    if not MIN_INTERVAL <= minutes <= 527_040:
        raise ValueError(f"间隔须在 {MIN_INTERVAL} 分钟到一年之间 (interval out of range)")
    return minutes


def schedule_label(schedule: str) -> str:
    """The schedule in Chinese: 每天, 每 30 分钟."""
    if schedule in SCHEDULE_LABELS_ZH:
        return SCHEDULE_LABELS_ZH[schedule]
    return f"每 {schedule.removeprefix('*/')} 分钟"


class SourceIn(BaseModel):
    """A harvest source as the platform operator writes it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=500)
    backend: str = Field(min_length=1, max_length=32)
    organization: str = Field(min_length=1, max_length=100, description="local publisher: code or CKAN name")
    organization_map: dict[str, str] = Field(default_factory=dict, max_length=500)
    schedule: str = "manual"
    active: bool = True

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip()
            if not SOURCE_NAME_RE.match(value):
                raise ValueError(
                    "名称须为 2–60 个小写字母、数字、- 或 _ (must be 2-60 lowercase alphanumerics, - or _)"
                )
        return value

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip()
            if not re.match(r"^https?://[^\s/]+", value, re.IGNORECASE):
                raise ValueError("地址须以 http:// 或 https:// 开头 (url must be http or https)")
        return value

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).strip().lower() or "manual"
            schedule_minutes(value)
            if value.isdigit():
                value = f"*/{value}"
        return value


class SourceOut(BaseModel):
    """A harvest source with the state of its last job."""

    id: int
    name: str
    title: str
    url: str
    backend: str
    organization: str
    organization_title: str
    organization_map: dict[str, str]
    schedule: str
    schedule_label: str
    interval_minutes: int
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    last_job: JobOut | None = None
    datasets: int = 0
    running: bool = False
    next_run_at: dt.datetime | None = None


class JobOut(BaseModel):
    """One harvest job and its counts."""

    id: int
    source_id: int
    source_name: str
    status: str
    status_label: str
    trigger: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    gathered: int
    created: int
    updated: int
    deleted: int
    skipped: int
    failed: int
    error: str


class ItemOut(BaseModel):
    """One line of a job's log."""

    remote_id: str
    action: str
    action_label: str
    dataset_name: str
    message: str
    at: dt.datetime


class JobDetail(BaseModel):
    """A job with its log."""

    job: JobOut
    items: list[ItemOut]
    items_total: int


class Origin(BaseModel):
    """Where a harvested dataset comes from (shown on its page as 来源)."""

    source_id: int
    source_name: str
    source_title: str
    remote_id: str
    remote_url: str
    remote_modified: str
    harvested_at: dt.datetime
    withdrawn: bool


SourceOut.model_rebuild()
