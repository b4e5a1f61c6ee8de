"""Ingestion of the geospatial registry: boundaries (GeoJSON) and standard addresses (CSV/Excel/Parquet).

Both follow the rules of the other registries (:mod:`zhengwu.registries.ingest`): one
``registry_batches`` row per delivery (``registry = "geospatial"``), the delivery's SM3 fingerprint
makes a repeated file a no-op, a record whose values did not change creates no version, every change
closes the current version and opens a new one with the batch and the source department, and a batch
is atomic unless the operator asks for ``partial`` (valid rows applied, the others in an error file).
Files are read with the registries' readers (encoding detection, GBK, BOM, broken quotes, Excel).

Boundaries are checked feature by feature (GB/T 2260 code known to the kernel, polygon valid and in
range) and applied atomically: a half-replaced map is worse than an old one.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import shapely
from shapely.geometry import mapping
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department
from zhengwu.accounts.permissions import Actor, require_department_admin
from zhengwu.audit.services import audit_record
from zhengwu.crypto import sm3_hash
from zhengwu.db import utcnow
from zhengwu.errors import NotFound, ValidationError
from zhengwu.identifiers import region_get
from zhengwu.registries import readers
from zhengwu.registries.geospatial.coords import CoordinateSystem, convert, in_china_box
from zhengwu.registries.geospatial.models import (
    ADDRESS_FIELDS,
    DIVISION_FIELDS,
    REGISTRY_NAME,
    Address,
    AddressToken,
    AddressVersion,
    Division,
    DivisionVersion,
)
from zhengwu.registries.geospatial.spatial import parse_geometry
from zhengwu.registries.geospatial.tokens import bigrams
from zhengwu.registries.ingest import IngestResult, RowError, map_header
from zhengwu.registries.models import BatchStatus, RegistryBatch
from zhengwu.registries.validation import Problem, Spec, clean, row_hash

Mode = Literal["atomic", "partial"]
DEMO_BOUNDARIES: Final = "data/boundaries_330000.geojson"
ERRORS_SHOWN: Final = 100
# How far (degrees, ~200 m) a delivered point may lie outside its county's simplified boundary.
EDGE_TOLERANCE: Final = 0.002
_ADDRESS_CODE: Final = re.compile(r"^[0-9A-Z]{6,32}$")
ADDRESS_ALIASES: Final = {
    "地址编码": "address_code",
    "行政区划代码": "region_code",
    "区划代码": "region_code",
    "地址": "address",
    "标准地址": "address",
    "道路": "road",
    "街路巷": "road",
    "门牌号": "house_number",
    "建筑物": "building",
    "经度": "lon",
    "纬度": "lat",
    "坐标系": "crs",
    "longitude": "lon",
    "latitude": "lat",
}


def _no_validator(row: dict[str, Any], today: dt.date) -> tuple[Any, ...] | list[Problem]:
    return []  # addresses are validated by _validate_address (it needs the boundaries)


ADDRESS_SPEC: Final = Spec(
    key="address_code",
    required=("address_code", "region_code", "address", "lon", "lat"),
    optional=("road", "house_number", "building", "crs"),
    staged=("address_code", *ADDRESS_FIELDS),
    aliases=ADDRESS_ALIASES,
    validate=_no_validator,
)


def demo_boundaries_path() -> Path:
    """The vendored demo boundaries (浙江省 330000, WGS-84 / CGCS2000; see data/SOURCE.md)."""
    return Path(str(resources.files("zhengwu.registries.geospatial").joinpath(DEMO_BOUNDARIES)))


def _department(db: Session, code: str) -> Department:
    department = db.scalars(select(Department).where(Department.code == code)).first()
    if department is None:
        raise NotFound(
            f"来源部门“{code}”不存在",
            message_en=f"unknown source department '{code}'",
            code="registries.source.unknown",
            field="source",
        )
    return department


def _fingerprint(data: bytes, source: str) -> str:
    return sm3_hash(data + b"\x00source=" + source.encode()).hex()


def _previous(db: Session, fingerprint: str) -> RegistryBatch | None:
    return db.scalars(
        select(RegistryBatch)
        .where(
            RegistryBatch.registry_name == REGISTRY_NAME,
            RegistryBatch.fingerprint == fingerprint,
            RegistryBatch.status.in_((BatchStatus.APPLIED.value, BatchStatus.PARTIAL.value)),
        )
        .order_by(RegistryBatch.id)
        .limit(1)
    ).first()


def _open_batch(
    db: Session, actor: Actor, source: str, name: str, fmt: str, fingerprint: str, mode: str
) -> RegistryBatch:
    batch = RegistryBatch(
        registry_name=REGISTRY_NAME,
        source_department=source,
        file_name=name[:500],
        file_format=fmt,
        fingerprint=fingerprint,
        mode=mode,
        status=BatchStatus.RUNNING.value,
        actor_username=actor.username,
        started_at=utcnow(),
    )
    db.add(batch)
    db.flush()
    return batch


def _close_batch(
    db: Session,
    actor: Actor,
    batch: RegistryBatch,
    result: IngestResult,
    status: BatchStatus,
    message: str,
    action: str,
) -> IngestResult:
    result.status = batch.status = status.value
    result.message = batch.message = message
    batch.rows_read = result.rows_read
    batch.rows_invalid = result.rows_invalid
    batch.rows_inserted, batch.rows_updated, batch.rows_unchanged = (
        result.inserted,
        result.updated,
        result.unchanged,
    )
    batch.error_file = result.error_file
    batch.finished_at = utcnow()
    db.flush()
    audit_record(
        db,
        actor=actor,
        action=action,
        target_type="registry_batch",
        target_id=batch.id,
        outcome="failure" if status is BatchStatus.REJECTED else "success",
        details={
            "registry": REGISTRY_NAME,
            "source": batch.source_department,
            "status": status.value,
            "rows_read": result.rows_read,
            "inserted": result.inserted,
            "updated": result.updated,
        },
    )
    return result


def _duplicate(earlier: RegistryBatch) -> IngestResult:
    return IngestResult(
        batch_id=earlier.id,
        status=earlier.status,
        duplicate_of=earlier.id,
        rows_read=earlier.rows_read,
        message=f"该批次与第 {earlier.id} 批完全相同，已入库，本次未做任何更改",
    )


@dataclass
class _Upsert:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def _upsert(
    db: Session,
    current_model: type[Division] | type[Address],
    version_model: type[DivisionVersion] | type[AddressVersion],
    key: str,
    fields: Sequence[str],
    records: Iterable[dict[str, Any]],
    batch: RegistryBatch,
    on_change: Callable[[dict[str, Any]], None] | None = None,
) -> _Upsert:
    """Insert or update current rows and write a version for every change (unchanged rows: nothing)."""
    now = utcnow()
    counts = _Upsert()
    rows = list(records)
    existing: dict[str, Any] = {}
    keys = [r[key] for r in rows]
    for start in range(0, len(keys), 500):
        for row in db.scalars(
            select(current_model).where(getattr(current_model, key).in_(keys[start : start + 500]))
        ):
            existing[getattr(row, key)] = row
    open_versions: dict[str, Any] = {}
    changed_keys = [
        k for k, r in zip(keys, rows, strict=True) if k in existing and existing[k].row_hash != r["row_hash"]
    ]
    for start in range(0, len(changed_keys), 500):
        part = changed_keys[start : start + 500]
        for version in db.scalars(
            select(version_model).where(
                getattr(version_model, key).in_(part), version_model.valid_to.is_(None)
            )
        ):
            open_versions[getattr(version, key)] = version
    provenance = {"batch_id": batch.id, "source_department": batch.source_department, "valid_from": now}
    for record in rows:
        values = {f: record[f] for f in fields} | {"row_hash": record["row_hash"]} | provenance
        current: Any = existing.get(record[key])
        if current is not None and current.row_hash == record["row_hash"]:
            counts.unchanged += 1
            continue
        if current is None:
            db.add(current_model(**{key: record[key]}, **values))
            counts.inserted += 1
        else:
            for name, value in values.items():
                setattr(current, name, value)
            if (old := open_versions.get(record[key])) is not None:
                old.valid_to = now
            counts.updated += 1
        db.add(version_model(**{key: record[key]}, **values))
        if on_change is not None:
            on_change(record)
    db.flush()
    return counts


# ---------------------------------------------------------------------------------------------- boundaries


def _division_record(feature: Any, index: int) -> dict[str, Any] | str:
    """The stored values of one GeoJSON feature, or the reason it is refused."""
    if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
        return "不是有效的 GeoJSON 要素（缺少 properties）"
    code = str(clean(str(feature["properties"].get("code", ""))) or "")
    if not (len(code) == 6 and code.isdigit()):
        return f"区划代码“{code}”应为 6 位数字"
    region = region_get(code)
    if region is None:
        return f"区划代码 {code} 不在 GB/T 2260 代码表中"
    try:
        geometry = parse_geometry(json.dumps(feature.get("geometry")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"{code} 的几何无法解析（{type(exc).__name__}）"
    if geometry.geom_type == "Polygon":
        geometry = shapely.MultiPolygon([geometry])
    if geometry.geom_type != "MultiPolygon" or geometry.is_empty:
        return f"{code} 的几何应为 Polygon 或 MultiPolygon"
    west, south, east, north = geometry.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        return f"{code} 的坐标超出经纬度范围"
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
        if geometry.geom_type != "MultiPolygon":
            geometry = shapely.MultiPolygon(
                [g for g in getattr(geometry, "geoms", [geometry]) if g.geom_type == "Polygon"]
            )
    text = json.dumps(mapping(geometry), separators=(",", ":"))
    name = str(feature["properties"].get("name") or region.name)
    values = [name, region.level, region.parent, west, south, east, north, text]
    record = dict(zip(DIVISION_FIELDS, values, strict=True)) | {"code": code}
    record["row_hash"] = row_hash(values)
    return record


def boundaries_load(
    db: Session,
    *,
    actor: Actor,
    source: str,
    path: Path | str | None = None,
    province: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Load division boundaries from a GeoJSON FeatureCollection (default: the vendored demo file).

    ``province`` keeps only the features of that province (its two-digit prefix). Any refused
    feature rejects the whole file; the result lists the reasons.
    """
    department = _department(db, source)
    require_department_admin(actor, department.id)
    file_path = Path(path) if path is not None else demo_boundaries_path()
    if not file_path.is_file():
        raise NotFound(
            f"文件“{file_path}”不存在",
            message_en=f"no such file: {file_path}",
            code="registries.file.missing",
            field="path",
        )
    data = file_path.read_bytes()
    prefix = (province or "")[:2]
    fingerprint = _fingerprint(data + prefix.encode(), source)
    if (earlier := _previous(db, fingerprint)) is not None:
        return _duplicate(earlier)
    batch = _open_batch(db, actor, source, file_path.name, "geojson", fingerprint, "atomic")
    result = IngestResult(batch_id=batch.id, status=BatchStatus.RUNNING.value)
    try:
        collection = json.loads(data.decode("utf-8-sig"))
        features = collection["features"]
        if not isinstance(features, list):
            raise TypeError("features")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        message = f"不是有效的 GeoJSON FeatureCollection（{type(exc).__name__}），未写入任何数据"
        return _close_batch(
            db, actor, batch, result, BatchStatus.REJECTED, message, "registries.geo.boundaries"
        )
    records: list[dict[str, Any]] = []
    for number, feature in enumerate(features, start=1):
        code = (
            str(((feature or {}).get("properties") or {}).get("code", ""))
            if isinstance(feature, dict)
            else ""
        )
        if prefix and not code.startswith(prefix):
            continue
        result.rows_read += 1
        record = _division_record(feature, number)
        if isinstance(record, str):
            result.errors.append(RowError(number, "feature", record))
        else:
            records.append(record)
        if progress is not None:
            progress(result.rows_read)
    result.error_count = len(result.errors)
    result.rows_invalid = len(result.errors)
    if result.errors:
        message = f"{len(result.errors)} 个要素有错误，整批拒绝，未写入任何数据"
        result.errors = result.errors[:ERRORS_SHOWN]
        return _close_batch(
            db, actor, batch, result, BatchStatus.REJECTED, message, "registries.geo.boundaries"
        )
    counts = _upsert(db, Division, DivisionVersion, "code", DIVISION_FIELDS, records, batch)
    result.inserted, result.updated, result.unchanged = counts.inserted, counts.updated, counts.unchanged
    message = f"新增 {counts.inserted} 个区划，更新 {counts.updated} 个，未变化 {counts.unchanged} 个"
    return _close_batch(db, actor, batch, result, BatchStatus.APPLIED, message, "registries.geo.boundaries")


