"""Use cases of the geospatial registry: division tree and boundaries, address lookup and search,
reverse geocoding (single and batch) and coordinate conversion.

Who may see what: divisions, boundaries and standard addresses are base information shared
unconditionally (无条件共享) and hold no personal data, so every signed-in caller (person or API token)
may read them; nothing is masked and reads are not written to the audit trail (ingestion is).

Errors: a malformed region code, address code or coordinate answers 400 (``ValidationError`` with the
field and the reason); a well-formed code the registry does not hold answers 404.

Spatial lookups use in-memory indexes (:mod:`.spatial`) built from the tables and cached per
database; a cache entry is keyed by the row count and the newest ``valid_from`` of its table, so any
load (or a rolled-back one) makes the next lookup rebuild it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor, require_authenticated
from zhengwu.db import BEIJING, utcnow
from zhengwu.errors import NotFound, ValidationError
from zhengwu.identifiers import region_get
from zhengwu.registries.geospatial.coords import (
    CoordinateSystem,
    Floats,
    convert,
    coordinates_valid,
    in_china_box,
    wgs84_to_gcj02,
)
from zhengwu.registries.geospatial.models import (
    REGISTRY_NAME,
    Address,
    AddressToken,
    AddressVersion,
    Division,
    DivisionVersion,
)
from zhengwu.registries.geospatial.schemas import (
    MAX_BATCH_POINTS,
    AddressHit,
    AddressOut,
    ConvertOut,
    DivisionNode,
    DivisionOut,
    DivisionVersionOut,
    PointIn,
    RegionRef,
    ReverseHit,
    ReverseOut,
    feature,
)
from zhengwu.registries.geospatial.spatial import AddressIndex, DivisionIndex, DivisionShape
from zhengwu.registries.geospatial.tokens import MAX_QUERY, bigrams, normalise
from zhengwu.registries.models import RegistryBatch
from zhengwu.registries.schemas import FieldCompleteness, QualityReport, SourceQuality
from zhengwu.registries.services import batch_out

SEARCH_CANDIDATES: Final = 200
MIN_SHARE: Final = 0.5
MAX_RESULTS: Final = 100
_CACHE_SIZE: Final = 8
GRID_MIN_POINTS: Final = 5_000
_lock = threading.Lock()
_division_cache: OrderedDict[tuple[Any, ...], DivisionIndex] = OrderedDict()
_address_cache: OrderedDict[tuple[Any, ...], tuple[AddressIndex, list[Address]]] = OrderedDict()


# ------------------------------------------------------------------------------------------------ checks


def check_region_code(code: object, field: str = "code") -> str:
    """A six-digit GB/T 2260 code known to the kernel, or a ValidationError (400) saying why."""
    text = normalise(str(code or ""))
    if not (len(text) == 6 and text.isdigit()):
        raise ValidationError(
            f"行政区划代码“{code}”无效：应为 6 位数字",
            message_en="a region code has six digits",
            code="registries.geo.region_code",
            field=field,
        )
    if region_get(text) is None:
        raise ValidationError(
            f"行政区划代码 {text} 不在 GB/T 2260 代码表中",
            message_en=f"{text} is not a GB/T 2260 code",
            code="registries.geo.region_code",
            field=field,
        )
    return text


def check_coordinates(lon: ArrayLike, lat: ArrayLike, crs: CoordinateSystem | str) -> None:
    """400 for the first point that is not a finite longitude/latitude pair."""
    try:
        system = CoordinateSystem(crs)
    except ValueError as exc:
        raise ValidationError(
            f"未知坐标系“{crs}”，应为 wgs84、cgcs2000、gcj02 或 bd09",
            message_en=f"unknown coordinate system '{crs}'",
            code="registries.geo.crs",
            field="crs",
        ) from exc
    del system
    xs = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    ok = coordinates_valid(xs, np.atleast_1d(np.asarray(lat, dtype=np.float64)))
    if not bool(ok.all()):
        i = int(np.argmin(ok))
        field = "lon" if not (math.isfinite(xs[i]) and abs(xs[i]) <= 180) else "lat"
        raise ValidationError(
            f"第 {i + 1} 个点的坐标超出范围：经度应在 -180～180，纬度应在 -90～90",
            message_en=f"point {i + 1}: longitude must be within [-180, 180] and latitude within [-90, 90]",
            code="registries.geo.coordinates",
            field=f"points[{i}].{field}" if len(xs) > 1 else field,
            details={"index": i},
        )


def _division_row(db: Session, code: str) -> Division:
    key = check_region_code(code)
    row = db.get(Division, key)
    if row is None:
        raise NotFound(
            f"地理空间基础库中没有行政区划 {key}",
            message_en=f"no division {key} in the geospatial registry",
            code="registries.geo.division.not_found",
            field="code",
        )
    return row


# ------------------------------------------------------------------------------------------------ divisions


def _ref(row: Division) -> RegionRef:
    return RegionRef(code=row.code, name=row.name, level=row.level)


def division_tree(db: Session, *, actor: Actor, root: str | None = None) -> list[DivisionNode]:
    """The loaded divisions as a tree (provinces at the top), or the subtree under ``root``."""
    require_authenticated(actor)
    if root is not None:
        _division_row(db, root)
    rows = db.execute(
        select(Division.code, Division.name, Division.level, Division.parent_code).order_by(Division.code)
    ).all()
    nodes = {code: DivisionNode(code=code, name=name, level=level) for code, name, level, _ in rows}
    tops: list[DivisionNode] = []
    for code, _, _, parent in rows:
        if parent in nodes:
            nodes[parent].children.append(nodes[code])
        else:
            tops.append(nodes[code])
    return [nodes[root]] if root is not None else tops


def division_get(db: Session, *, actor: Actor, code: str) -> DivisionOut:
    """One division with its path, children, bounding box and provenance."""
    require_authenticated(actor)
    row = _division_row(db, code)
    path: list[RegionRef] = []
    parent = row.parent_code
    while parent:
        up = db.get(Division, parent)
        if up is None:
            break
        path.insert(0, _ref(up))
        parent = up.parent_code
    children = db.scalars(
        select(Division).where(Division.parent_code == row.code).order_by(Division.code)
    ).all()
    addresses = db.scalar(
        select(func.count())
        .select_from(Address)
        .where(Address.region_code.startswith(region_prefix(row.code)))
    )
    bbox = None if row.min_lon is None else [row.min_lon, row.min_lat, row.max_lon, row.max_lat]
    return DivisionOut(
        code=row.code,
        name=row.name,
        level=row.level,
        parent_code=row.parent_code,
        path=path,
        children=[_ref(c) for c in children],
        bbox=[float(v) for v in bbox] if bbox else None,  # type: ignore[arg-type]
        has_boundary=row.geometry is not None,
        addresses=int(addresses or 0),
        source_department=row.source_department,
        batch_id=row.batch_id,
        valid_from=row.valid_from,
    )


def division_history(db: Session, *, actor: Actor, code: str) -> list[DivisionVersionOut]:
    """Every state of a division, oldest first: name, parent, extent, from which batch, from when to when."""
    require_authenticated(actor)
    key = check_region_code(code)
    rows = db.scalars(
        select(DivisionVersion)
        .where(DivisionVersion.code == key)
        .order_by(DivisionVersion.valid_from, DivisionVersion.id)
    ).all()
    if not rows:
        raise NotFound(
            f"地理空间基础库中没有行政区划 {key}",
            message_en=f"no division {key} in the geospatial registry",
            code="registries.geo.division.not_found",
            field="code",
        )
    return [
        DivisionVersionOut(
            code=r.code,
            name=r.name,
            level=r.level,
            parent_code=r.parent_code,
            bbox=None
            if r.min_lon is None
            else [r.min_lon, r.min_lat or 0.0, r.max_lon or 0.0, r.max_lat or 0.0],
            source_department=r.source_department,
            batch_id=r.batch_id,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
        )
        for r in rows
    ]


def division_boundary(db: Session, *, actor: Actor, code: str) -> dict[str, Any]:
    """The boundary of one division as a GeoJSON Feature (CGCS2000 / WGS-84)."""
    require_authenticated(actor)
    row = _division_row(db, code)
    if row.geometry is None:
        raise NotFound(
            f"行政区划 {row.code} 没有边界数据",
            message_en=f"division {row.code} has no boundary",
            code="registries.geo.boundary.not_found",
            field="code",
        )
    return feature(row.code, row.name, row.level, json.loads(row.geometry))


def region_prefix(code: str) -> str:
    """The code prefix shared by a division and everything under it (330100 → 3301)."""
    if code.endswith("0000"):
        return code[:2]
    return code[:4] if code.endswith("00") else code


# ------------------------------------------------------------------------------------------------ addresses


def _address_out(row: Address | AddressVersion) -> AddressOut:
    gx, gy = wgs84_to_gcj02(row.lon, row.lat)
    return AddressOut(
        address_code=row.address_code,
        region_code=row.region_code,
        address=row.address,
        road=row.road,
        house_number=row.house_number,
        building=row.building,
        lon=row.lon,
        lat=row.lat,
        gcj02_lon=round(float(gx), 7),
        gcj02_lat=round(float(gy), 7),
        source_department=row.source_department,
        batch_id=row.batch_id,
        valid_from=row.valid_from,
        valid_to=getattr(row, "valid_to", None),
    )


def addresses_out(rows: Sequence[Address]) -> list[AddressOut]:
    """Many addresses at once (one vectorised GCJ-02 conversion)."""
    if not rows:
        return []
    gx, gy = wgs84_to_gcj02([r.lon for r in rows], [r.lat for r in rows])
    return [
        AddressOut(
            address_code=r.address_code,
            region_code=r.region_code,
            address=r.address,
            road=r.road,
            house_number=r.house_number,
            building=r.building,
            lon=r.lon,
            lat=r.lat,
            gcj02_lon=round(float(x), 7),
            gcj02_lat=round(float(y), 7),
            source_department=r.source_department,
            batch_id=r.batch_id,
            valid_from=r.valid_from,
        )
        for r, x, y in zip(rows, np.asarray(gx).tolist(), np.asarray(gy).tolist(), strict=True)
    ]


def _check_address_code(code: str) -> str:
    key = normalise(code).upper()
    if not (6 <= len(key) <= 32 and key.isascii() and key.isalnum()):
        raise ValidationError(
            f"地址编码“{code}”无效：应为 6 至 32 位数字或字母",
            message_en="an address code has 6 to 32 letters or digits",
            code="registries.geo.address_code",
            field="address_code",
        )
    return key


def _as_of(as_of: dt.datetime | dt.date | None) -> dt.datetime | None:
    """A date means the end of that day, a naive time Beijing time (as in the other registries)."""
    if as_of is None:
        return None
    if not isinstance(as_of, dt.datetime):
        as_of = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), BEIJING) - dt.timedelta(
            microseconds=1
        )
    return as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=BEIJING)


def address_get(
    db: Session, *, actor: Actor, address_code: str, as_of: dt.datetime | dt.date | None = None
) -> AddressOut:
    """One standard address by its code, now or as the registry said at ``as_of``."""
    require_authenticated(actor)
    key = _check_address_code(address_code)
    when = _as_of(as_of)
    row: Address | AddressVersion | None
    if when is None:
        row = db.get(Address, key)
    else:
        row = db.scalars(
            select(AddressVersion).where(
                AddressVersion.address_code == key,
                AddressVersion.valid_from <= when,
                or_(AddressVersion.valid_to.is_(None), AddressVersion.valid_to > when),
            )
        ).first()
    if row is None:
        raise NotFound(
            f"地理空间基础库中没有地址编码 {key}" + ("（在该时点）" if when else ""),
            message_en=f"no address {key}" + (" at that time" if when else ""),
            code="registries.geo.address.not_found",
            field="address_code",
        )
    return _address_out(row)


def address_history(db: Session, *, actor: Actor, address_code: str) -> list[AddressOut]:
    """Every version of an address, oldest first (what it was, from when to when, from which batch)."""
    require_authenticated(actor)
    key = _check_address_code(address_code)
    rows = db.scalars(
        select(AddressVersion)
        .where(AddressVersion.address_code == key)
        .order_by(AddressVersion.valid_from, AddressVersion.id)
    ).all()
    if not rows:
        raise NotFound(
            f"地理空间基础库中没有地址编码 {key}",
            message_en=f"no address {key}",
            code="registries.geo.address.not_found",
            field="address_code",
        )
    return [_address_out(r) for r in rows]


def address_search(
    db: Session, *, actor: Actor, query: str, region: str | None = None, limit: int = 20
) -> list[AddressHit]:
    """Addresses matching a Chinese query, best first.

    Ranking: the share of the query's character bigrams the address holds (at least half), plus one
    when it holds the whole normalised query; ties go to the shorter address. A one-character query matches by
    substring. ``region`` limits the search to a division and everything under it.
    """
    require_authenticated(actor)
    text = normalise(query or "")
    if not text:
        raise ValidationError(
            "请输入要查询的地址", message_en="the query is empty", code="registries.geo.query", field="q"
        )
    if len(text) > MAX_QUERY:
        raise ValidationError(
            f"查询过长（不超过 {MAX_QUERY} 字）",
            message_en="the query is too long",
            code="registries.geo.query",
            field="q",
        )
    limit = max(1, min(limit, MAX_RESULTS))
    prefix = region_prefix(check_region_code(region, "region")) if region else None
    tokens = bigrams(text)
    if tokens:
        stmt = (
            select(AddressToken.address_code, func.count().label("hits"))
            .where(AddressToken.token.in_(tokens))
            .group_by(AddressToken.address_code)
            .order_by(func.count().desc(), AddressToken.address_code)
            .limit(SEARCH_CANDIDATES)
        )
        if prefix:
            stmt = stmt.where(AddressToken.address_code.startswith(prefix))
        hits = dict(db.execute(stmt).tuples().all())
        rows = db.scalars(select(Address).where(Address.address_code.in_(list(hits)))).all() if hits else []
    else:
        stmt2 = select(Address).where(Address.address.contains(text)).limit(SEARCH_CANDIDATES)
        if prefix:
            stmt2 = stmt2.where(Address.region_code.startswith(prefix))
        rows = db.scalars(stmt2).all()
        hits = {r.address_code: 1 for r in rows}
    scored: list[tuple[float, int, str, Address]] = []
    for row in rows:
        whole = text in normalise(row.address)
        share = hits[row.address_code] / max(len(tokens), 1)
        if share < MIN_SHARE and not whole:
            continue  # a few stray bigrams in common ("11", "路1") are noise, not a match
        score = share + (1.0 if whole else 0.0)
        scored.append((-score, len(row.address), row.address_code, row))
    scored.sort(key=lambda item: item[:3])
    return [
        AddressHit(**_address_out(row).model_dump(), score=round(-neg, 4))
        for neg, _, _, row in scored[:limit]
    ]


# ---------------------------------------------------------------------------------------------- indexes


def _cache_key(db: Session, model: type[Division] | type[Address]) -> tuple[Any, ...]:
    count, newest = db.execute(select(func.count(), func.max(model.valid_from)).select_from(model)).one()
    return (str(db.get_bind().engine.url), id(db.get_bind().engine), count, newest)


def division_index(db: Session) -> DivisionIndex:
    """The county index of this database (built once per state of the divisions table)."""
    key = _cache_key(db, Division)
    with _lock:
        if key in _division_cache:
            _division_cache.move_to_end(key)
            return _division_cache[key]
    rows = db.execute(select(Division.code, Division.geometry).where(Division.level == "county")).all()
    index = DivisionIndex([DivisionShape(code, geometry) for code, geometry in rows if geometry])
    with _lock:
        _division_cache[key] = index
        while len(_division_cache) > _CACHE_SIZE:
            _division_cache.popitem(last=False)
    return index


def _address_index(db: Session) -> tuple[AddressIndex, list[Address]]:
    key = _cache_key(db, Address)
    with _lock:
        if key in _address_cache:
            _address_cache.move_to_end(key)
            return _address_cache[key]
    rows = list(db.scalars(select(Address).order_by(Address.address_code)).all())
    for row in rows:
        db.expunge(row)  # the cache outlives the session
    index = AddressIndex(
        [r.address_code for r in rows], np.array([r.lon for r in rows]), np.array([r.lat for r in rows])
    )
    with _lock:
        _address_cache[key] = (index, rows)
        while len(_address_cache) > _CACHE_SIZE:
            _address_cache.popitem(last=False)
    return index, rows


# ----------------------------------------------------------------------------------------- reverse geocoding


@dataclass(frozen=True)
class ReverseColumns:
    """Answers of a batch as columns (NumPy arrays), in the order of the points."""

    wgs84_lon: Floats
    wgs84_lat: Floats
    in_china: NDArray[np.bool_]
    county: NDArray[np.int64]  # index into county_codes, -1: in no loaded county
    county_codes: NDArray[np.str_]
    address: NDArray[np.int64]  # index into address_rows, -1: none within reach (or not asked)
    address_rows: list[Address]
    distance_m: Floats  # NaN where address is -1

    def county_code_of(self) -> list[str | None]:
        """The county code of each point."""
        return [str(self.county_codes[i]) if i >= 0 else None for i in self.county.tolist()]


def reverse_geocode_columns(
    db: Session,
    *,
    actor: Actor,
    lon: ArrayLike,
    lat: ArrayLike,
    crs: CoordinateSystem | str = CoordinateSystem.WGS84,
    nearest_address: bool = True,
    max_distance_m: float = 500.0,
) -> ReverseColumns:
    """The vectorised core of reverse geocoding: arrays in, columns out (no object per point)."""
    require_authenticated(actor)
    x = np.asarray(lon, dtype=np.float64).ravel()
    y = np.asarray(lat, dtype=np.float64).ravel()
    if len(x) != len(y):
        raise ValidationError(
            "经度与纬度个数不一致",
            message_en="as many longitudes as latitudes",
            code="registries.geo.coordinates",
            field="points",
        )
    if len(x) > MAX_BATCH_POINTS:
        raise ValidationError(
            f"一次最多 {MAX_BATCH_POINTS} 个点",
            message_en=f"at most {MAX_BATCH_POINTS} points",
            code="registries.geo.batch_size",
            field="points",
        )
    if not (0 < max_distance_m <= 50_000) or not math.isfinite(max_distance_m):
        raise ValidationError(
            "最大距离应在 0～50000 米之间",
            message_en="max_distance_m must be in (0, 50000]",
            code="registries.geo.max_distance",
            field="max_distance_m",
        )
    check_coordinates(x, y, crs)
    wx, wy = convert(x, y, source=crs, target=CoordinateSystem.WGS84)
    index = division_index(db)
    if len(x) >= GRID_MIN_POINTS:
        index.build_grid()  # once per index: large batches then skip most polygon tests
    found = index.locate(wx, wy)
    near = np.full(len(x), -1, dtype=np.int64)
    dist = np.full(len(x), np.nan)
    rows: list[Address] = []
    if nearest_address:
        address_index, rows = _address_index(db)
        near, dist = address_index.nearest(wx, wy, max_distance_m=max_distance_m)
    return ReverseColumns(wx, wy, in_china_box(wx, wy), found, index.codes, near, rows, dist)


def reverse_geocode_batch(
    db: Session,
    *,
    actor: Actor,
    points: Sequence[PointIn],
    crs: CoordinateSystem | str = CoordinateSystem.WGS84,
    nearest_address: bool = True,
    max_distance_m: float = 500.0,
) -> list[ReverseHit]:
    """County (and prefecture, province) of each point, and the nearest standard address within reach.

    Plain data per point (:class:`ReverseHit`); :func:`reverse_geocode` gives one point as a schema.
    """
    lon = np.array([p.lon for p in points], dtype=np.float64)
    lat = np.array([p.lat for p in points], dtype=np.float64)
    columns = reverse_geocode_columns(
        db,
        actor=actor,
        lon=lon,
        lat=lat,
        crs=crs,
        nearest_address=nearest_address,
        max_distance_m=max_distance_m,
    )
    wx, wy, inside, found, near, dist = (
        columns.wgs84_lon,
        columns.wgs84_lat,
        columns.in_china,
        columns.county,
        columns.address,
        columns.distance_m,
    )
    rows = columns.address_rows
    addresses: dict[int, dict[str, Any]] = {}
    if len(rows):
        wanted = np.unique(near[near >= 0]).tolist()
        outs = addresses_out([rows[i] for i in wanted])
        addresses = {i: a.model_dump(mode="json") for i, a in zip(wanted, outs, strict=True)}
    # One answer per county, shared by every point in it (read-only plain data).
    answers: dict[int, tuple[dict[str, Any] | None, ...]] = {-1: (None, None, None)}
    if found.max(initial=-1) >= 0:
        names = {
            code: ({"code": code, "name": name, "level": level}, parent)
            for code, name, level, parent in db.execute(
                select(Division.code, Division.name, Division.level, Division.parent_code)
            ).tuples()
        }
        for i in np.unique(found[found >= 0]).tolist():
            code = str(columns.county_codes[i])
            county, parent = names.get(code, (None, None))
            prefecture = names.get(parent or "", (None, None))[0]
            province = names.get(code[:2] + "0000", (None, None))[0] if county else None
            if prefecture is not None and prefecture["level"] != "prefecture":
                prefecture = None
            answers[i] = (county, prefecture, province)
    out: list[ReverseHit] = []
    wx7, wy7 = np.round(wx, 7).tolist(), np.round(wy, 7).tolist()
    metres = np.round(dist, 1).tolist()
    for i, (x, y, county_i, address_i, china) in enumerate(
        zip(lon.tolist(), lat.tolist(), found.tolist(), near.tolist(), inside.tolist(), strict=True)
    ):
        county, prefecture, province = answers[county_i]
        out.append(
            ReverseHit(
                x,
                y,
                wx7[i],
                wy7[i],
                china,
                county,
                prefecture,
                province,
                addresses.get(address_i),
                metres[i] if address_i >= 0 else None,
            )
        )
    return out


def reverse_geocode(
    db: Session,
    *,
    actor: Actor,
    lon: float,
    lat: float,
    crs: CoordinateSystem | str = CoordinateSystem.WGS84,
    max_distance_m: float = 500.0,
) -> ReverseOut:
    """County and nearest address of one point."""
    hit = reverse_geocode_batch(
        db, actor=actor, points=[PointIn(lon=lon, lat=lat)], crs=crs, max_distance_m=max_distance_m
    )[0]
    return ReverseOut.model_validate(hit.to_dict())


def coordinates_convert(
    *, actor: Actor, points: Sequence[PointIn], source: CoordinateSystem | str, target: CoordinateSystem | str
) -> ConvertOut:
    """Convert points between WGS-84/CGCS2000, GCJ-02 and BD-09 (no offset outside China)."""
    require_authenticated(actor)
    if len(points) > MAX_BATCH_POINTS:
        raise ValidationError(
            f"一次最多 {MAX_BATCH_POINTS} 个点",
            message_en=f"at most {MAX_BATCH_POINTS} points",
            code="registries.geo.batch_size",
            field="points",
        )
    lon = [p.lon for p in points]
    lat = [p.lat for p in points]
    check_coordinates(lon, lat, source)
    check_coordinates(lon, lat, target)
    x, y = convert(np.array(lon), np.array(lat), source=source, target=target)
    return ConvertOut(
        source=CoordinateSystem(source),
        target=CoordinateSystem(target),
        points=[PointIn(lon=round(float(a), 9), lat=round(float(b), 9)) for a, b in zip(x, y, strict=True)],
    )


# ------------------------------------------------------------------------------------------------- quality

QUALITY_OPTIONAL: Final = ("road", "house_number", "building")


def geospatial_quality(db: Session, *, actor: Actor, stale_days: int = 365) -> QualityReport:
    """Quality of the standard addresses, overall and per source department.

    Completeness of the optional fields, records not changed by any delivery for ``stale_days``,
    probable duplicates (the same address text under different address codes), and the batches with
    their invalid rows (coordinates outside the county, unknown region codes... were refused there).
    """
    require_authenticated(actor)
    if not 1 <= stale_days <= 36_500:
        raise ValidationError(
            "stale_days 应在 1～36500 之间",
            message_en="stale_days must be in [1, 36500]",
            code="registries.geo.stale_days",
            field="stale_days",
        )
    cutoff = utcnow() - dt.timedelta(days=stale_days)
    filled = [func.count(getattr(Address, f)) for f in QUALITY_OPTIONAL]
    rows = db.execute(
        select(
            Address.source_department,
            func.count(),
            func.sum(case((Address.valid_from < cutoff, 1), else_=0)),
            *filled,
        ).group_by(Address.source_department)
    ).all()
    batches = db.scalars(
        select(RegistryBatch)
        .where(RegistryBatch.registry_name == REGISTRY_NAME)
        .order_by(RegistryBatch.id.desc())
    ).all()
    per_source: dict[str, list[RegistryBatch]] = {}
    for batch in batches:
        per_source.setdefault(batch.source_department, []).append(batch)
    sources: list[SourceQuality] = []
    total = stale_total = 0
    sums = [0] * len(QUALITY_OPTIONAL)
    for source, count, stale, *values in rows:
        total += int(count)
        stale_total += int(stale or 0)
        sums = [a + int(b or 0) for a, b in zip(sums, values, strict=True)]
        own = per_source.get(source, [])
        sources.append(
            SourceQuality(
                source_department=source,
                records=int(count),
                completeness=[
                    FieldCompleteness(field=f, filled=int(v or 0), total=int(count))
                    for f, v in zip(QUALITY_OPTIONAL, values, strict=True)
                ],
                stale=int(stale or 0),
                batches=len(own),
                rows_read=sum(b.rows_read for b in own),
                rows_invalid=sum(b.rows_invalid for b in own),
            )
        )
    duplicated = select(Address.address).group_by(Address.address).having(func.count() > 1).subquery()
    duplicates = db.scalar(
        select(func.count()).select_from(Address).where(Address.address.in_(select(duplicated.c.address)))
    )
    return QualityReport(
        registry=REGISTRY_NAME,
        records=total,
        stale_days=stale_days,
        stale=stale_total,
        duplicates=int(duplicates or 0),
        duplicate_rule="同一标准地址文本对应多个地址编码",
        completeness=[
            FieldCompleteness(field=f, filled=v, total=total)
            for f, v in zip(QUALITY_OPTIONAL, sums, strict=True)
        ],
        sources=sources,
        batches=[batch_out(b) for b in batches[:50]],
    )
