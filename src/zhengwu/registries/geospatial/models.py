"""Tables of the geospatial registry (自然资源和地理空间基础信息库): divisions with boundaries, addresses.

Same design as the population and entity registries (see :mod:`zhengwu.registries.models`): a
**current-state** table per kind of record with the provenance of its content (``batch_id``,
``source_department``, ``valid_from``, ``row_hash``), and an **append-only versions** table whose
half-open system-time interval ``[valid_from, valid_to)`` answers "what did the registry say at t".
Batches are the shared ``registry_batches`` rows with ``registry = "geospatial"``.

* ``geo_divisions``: one administrative division per GB/T 2260 code (province, prefecture, county),
  its boundary as a GeoJSON ``MultiPolygon`` text in WGS-84 / CGCS2000 (portable: the same column on
  SQLite and PostgreSQL, no PostGIS needed; the spatial index lives in memory, built with shapely from
  these rows) and its bounding box, so a map-free page can draw it.
* ``geo_addresses``: standard addresses (标准地址) with a point in WGS-84 / CGCS2000, keyed by an
  address code that starts with the county's region code.
* ``geo_address_tokens``: the search index of addresses: character bigrams of the normalised address
  (a Chinese address is a run without spaces; bigrams find 文三路 in 西湖区文三路 without a
  dictionary, on both backends, with a plain indexed ``IN``).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime

REGISTRY_NAME: Final = "geospatial"
DIVISION_LEVELS: Final = {"province": "省级", "prefecture": "地级", "county": "县级"}
DIVISION_FIELDS: Final = (
    "name",
    "level",
    "parent_code",
    "min_lon",
    "min_lat",
    "max_lon",
    "max_lat",
    "geometry",
)
ADDRESS_FIELDS: Final = ("region_code", "address", "road", "house_number", "building", "lon", "lat")


class _DivisionColumns:
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(6))
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    geometry: Mapped[str | None] = mapped_column(Text)  # GeoJSON MultiPolygon, WGS-84 / CGCS2000
    row_hash: Mapped[str] = mapped_column(String(32))
    source_department: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Division(_DivisionColumns, Base):
    """Current state of one administrative division, keyed by its GB/T 2260 code."""

    __tablename__ = "geo_divisions"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigId)  # no foreign key, as in the other registries

    __table_args__ = (Index("ix_geo_divisions_parent_code", "parent_code"),)


class DivisionVersion(_DivisionColumns, Base):
    """One state a division had, from ``valid_from`` until ``valid_to`` (system time)."""

    __tablename__ = "geo_division_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(6))
    batch_id: Mapped[int] = mapped_column(BigId)
    valid_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_geo_division_versions_code", "code", "valid_from"),)


class _AddressColumns:
    region_code: Mapped[str] = mapped_column(String(6))
    address: Mapped[str] = mapped_column(String(300))
    road: Mapped[str | None] = mapped_column(String(100))
    house_number: Mapped[str | None] = mapped_column(String(40))
    building: Mapped[str | None] = mapped_column(String(100))
    lon: Mapped[float] = mapped_column(Float)  # WGS-84 / CGCS2000
    lat: Mapped[float] = mapped_column(Float)
    row_hash: Mapped[str] = mapped_column(String(32))
    source_department: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Address(_AddressColumns, Base):
    """Current state of one standard address (标准地址), keyed by its address code."""

    __tablename__ = "geo_addresses"

    address_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigId)

    __table_args__ = (Index("ix_geo_addresses_region_code", "region_code"),)


class AddressVersion(_AddressColumns, Base):
    """One state an address had, from ``valid_from`` until ``valid_to`` (system time)."""

    __tablename__ = "geo_address_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    address_code: Mapped[str] = mapped_column(String(32))
    batch_id: Mapped[int] = mapped_column(BigId)
    valid_to: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_geo_address_versions_address_code", "address_code", "valid_from"),)


class AddressToken(Base):
    """One search token (a character bigram, or a whole number) of one current address."""

    __tablename__ = "geo_address_tokens"

    token: Mapped[str] = mapped_column(String(16), primary_key=True)
    address_code: Mapped[str] = mapped_column(String(32), primary_key=True)

    __table_args__ = (Index("ix_geo_address_tokens_address_code", "address_code"),)
