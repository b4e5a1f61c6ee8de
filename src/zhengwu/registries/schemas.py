"""Shapes of registry data at the service boundary (API bodies, page contexts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class RelationOut(BaseModel):
    """A family link of a person: ``role`` is what the relative is to the person (parent, child, spouse)."""

    role: str
    relative_id: str
    relative_name: str | None
    valid_from: dt.datetime
    valid_to: dt.datetime | None
    source_department: str
    batch_id: int


class PersonOut(BaseModel):
    """A person as the caller may see it: masked unless the caller may see personal data in clear."""

    resident_id: str
    name: str
    former_names: list[str]
    sex: str
    birth_date: str
    ethnicity: str
    nationality: str
    household_region_code: str
    household_address: str
    current_region_code: str | None
    current_address: str | None
    phone: str | None
    status: str
    status_date: dt.date | None
    masked: bool
    source_department: str
    batch_id: int
    valid_from: dt.datetime
    valid_to: dt.datetime | None = None
    as_of: dt.datetime | None = None
    # Family links: only for callers who may see personal data in clear; None for everyone else.
    relations: list[RelationOut] | None = None


class EntityOut(BaseModel):
    """A legal entity; only the legal representative's identity is personal data and masked."""

    uscc: str
    name: str
    former_names: list[str]
    entity_type: str
    registration_authority_code: str
    registration_authority: str | None
    org_code: str
    legal_representative_id: str
    legal_representative_name: str | None
    registered_capital: int | None
    currency: str | None
    established_date: dt.date
    business_scope: str | None
    region_code: str
    address: str
    status: str
    status_date: dt.date | None
    masked: bool
    source_department: str
    batch_id: int
    valid_from: dt.datetime
    valid_to: dt.datetime | None = None
    as_of: dt.datetime | None = None


class VersionOut(BaseModel):
    """One version of a record: what changed, when, delivered by whom (provenance)."""

    valid_from: dt.datetime
    valid_to: dt.datetime | None
    batch_id: int
    source_department: str
    changed: dict[str, Any]


class FieldProvenance(BaseModel):
    """Where the current value of one field came from."""

    since: dt.datetime
    batch_id: int
    source_department: str


class Page(BaseModel):
    """One page of search results."""

    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int


class PersonVerifyIn(BaseModel):
    """核验 of a person: does this resident ID belong to a living person of this name?"""

    resident_id: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)


class EntityVerifyIn(BaseModel):
    """核验 of an entity: is this USCC registered under this name (and not deregistered)?"""

    uscc: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)


class VerifyOut(BaseModel):
    """The whole answer of a verification: nothing else is disclosed."""

    match: bool


class BatchOut(BaseModel):
    """One ingestion batch for the history pages and API."""

    id: int
    registry: str
    source_department: str
    file_name: str
    file_format: str
    mode: str
    status: str
    rows_read: int
    rows_invalid: int
    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    message: str | None
    has_error_file: bool
    actor_username: str
    started_at: dt.datetime
    finished_at: dt.datetime | None


class FieldCompleteness(BaseModel):
    """Share of records with a value in one optional field."""

    field: str
    filled: int
    total: int

    @property
    def ratio(self) -> float:
        return self.filled / self.total if self.total else 0.0


class SourceQuality(BaseModel):
    """Quality of one source department's records in one registry."""

    source_department: str
    records: int
    completeness: list[FieldCompleteness]
    stale: int
    batches: int
    rows_read: int
    rows_invalid: int


class QualityReport(BaseModel):
    """Data quality of one registry, overall and per source department."""

    registry: str
    records: int
    stale_days: int
    stale: int
    duplicates: int
    duplicate_rule: str
    completeness: list[FieldCompleteness]
    sources: list[SourceQuality]
    batches: list[BatchOut]
