"""The datastore's own metadata table: which physical table holds which resource, with what fields.

The data itself lives in one table per resource, ``ds_<32 hex>``, created at load time (not by a
migration: their columns come from the file). ``resource_id`` is a plain string (CKAN resource ids are
UUID strings) with no foreign key, so the datastore does not depend on how the portal stores datasets.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime, utcnow


class DatastoreTable(Base):
    """One loaded resource: its physical table, fields (``[{"id", "type"}]``) and load facts."""

    __tablename__ = "datastore_tables"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(100), unique=True)
    table_name: Mapped[str] = mapped_column(String(63), unique=True)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    indexes: Mapped[list[str]] = mapped_column(JSON, default=list)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    is_open: Mapped[bool] = mapped_column(Boolean, default=False)
    source_format: Mapped[str] = mapped_column(String(16))
    source_encoding: Mapped[str | None] = mapped_column(String(32), nullable=True)
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_size: Mapped[int] = mapped_column(BigInteger, default=0)
    loaded_by: Mapped[str] = mapped_column(String(150))
    loaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
