"""Deterministic synthetic standard addresses inside county polygons (demo and benchmark data).

For each county a fixed number of points is drawn uniformly inside its boundary (rejection sampling
in the bounding box, vectorised with ``shapely.contains_xy``) from a generator seeded by the seed
and the county code, so the same seed gives the same addresses on every machine. Each point gets a
road (from a list of common Chinese road-name stems and suffixes), a house number and sometimes a
building, and a full address prefixed by the province, prefecture and county names.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import shapely

from zhengwu.identifiers import region_path
from zhengwu.registries.geospatial.spatial import DivisionShape, parse_geometry

ROAD_STEMS: Final = (
    "文三",
    "学院",
    "天目山",
    "教工",
    "古墩",
    "莫干山",
    "解放",
    "人民",
    "中山",
    "建设",
    "环城",
    "新华",
    "延安",
    "湖滨",
    "钱江",
    "之江",
    "丰潭",
    "紫金港",
    "文一",
    "文二",
    "保俶",
    "曙光",
    "体育场",
    "凤起",
    "庆春",
    "秋涛",
    "江南",
    "滨盛",
    "江陵",
    "长河",
    "通惠",
    "市心",
    "金城",
    "育才",
    "迎宾",
    "东湖",
    "西溪",
    "五常",
    "留下",
    "转塘",
    "双浦",
    "灵隐",
    "龙井",
    "梅灵",
    "北山",
    "南山",
    "桃源",
    "和平",
)
ROAD_SUFFIXES: Final = ("路", "街", "大道", "巷", "弄")
BUILDING_NAMES: Final = (
    "科技大厦",
    "商务中心",
    "花园",
    "家园",
    "公寓",
    "广场",
    "创业园",
    "国际中心",
    "小区",
    "新村",
)


@dataclass(frozen=True)
class SyntheticAddress:
    """One generated standard address (coordinates WGS-84 / CGCS2000)."""

    address_code: str
    region_code: str
    address: str
    road: str
    house_number: str
    building: str | None
    lon: float
    lat: float


def _prefix(code: str) -> str:
    return "".join(r.name for r in region_path(code))


def points_in(
    geometry: shapely.Geometry, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points drawn uniformly inside ``geometry``."""
    west, south, east, north = geometry.bounds
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    found = 0
    shapely.prepare(geometry)
    while found < count:
        x = rng.uniform(west, east, count * 4)
        y = rng.uniform(south, north, count * 4)
        inside = shapely.contains_xy(geometry, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        found += int(inside.sum())
    return np.concatenate(xs)[:count], np.concatenate(ys)[:count]


def generate_addresses(
    divisions: Sequence[DivisionShape], *, per_county: int, seed: int
) -> Iterator[SyntheticAddress]:
    """``per_county`` addresses in each county of ``divisions`` (deterministic for a seed)."""
    roads = [stem + suffix for suffix in ROAD_SUFFIXES for stem in ROAD_STEMS]
    for division in sorted(divisions, key=lambda d: d.code):
        rng = np.random.default_rng([seed, int(division.code)])
        lon, lat = points_in(parse_geometry(division.geometry), per_county, rng)
        prefix = _prefix(division.code)
        road_ids = rng.integers(0, len(roads), per_county)
        numbers = rng.integers(1, 400, per_county)
        buildings = rng.integers(-len(BUILDING_NAMES), len(BUILDING_NAMES), per_county)
        blocks = rng.integers(1, 30, per_county)
        seen: set[str] = set()
        for i in range(per_county):
            road = roads[int(road_ids[i])]
            number = f"{int(numbers[i])}号"
            b = int(buildings[i])
            building = (
                f"{ROAD_STEMS[int(road_ids[i]) % len(ROAD_STEMS)]}{BUILDING_NAMES[b]}{int(blocks[i])}幢"
                if b >= 0
                else None
            )
            unit = b * 30 + int(blocks[i]) if b >= 0 else 0
            code = f"{division.code}{int(road_ids[i]):04d}{int(numbers[i]):04d}{unit:03d}"
            if code in seen:
                continue
            seen.add(code)
            yield SyntheticAddress(
                address_code=code,
                region_code=division.code,
                address=f"{prefix}{road}{number}{building or ''}",
                road=road,
                house_number=number,
                building=building,
                lon=round(float(lon[i]), 6),
                lat=round(float(lat[i]), 6),
            )