# ----------------------------------------------------------------------------------------------- addresses


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        number = float(str(value))
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class _Checker:
    """Validates address rows against the kernel's region table and the loaded boundaries."""

    def __init__(self, db: Session, default_crs: str) -> None:
        self.default_crs = default_crs
        rows = db.execute(select(Division.code, Division.geometry).where(Division.level == "county")).all()
        self.shapes = {code: parse_geometry(text) for code, text in rows if text}
        for geometry in self.shapes.values():
            shapely.prepare(geometry)
        self.seen: set[str] = set()

    def check(self, row: dict[str, Any]) -> dict[str, Any] | list[Problem]:
        problems: list[Problem] = []
        code = str(clean(str(row.get("address_code") or "")) or "").upper()
        region_code = str(clean(str(row.get("region_code") or "")) or "")
        region = region_get(region_code) if len(region_code) == 6 and region_code.isdigit() else None
        if region is None:
            problems.append(("region_code", f"“{region_code}”不是有效的行政区划代码"))
        elif region.level != "county" or not region.current:
            problems.append(("region_code", f"{region_code} 不是现行县级行政区划"))
        if not _ADDRESS_CODE.match(code):
            problems.append(("address_code", "地址编码应为 6 至 32 位数字或大写字母"))
        elif code[:6] != region_code:
            problems.append(("address_code", "地址编码的前 6 位应为所在县级区划代码"))
        elif code in self.seen:
            problems.append(("address_code", f"地址编码 {code} 在本批次中重复"))
        address = clean(row.get("address"))
        if not address or len(str(address)) > 300:
            problems.append(("address", "地址不能为空，且不超过 300 字"))
        texts = {}
        for name, limit in (("road", 100), ("house_number", 40), ("building", 100)):
            value = clean(row.get(name))
            if value is not None and len(str(value)) > limit:
                problems.append((name, f"超过 {limit} 字"))
            texts[name] = None if value is None else str(value)
        crs = str(clean(row.get("crs")) or self.default_crs).lower()
        if crs not in {c.value for c in CoordinateSystem}:
            problems.append(("crs", f"未知坐标系“{crs}”，应为 wgs84、cgcs2000、gcj02 或 bd09"))
        lon, lat = _number(clean(row.get("lon"))), _number(clean(row.get("lat")))
        if lon is None or not -180 <= lon <= 180:
            problems.append(("lon", "经度应为 -180 至 180 之间的数字"))
        if lat is None or not -90 <= lat <= 90:
            problems.append(("lat", "纬度应为 -90 至 90 之间的数字"))
        if problems or lon is None or lat is None:
            return problems
        x, y = convert(lon, lat, source=crs, target=CoordinateSystem.WGS84)
        lon, lat = round(float(x), 7), round(float(y), 7)
        if not bool(in_china_box(lon, lat)):
            return [("lon", "坐标不在中国境内")]
        shape = self.shapes.get(region_code)
        if shape is not None and not shapely.dwithin(shape, shapely.Point(lon, lat), EDGE_TOLERANCE):
            return [("lon", f"坐标不在 {region_code} 的边界内")]
        self.seen.add(code)
        values = [
            region_code,
            str(address),
            texts["road"],
            texts["house_number"],
            texts["building"],
            lon,
            lat,
        ]
        record = dict(zip(ADDRESS_FIELDS, values, strict=True)) | {"address_code": code}
        record["row_hash"] = row_hash(values)
        return record


