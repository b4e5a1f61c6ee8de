"""Data in and out of the geospatial registry (pydantic)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from zhengwu.registries.geospatial.coords import CoordinateSystem

MAX_BATCH_POINTS = 100_000


class RegionRef(BaseModel):
    """A division named by code and name."""

    code: str
    name: str
    level: str


class DivisionNode(BaseModel):
    """One node of the division tree."""

    code: str
    name: str
    level: str
    children: list[DivisionNode] = Field(default_factory=list)


class DivisionOut(BaseModel):
    """One division with its place in the tree and its provenance."""

    code: str
    name: str
    level: str
    parent_code: str | None
    path: list[RegionRef]
    children: list[RegionRef]
    bbox: list[float] | None  # [west, south, east, north], WGS-84 / CGCS2000
    has_boundary: bool
    addresses: int
    source_department: str
    batch_id: int
    valid_from: dt.datetime


class DivisionVersionOut(BaseModel):
    """One state a division had (its boundary is served by the boundary endpoint, current only)."""

    code: str
    name: str
    level: str
    parent_code: str | None
    bbox: list[float] | None
    source_department: str
    batch_id: int
    valid_from: dt.datetime
    valid_to: dt.datetime | None


class AddressOut(BaseModel):
    """One standard address (coordinates WGS-84 / CGCS2000, with the GCJ-02 pair for web maps)."""

    address_code: str
    region_code: str
    address: str
    road: str | None
    house_number: str | None
    building: str | None
    lon: float
    lat: float
    gcj02_lon: float
    gcj02_lat: float
    source_department: str
    batch_id: int
    valid_from: dt.datetime
    valid_to: dt.datetime | None = None


class AddressHit(AddressOut):
    """A search result: the address and its score (share of the query's bigrams it holds, +1 if whole)."""

    score: float


class PointIn(BaseModel):
    """A point as given by a caller."""

    lon: float
    lat: float


class ReverseIn(BaseModel):
    """A batch of points to reverse-geocode."""

    points: list[PointIn] = Field(max_length=MAX_BATCH_POINTS)
    crs: CoordinateSystem = CoordinateSystem.WGS84
    nearest_address: bool = True
    max_distance_m: float = 500.0


class ReverseOut(BaseModel):
    """Which county holds a point and the nearest standard address."""

    lon: float
    lat: float
    wgs84_lon: float
    wgs84_lat: float
    in_china: bool
    county: RegionRef | None
    prefecture: RegionRef | None
    province: RegionRef | None
    address: AddressOut | None
    distance_m: float | None


@dataclass(frozen=True, slots=True)
class ReverseHit:
    """One answer of a batch: the fields of :class:`ReverseOut` as plain data.

    A batch of 100,000 points would spend most of its time building and re-validating pydantic
    objects; the county, prefecture, province and address parts are plain dicts built once per
    distinct value and shared by every point that has it (read-only).
    """

    lon: float
    lat: float
    wgs84_lon: float
    wgs84_lat: float
    in_china: bool
    county: dict[str, Any] | None
    prefecture: dict[str, Any] | None
    province: dict[str, Any] | None
    address: dict[str, Any] | None
    distance_m: float | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the same keys as :class:`ReverseOut`)."""
        return {
            "lon": self.lon,
            "lat": self.lat,
            "wgs84_lon": self.wgs84_lon,
            "wgs84_lat": self.wgs84_lat,
            "in_china": self.in_china,
            "county": self.county,
            "prefecture": self.prefecture,
            "province": self.province,
            "address": self.address,
            "distance_m": self.distance_m,
        }


class ConvertIn(BaseModel):
    """Points to convert between coordinate systems."""

    points: list[PointIn] = Field(max_length=MAX_BATCH_POINTS)
    source: CoordinateSystem
    target: CoordinateSystem


class ConvertOut(BaseModel):
    """Converted points, in the order given."""

    source: CoordinateSystem
    target: CoordinateSystem
    points: list[PointIn]


def feature(code: str, name: str, level: str, geometry: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature of one division."""
    return {
        "type": "Feature",
        "properties": {
            "code": code,
            "name": name,
            "level": level,
            "crs": "CGCS2000 / WGS-84 (EPSG:4490 ≈ 4326)",
        },
        "geometry": geometry,
    }
