"""Data out of catalog import and export."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

ImportAction = Literal["create", "update", "unchanged"]
ExportFormat = Literal["xlsx", "csv", "json", "ttl", "jsonld"]
ExportScope = Literal["published", "department"]


class IssueOut(BaseModel):
    """One problem of an import: where (sheet, row as Excel numbers it, column) and why, in Chinese."""

    sheet: str
    row: int | None
    column: str | None
    reason: str
    level: Literal["error", "warning"] = "error"


class ImportItem(BaseModel):
    """What the import does (or would do) with one resource row."""

    action: ImportAction
    sheet: str
    row: int
    name: str
    code: str | None = Field(None, description="The resource code (assigned on creation when applied).")
    elements: int = 0
    changes: list[str] = Field(default_factory=list, description="Fields an update changes (Chinese names).")


class ImportReport(BaseModel):
    """The outcome of validating (and, if ``applied``, applying) an import as a whole."""

    ok: bool = Field(description="No errors: the import can be (or was) applied.")
    applied: bool
    department_id: int
    department_name: str
    filename: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    items: list[ImportItem] = Field(default_factory=list)
    errors: list[IssueOut] = Field(default_factory=list)
    warnings: list[IssueOut] = Field(default_factory=list)


class ExportFile(BaseModel):
    """A file to download."""

    filename: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class ExportEntry:
    """One resource as exported: its content snapshot and its lifecycle facts."""

    code: str
    status: str
    version: int
    first_published_at: dt.datetime | None
    published_at: dt.datetime | None
    snapshot: dict[str, Any]
