"""``zhengwu registries geo ...``: load boundaries and addresses, reverse-geocode, convert coordinates.

Like ``zhengwu registries ingest``, the CLI acts as the platform itself; batches and the audit trail
name it. Error files go to ``<data_dir>/registries/errors``, where the pages find them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from zhengwu.accounts.permissions import Actor
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state
from zhengwu.registries.geospatial.coords import CoordinateSystem, convert
from zhengwu.registries.geospatial.ingest import addresses_ingest, boundaries_load
from zhengwu.registries.geospatial.services import check_coordinates, reverse_geocode
from zhengwu.registries.ingest import IngestResult
from zhengwu.registries.models import BATCH_STATUS_ZH, BatchStatus

SYSTEMS = click.Choice([c.value for c in CoordinateSystem])


@click.group("geo")
def geo_group() -> None:
    """地理空间基础库 (geospatial registry: boundaries, addresses, reverse geocoding)."""


def _report(result: IngestResult, as_json: bool) -> None:
    if as_json:
        echo_json(result.to_dict())
    else:
        label = BATCH_STATUS_ZH.get(BatchStatus(result.status), result.status)
        click.echo(f"批次 #{result.batch_id}：{label}。{result.message or ''}")
        for note in result.notes:
            click.echo(f"提示：{note}")
        for error in result.errors[:20]:
            click.echo(f"  第 {error.row} 行 [{error.column}]：{error.reason}", err=True)
        if result.error_count > 20:
            click.echo(f"  ……共 {result.error_count} 处错误", err=True)
        if result.error_file:
            click.echo(f"错误文件：{result.error_file}")
    if result.status == BatchStatus.REJECTED.value:
        sys.exit(1)


@geo_group.command("load-boundaries")
@click.argument("file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--source", required=True, help="Code of the delivering department.")
@click.option("--province", help="Keep only this province (GB/T 2260 code).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_state
@handle_errors
def load_boundaries_command(
    state: CliState, file: Path | None, source: str, province: str | None, as_json: bool
) -> None:
    """Load division boundaries from a GeoJSON FILE (CGCS2000; default: the vendored demo province)."""
    database = state.database(migrate=True)
    with database.session() as db:
        result = boundaries_load(db, actor=Actor.system("cli"), source=source, path=file, province=province)
    _report(result, as_json)


@geo_group.command("ingest-addresses")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--source", required=True, help="Code of the delivering department.")
@click.option("--partial", is_flag=True, help="Apply valid rows, list the others in the error file.")
@click.option(
    "--crs", type=SYSTEMS, default="wgs84", show_default=True, help="System of the file's coordinates."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@pass_state
@handle_errors
def ingest_addresses_command(
    state: CliState, file: Path, source: str, partial: bool, crs: str, as_json: bool, no_progress: bool
) -> None:
    """Ingest standard addresses from FILE (CSV, Excel .xlsx or Parquet) as one batch."""
    database = state.database(migrate=True)
    bar = tqdm(unit="rows", unit_scale=True, file=sys.stderr, disable=no_progress, desc="地址入库")
    seen = 0

    def progress(rows: int) -> None:
        nonlocal seen
        bar.update(rows - seen)
        seen = rows

    try:
        with database.session() as db:
            result = addresses_ingest(
                db,
                actor=Actor.system("cli"),
                source=source,
                path=file,
                mode="partial" if partial else "atomic",
                error_dir=state.settings().data_dir / "registries" / "errors",
                crs=crs,
                progress=progress,
            )
    finally:
        bar.close()
    _report(result, as_json)


@geo_group.command("reverse")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option("--crs", type=SYSTEMS, default="wgs84", show_default=True)
@pass_state
@handle_errors
def reverse_command(state: CliState, lon: float, lat: float, crs: str) -> None:
    """County and nearest standard address of the point LON LAT (JSON)."""
    database = state.database(migrate=True)
    with database.session() as db:
        result = reverse_geocode(db, actor=Actor.system("cli"), lon=lon, lat=lat, crs=crs)
    echo_json(result.model_dump(mode="json"))


@geo_group.command("convert")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option("--from", "source", type=SYSTEMS, required=True)
@click.option("--to", "target", type=SYSTEMS, required=True)
@handle_errors
def convert_command(lon: float, lat: float, source: str, target: str) -> None:
    """Convert LON LAT between WGS-84/CGCS2000, GCJ-02 and BD-09 (prints "lon lat")."""
    check_coordinates([lon], [lat], source)
    x, y = convert(np.array([lon]), np.array([lat]), source=source, target=target)
    click.echo(f"{float(x[0]):.9f} {float(y[0]):.9f}")
