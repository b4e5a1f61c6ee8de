"""Data out of the datastore's use cases (the CKAN shapes themselves are plain dicts built in services)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class DatastoreField(BaseModel):
    """A field as CKAN names it: ``id`` and ``type`` (int, numeric, date, timestamp, text)."""

    id: str
    type: str


class DatastoreTableOut(BaseModel):
    """What the datastore holds for one resource (the physical table name stays internal)."""

    resource_id: str
    fields: list[DatastoreField]
    indexes: list[str]
    row_count: int
    is_open: bool
    source_format: str
    source_encoding: str | None
    source_sha256: str
    source_size: int
    loaded_by: str
    loaded_at: dt.datetime
    notes: list[str] = []
