"""The geospatial part of the demo: boundaries of the demo province and synthetic standard addresses.

Delivered as 自然资源厅 (``<province>-ZRZY``) would: the vendored boundaries through
:func:`~zhengwu.registries.geospatial.ingest.boundaries_load`, then a CSV of synthetic addresses
through :func:`~zhengwu.registries.geospatial.ingest.addresses_ingest`: the real ingestion path.
Boundaries are vendored for 浙江省 (330000) only; another province gets no geospatial data.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.registries.geospatial.ingest import addresses_ingest, boundaries_load
from zhengwu.registries.geospatial.models import Division
from zhengwu.registries.geospatial.spatial import DivisionShape
from zhengwu.registries.geospatial.synthetic import generate_addresses

DEMO_ADDRESSES_PER_COUNTY: Final = 40
ADDRESS_COLUMNS: Final = (
    "address_code",
    "region_code",
    "address",
    "road",
    "house_number",
    "building",
    "lon",
    "lat",
)


def write_addresses_csv(db: Session, path: Path, *, province_code: str, per_county: int, seed: int) -> int:
    """Write synthetic addresses inside the loaded counties of a province to ``path``; returns the rows."""
    rows = db.execute(
        select(Division.code, Division.geometry).where(
            Division.level == "county", Division.code.startswith(province_code[:2])
        )
    ).all()
    shapes = [DivisionShape(code, geometry) for code, geometry in rows if geometry]
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(ADDRESS_COLUMNS)
        for address in generate_addresses(shapes, per_county=per_county, seed=seed):
            writer.writerow(
                ["" if getattr(address, c) is None else getattr(address, c) for c in ADDRESS_COLUMNS]
            )
            count += 1
    return count


def geospatial_demo_seed(
    db: Session,
    *,
    province_code: str,
    seed: int,
    work_dir: Path | None = None,
    per_county: int = DEMO_ADDRESSES_PER_COUNTY,
    source: str | None = None,
) -> dict[str, int]:
    """Load the demo province's boundaries and synthetic addresses; returns the rows inserted.

    ``source`` is the delivering department's code (default: the demo's 自然资源厅, ``<province>-ZRZY``).
    """
    actor = Actor.system("demo-seed")
    source = source or f"{province_code}-ZRZY"
    divisions = boundaries_load(db, actor=actor, source=source, province=province_code)
    with tempfile.TemporaryDirectory(prefix="zhengwu-geo-") as tmp:
        base = work_dir or Path(tmp)
        path = base / "demo-addresses.csv"
        write_addresses_csv(db, path, province_code=province_code, per_county=per_county, seed=seed)
        addresses = addresses_ingest(db, actor=actor, source=source, path=path, error_dir=base / "errors")
    return {"registry_geo_divisions": divisions.inserted, "registry_geo_addresses": addresses.inserted}
