"""Pages of the geospatial registry under /registries/geospatial (Simplified Chinese).

A division tree with address search, a division page with a map-free boundary preview (inline SVG
drawn from the stored GeoJSON) and its provenance, an address page with its versions, and a
reverse-geocoding form. No web map: nothing is fetched from a tile server.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from shapely.geometry import shape

from zhengwu.registries.geospatial.coords import CoordinateSystem
from zhengwu.registries.geospatial.models import DIVISION_LEVELS, REGISTRY_NAME
from zhengwu.registries.geospatial.services import (
    address_get,
    address_history,
    address_search,
    division_boundary,
    division_get,
    division_history,
    division_tree,
    geospatial_quality,
    reverse_geocode,
)
from zhengwu.registries.models import BATCH_STATUS_ZH, BatchStatus, RegistryBatch
from zhengwu.web.deps import DbSession, SignedInActor
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [NavItem("地理空间", "/registries/geospatial", order=51, signed_in=True)]
SVG_SIZE = 480


def boundary_svg(geometry: dict[str, Any], *, size: int = SVG_SIZE) -> dict[str, Any]:
    """An SVG path of a GeoJSON (multi)polygon, in a local equirectangular projection, north up."""
    geom = shape(geometry)
    west, south, east, north = geom.bounds
    k = math.cos(math.radians((south + north) / 2))
    width, height = max((east - west) * k, 1e-9), max(north - south, 1e-9)
    scale = size / max(width, height)
    geom = geom.simplify(max(width, height) / 800)
    parts: list[str] = []
    polygons = getattr(geom, "geoms", [geom])
    for polygon in polygons:
        for ring in [polygon.exterior, *polygon.interiors]:
            points = [f"{(x - west) * k * scale:.1f},{(north - y) * scale:.1f}" for x, y in ring.coords]
            parts.append("M" + "L".join(points) + "Z")
    return {"path": "".join(parts), "width": round(width * scale, 1), "height": round(height * scale, 1)}


@router.get("/registries/geospatial", response_class=HTMLResponse)
def geo_home(
    request: Request, db: DbSession, actor: SignedInActor, q: str = "", region: str = ""
) -> Response:
    hits = address_search(db, actor=actor, query=q, region=region.strip() or None) if q.strip() else None
    batches = (
        db.query(RegistryBatch)
        .filter(RegistryBatch.registry_name == REGISTRY_NAME)
        .order_by(RegistryBatch.id.desc())
        .limit(20)
        .all()
    )
    return render(
        request,
        "geospatial/home.html",
        {
            "title": "自然资源和地理空间基础库",
            "tree": division_tree(db, actor=actor),
            "levels": DIVISION_LEVELS,
            "hits": hits,
            "q": q,
            "region": region,
            "batches": batches,
            "quality": geospatial_quality(db, actor=actor),
            "field_labels": {"road": "道路", "house_number": "门牌号", "building": "建筑物"},
            "status_zh": {s.value: label for s, label in BATCH_STATUS_ZH.items()},
            "rejected": BatchStatus.REJECTED.value,
        },
    )


@router.get("/registries/geospatial/reverse", response_class=HTMLResponse)
def geo_reverse(
    request: Request, db: DbSession, actor: SignedInActor, lon: str = "", lat: str = "", crs: str = "wgs84"
) -> Response:
    result = None
    if lon.strip() and lat.strip():
        try:
            x, y = float(lon), float(lat)
        except ValueError:
            x, y = math.nan, math.nan
        result = reverse_geocode(db, actor=actor, lon=x, lat=y, crs=crs)
    return render(
        request,
        "geospatial/reverse.html",
        {
            "title": "逆地理编码",
            "result": result,
            "lon": lon,
            "lat": lat,
            "crs": crs,
            "systems": list(CoordinateSystem),
        },
    )


@router.get("/registries/geospatial/divisions/{code}", response_class=HTMLResponse)
def geo_division(request: Request, code: str, db: DbSession, actor: SignedInActor) -> Response:
    division = division_get(db, actor=actor, code=code)
    svg = (
        boundary_svg(division_boundary(db, actor=actor, code=code)["geometry"])
        if division.has_boundary
        else None
    )
    return render(
        request,
        "geospatial/division.html",
        {
            "title": division.name,
            "division": division,
            "svg": svg,
            "levels": DIVISION_LEVELS,
            "history": division_history(db, actor=actor, code=code),
        },
    )


@router.get("/registries/geospatial/addresses/{address_code}", response_class=HTMLResponse)
def geo_address(request: Request, address_code: str, db: DbSession, actor: SignedInActor) -> Response:
    address = address_get(db, actor=actor, address_code=address_code)
    history = address_history(db, actor=actor, address_code=address_code)
    return render(
        request,
        "geospatial/address.html",
        {"title": address.address, "address": address, "history": history, "as_json": json.dumps},
    )