def _write_errors(path: Path, errors: list[RowError]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        fh.write("行号,列,原因\r\n")
        for e in sorted(errors, key=lambda e: e.row):
            fh.write(f'{e.row},{e.column},"{e.reason.replace(chr(34), chr(34) * 2)}"\r\n')


def addresses_ingest(
    db: Session,
    *,
    actor: Actor,
    source: str,
    path: Path | str,
    mode: Mode = "atomic",
    error_dir: Path,
    crs: str = CoordinateSystem.WGS84.value,
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Ingest standard addresses from a CSV, Excel or Parquet file as one batch.

    Columns: ``address_code, region_code, address, lon, lat`` and optionally ``road, house_number,
    building, crs`` (Chinese headers accepted). Coordinates given in GCJ-02 or BD-09 (per row, or for
    the file with ``crs``) are stored converted to WGS-84 / CGCS2000. A point must lie within its
    county's loaded boundary (200 m tolerance) or, without one, in China.
    """
    if mode not in ("atomic", "partial"):
        raise ValidationError(
            f"未知的入库方式“{mode}”，应为 atomic 或 partial",
            message_en=f"unknown mode '{mode}'",
            code="registries.mode",
            field="mode",
        )
    if crs not in {c.value for c in CoordinateSystem}:
        raise ValidationError(
            f"未知坐标系“{crs}”",
            message_en=f"unknown coordinate system '{crs}'",
            code="registries.geo.crs",
            field="crs",
        )
    department = _department(db, source)
    require_department_admin(actor, department.id)
    file_path = Path(path)
    if not file_path.is_file():
        raise NotFound(
            f"文件“{file_path}”不存在",
            message_en=f"no such file: {file_path}",
            code="registries.file.missing",
            field="path",
        )
    file_format = readers.format_of(file_path)
    fingerprint = readers.fingerprint_file(file_path, source + "\x00geo-addresses\x00" + crs)
    if (earlier := _previous(db, fingerprint)) is not None:
        return _duplicate(earlier)
    batch = _open_batch(db, actor, source, file_path.name, file_format, fingerprint, mode)
    result = IngestResult(batch_id=batch.id, status=BatchStatus.RUNNING.value)
    errors: list[RowError] = []
    bad_rows: set[int] = set()
    records: list[dict[str, Any]] = []
    checker = _Checker(db, crs)
    try:
        opener = {"csv": readers.read_csv, "xlsx": readers.read_xlsx, "parquet": readers.read_parquet}
        delivery = opener[file_format](file_path)
        result.notes = delivery.notes
        columns = map_header(delivery.columns, ADDRESS_SPEC)
        for number, values in delivery.rows:
            result.rows_read += 1
            if len(values) > len(columns) and any(v not in (None, "") for v in values[len(columns) :]):
                errors.append(RowError(number, "*", f"该行有 {len(values)} 列，多于表头的 {len(columns)} 列"))
                bad_rows.add(number)
                continue
            checked = checker.check(dict(zip(columns, values, strict=False)))
            if isinstance(checked, list):
                errors.extend(RowError(number, column, reason) for column, reason in checked)
                bad_rows.add(number)
            else:
                records.append(checked)
            if progress is not None and result.rows_read % 1000 == 0:
                progress(result.rows_read)
    except ValidationError as exc:
        return _close_batch(
            db, actor, batch, result, BatchStatus.REJECTED, exc.message, "registries.geo.addresses"
        )
    result.rows_invalid = len(bad_rows)
    result.error_count = len(errors)
    if errors:
        target = error_dir / f"{REGISTRY_NAME}-batch-{batch.id}-errors.csv"
        _write_errors(target, errors)
        result.error_file = str(target)
        result.errors = errors[:ERRORS_SHOWN]
        if mode == "atomic":
            message = f"{len(bad_rows)} 行有错误，按“全部或全不”方式整批拒绝，未写入任何数据"
            return _close_batch(
                db, actor, batch, result, BatchStatus.REJECTED, message, "registries.geo.addresses"
            )
    counts = _apply_addresses(db, records, batch)
    result.inserted, result.updated, result.unchanged = counts.inserted, counts.updated, counts.unchanged
    status = BatchStatus.PARTIAL if errors else BatchStatus.APPLIED
    message = f"新增 {counts.inserted} 条，更新 {counts.updated} 条，未变化 {counts.unchanged} 条" + (
        f"；{len(bad_rows)} 行有错误未入库，见错误文件" if errors else ""
    )
    return _close_batch(db, actor, batch, result, status, message, "registries.geo.addresses")


def _apply_addresses(db: Session, records: list[dict[str, Any]], batch: RegistryBatch) -> _Upsert:
    changed: list[dict[str, Any]] = []
    counts = _upsert(
        db, Address, AddressVersion, "address_code", ADDRESS_FIELDS, records, batch, changed.append
    )
    codes = [r["address_code"] for r in changed]
    for start in range(0, len(codes), 500):
        db.execute(delete(AddressToken).where(AddressToken.address_code.in_(codes[start : start + 500])))
    tokens = [
        {"token": token, "address_code": r["address_code"]}
        for r in changed
        for token in bigrams(r["address"])
    ]
    for start in range(0, len(tokens), 5000):
        db.execute(insert(AddressToken), tokens[start : start + 5000])
    db.flush()
    return counts
