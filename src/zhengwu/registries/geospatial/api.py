"""JSON API of the geospatial registry under /api/v1/registries/geospatial.

Divisions (tree, one division, its boundary as GeoJSON), standard addresses (lookup, history, search
in Chinese), reverse geocoding (one point by GET, a batch by POST) and coordinate conversion.
Malformed codes and coordinates answer 400 with the field and the reason; unknown codes 404.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from zhengwu.registries.geospatial.coords import CoordinateSystem
from zhengwu.registries.geospatial.schemas import (
    AddressHit,
    AddressOut,
    ConvertIn,
    ConvertOut,
    DivisionNode,
    DivisionOut,
    DivisionVersionOut,
    ReverseIn,
    ReverseOut,
)
from zhengwu.registries.geospatial.services import (
    address_get,
    address_history,
    address_search,
    coordinates_convert,
    division_boundary,
    division_get,
    division_history,
    division_tree,
    geospatial_quality,
    reverse_geocode,
    reverse_geocode_batch,
)
from zhengwu.registries.schemas import QualityReport
from zhengwu.registries.services import parse_as_of
from zhengwu.web.deps import CurrentActor, DbSession

router = APIRouter(prefix="/api/v1/registries/geospatial", tags=["registries-geospatial"])


@router.get("/divisions", summary="行政区划树（可指定根节点 root）")
def api_division_tree(db: DbSession, actor: CurrentActor, root: str | None = None) -> list[DivisionNode]:
    return division_tree(db, actor=actor, root=root)


@router.get("/divisions/{code}", summary="一个行政区划：上级路径、下级、范围与来源")
def api_division_get(code: str, db: DbSession, actor: CurrentActor) -> DivisionOut:
    return division_get(db, actor=actor, code=code)


@router.get("/divisions/{code}/history", summary="行政区划的历史版本与来源")
def api_division_history(code: str, db: DbSession, actor: CurrentActor) -> list[DivisionVersionOut]:
    return division_history(db, actor=actor, code=code)


@router.get("/divisions/{code}/boundary", summary="行政区划边界（GeoJSON，CGCS2000）")
def api_division_boundary(code: str, db: DbSession, actor: CurrentActor) -> JSONResponse:
    body: dict[str, Any] = division_boundary(db, actor=actor, code=code)
    return JSONResponse(body, media_type="application/geo+json")


@router.get("/addresses", summary="地址检索（中文，按相关度排序）")
def api_address_search(
    db: DbSession, actor: CurrentActor, q: str = "", region: str | None = None, limit: int = 20
) -> list[AddressHit]:
    return address_search(db, actor=actor, query=q, region=region, limit=limit)


@router.get("/addresses/{address_code}", summary="按地址编码查询标准地址（可指定时点 as_of）")
def api_address_get(
    address_code: str, db: DbSession, actor: CurrentActor, as_of: str | None = None
) -> AddressOut:
    return address_get(db, actor=actor, address_code=address_code, as_of=parse_as_of(as_of))


@router.get("/addresses/{address_code}/history", summary="标准地址的历史版本与来源")
def api_address_history(address_code: str, db: DbSession, actor: CurrentActor) -> list[AddressOut]:
    return address_history(db, actor=actor, address_code=address_code)


@router.get("/reverse", summary="逆地理编码：坐标 → 县级区划与最近标准地址")
def api_reverse(
    lon: float,
    lat: float,
    db: DbSession,
    actor: CurrentActor,
    crs: CoordinateSystem = CoordinateSystem.WGS84,
    max_distance_m: float = 500.0,
) -> ReverseOut:
    return reverse_geocode(db, actor=actor, lon=lon, lat=lat, crs=crs, max_distance_m=max_distance_m)


@router.post(
    "/reverse",
    summary="批量逆地理编码（一次最多 100000 个点）",
    response_model=list[ReverseOut],  # documents the answer; the body is written directly (below)
)
def api_reverse_batch(body: ReverseIn, db: DbSession, actor: CurrentActor) -> Response:
    hits = reverse_geocode_batch(
        db,
        actor=actor,
        points=body.points,
        crs=body.crs,
        nearest_address=body.nearest_address,
        max_distance_m=body.max_distance_m,
    )
    # Serialised once, without re-validating every answer against the response model.
    text = json.dumps([h.to_dict() for h in hits], ensure_ascii=False, separators=(",", ":"))
    return Response(text, media_type="application/json")


@router.get("/quality", summary="标准地址数据质量报告")
def api_quality(db: DbSession, actor: CurrentActor, stale_days: int = 365) -> QualityReport:
    return geospatial_quality(db, actor=actor, stale_days=stale_days)


@router.post("/convert", summary="坐标转换：WGS-84/CGCS2000 ↔ GCJ-02 ↔ BD-09")
def api_convert(body: ConvertIn, actor: CurrentActor) -> ConvertOut:
    return coordinates_convert(actor=actor, points=body.points, source=body.source, target=body.target)
