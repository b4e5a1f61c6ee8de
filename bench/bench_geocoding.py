"""Reverse geocoding in batch: points per second, against baselines measured in the same run.

Loads the vendored demo boundaries (浙江省, 90 counties, WGS-84 / CGCS2000) and synthetic standard
addresses into a fresh SQLite database through the real ingestion path, draws random points in the
province's bounding box (about half fall inside a county, the rest in the sea or neighbouring
provinces), and times:

* ``DivisionIndex.locate``: the vectorised STRtree + prepared-polygon query (point → county);
* baseline 1, a Python loop calling the same STRtree once per point (what a naive service does);
* baseline 2, a Python loop testing each point against every prepared county polygon (no index),
  on a smaller sample;
* geopandas ``sjoin`` when geopandas is installed (it is not a dependency);
* ``AddressIndex.nearest`` (point → nearest standard address within 500 m);
* ``reverse_geocode_columns``: the whole use case (coordinate check, conversion, county, nearest
  address) with arrays in and columns out;
* ``reverse_geocode_batch``: the same with one result per point, as the API serialises it;
* ``gcj02_to_wgs84`` (iterative inverse) on the same points.

    .venv/bin/python bench/bench_geocoding.py                 # 200,000 points
    .venv/bin/python bench/bench_geocoding.py --points 50000  # quick look

Keep runs short: the machine's two cores are shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from zhengwu.accounts.models import Department, DepartmentLevel
from zhengwu.accounts.permissions import Actor
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.registries.geospatial.coords import gcj02_to_wgs84, wgs84_to_gcj02
from zhengwu.registries.geospatial.schemas import PointIn
from zhengwu.registries.geospatial.seed import geospatial_demo_seed
from zhengwu.registries.geospatial.services import (
    _address_index,
    division_index,
    reverse_geocode_batch,
    reverse_geocode_columns,
)

TARGET = 100_000.0
BBOX = (118.0, 27.0, 123.2, 31.2)  # around 浙江省


def _rate(label: str, count: int, fn: Callable[[], Any], *, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    rate = count / best
    print(f"{label:<58} {count:>9,} pts  {best * 1000:>9.1f} ms  {rate:>12,.0f} pts/s")
    return rate


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--per-county", type=int, default=200, help="synthetic addresses per county")
    args = parser.parse_args()
    print(
        f"# {dt.date.today()} Python {platform.python_version()}, shapely {shapely.__version__}, "
        f"numpy {np.__version__}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}"))
        upgrade(database.engine)
        with database.session() as db:
            db.add(
                Department(
                    code="ZRZY", name="省自然资源厅", level=DepartmentLevel.PROVINCIAL, region_code="330000"
                )
            )
            db.flush()
            start = time.perf_counter()
            counts = geospatial_demo_seed(
                db,
                province_code="330000",
                seed=1,
                work_dir=Path(tmp),
                per_county=args.per_county,
                source="ZRZY",
            )
            print(f"loaded {counts} in {time.perf_counter() - start:.1f} s")
            index = division_index(db)
            actor = Actor.system("bench")
            addresses, _ = _address_index(db)
            rng = np.random.default_rng(42)
            lon = rng.uniform(BBOX[0], BBOX[2], args.points)
            lat = rng.uniform(BBOX[1], BBOX[3], args.points)
            found = index.locate(lon, lat)
            print(f"points in a county: {(found >= 0).mean():.1%}")

            exact = _rate(
                "DivisionIndex.locate, exact (vectorised STRtree, prepared)",
                args.points,
                lambda: index.locate(lon, lat),
            )
            start = time.perf_counter()
            index.build_grid()
            print(f"lattice built in {time.perf_counter() - start:.2f} s (once per index)")
            vectorised = _rate(
                "DivisionIndex.locate with the lattice (as batches ≥ 5,000 use)",
                args.points,
                lambda: index.locate(lon, lat),
            )
            loop_n = min(args.points, 20_000)
            pts = shapely.points(lon[:loop_n], lat[:loop_n])

            def per_point() -> None:
                for p in pts:
                    index.tree.query(p, predicate="intersects")

            looped = _rate("baseline: Python loop, one STRtree query per point", loop_n, per_point, repeat=1)
            naive_n = min(args.points, 2_000)
            geoms = list(index.geometries)

            def naive() -> None:
                for p in pts[:naive_n]:
                    for g in geoms:
                        if g.contains(p):
                            break

            naive_rate = _rate("baseline: Python loop over every prepared polygon", naive_n, naive, repeat=1)
            try:
                import geopandas  # optional, only for the comparison

                counties = geopandas.GeoDataFrame(
                    {"code": index.codes}, geometry=list(index.geometries), crs=4326
                )
                frame = geopandas.GeoDataFrame(geometry=geopandas.points_from_xy(lon, lat), crs=4326)
                _rate(
                    "geopandas sjoin (predicate=within)",
                    args.points,
                    lambda: geopandas.sjoin(frame, counties, predicate="within"),
                )
            except ImportError:
                print("geopandas sjoin: not installed (not a dependency), skipped")
            _rate(
                "AddressIndex.nearest (≤ 500 m)",
                args.points,
                lambda: addresses.nearest(lon, lat, max_distance_m=500.0),
            )
            gx, gy = wgs84_to_gcj02(lon, lat)
            _rate(
                "gcj02_to_wgs84 (iterative inverse, vectorised)", args.points, lambda: gcj02_to_wgs84(gx, gy)
            )
            column_n = min(args.points, 100_000)
            _rate(
                "reverse_geocode_columns (use case, arrays in, columns out)",
                column_n,
                lambda: reverse_geocode_columns(db, actor=actor, lon=lon[:column_n], lat=lat[:column_n]),
            )
            service_n = min(args.points, 50_000)
            points = [
                PointIn(lon=float(x), lat=float(y))
                for x, y in zip(lon[:service_n], lat[:service_n], strict=True)
            ]
            _rate(
                "reverse_geocode_batch (whole use case, county only)",
                service_n,
                lambda: reverse_geocode_batch(db, actor=actor, points=points, nearest_address=False),
                repeat=1,
            )
            _rate(
                "reverse_geocode_batch (whole use case, + nearest address)",
                service_n,
                lambda: reverse_geocode_batch(db, actor=actor, points=points),
                repeat=1,
            )
            db.rollback()
        database.dispose()
    print(
        f"\nvectorised point → county: {vectorised:,.0f} pts/s "
        f"({'meets' if vectorised >= TARGET else 'MISSES'} the {TARGET:,.0f} target); "
        f"{vectorised / exact:.1f}× the exact vectorised query, "
        f"{vectorised / looped:.0f}× the per-point loop, "
        f"{vectorised / naive_rate:.0f}× the unindexed loop"
    )


if __name__ == "__main__":
    main()
