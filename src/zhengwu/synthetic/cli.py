"""``zhengwu seed persons`` and ``zhengwu seed entities``: write synthetic data files.

The commands are attached to the ``seed`` group by :mod:`zhengwu.demo.cli`; they need no database.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pyarrow as pa

from zhengwu.cli_support import handle_errors
from zhengwu.synthetic.entities import ENTITY_SCHEMA, generate_entities
from zhengwu.synthetic.persons import DEFAULT_AS_OF, PERSON_SCHEMA, generate_persons
from zhengwu.synthetic.writers import FORMATS, infer_format, write_batches

__all__ = ["entities_command", "persons_command"]


def _common_options(func: Callable[..., None]) -> Callable[..., None]:
    options = [
        click.option(
            "--count", type=click.IntRange(min=0), default=10_000, show_default=True, help="Number of rows."
        ),
        click.option(
            "--out",
            "out",
            type=click.Path(dir_okay=False, path_type=Path),
            required=True,
            help="Output file (.csv or .parquet).",
        ),
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            default=None,
            help="File format (default: from the suffix of --out).",
        ),
        click.option(
            "--province", default="330000", show_default=True, help="GB/T 2260 code of the province."
        ),
        click.option(
            "--seed",
            "seed",
            type=click.IntRange(min=0, max=2**63 - 1),
            default=2026,
            show_default=True,
            help="Random seed; the same seed writes the same bytes.",
        ),
        click.option(
            "--as-of",
            "as_of",
            type=click.DateTime(formats=["%Y-%m-%d"]),
            default=DEFAULT_AS_OF.isoformat(),
            show_default=True,
            help="Reference date that ages and dates are counted back from.",
        ),
        click.option(
            "--chunk-size",
            type=click.IntRange(min=1),
            default=100_000,
            show_default=True,
            help="Rows generated and written at a time (memory use, not output).",
        ),
        click.option(
            "--bom/--no-bom",
            default=False,
            show_default=True,
            help="Start a CSV with the UTF-8 byte order mark (for Excel).",
        ),
        click.option(
            "--progress/--no-progress", default=True, show_default=True, help="Show a progress bar on stderr."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run(
    what: str,
    batches: Iterator[pa.RecordBatch],
    schema: pa.Schema,
    *,
    out: Path,
    fmt: str | None,
    count: int,
    bom: bool,
    progress: bool,
) -> None:
    kind = infer_format(out, fmt)
    started = time.perf_counter()
    rows = write_batches(
        batches,
        out,
        fmt=kind,
        schema=schema,
        bom=bom,
        progress_total=count,
        progress=progress,
        description=what,
    )
    seconds = time.perf_counter() - started
    rate = rows / seconds if seconds > 0 else float("inf")
    click.echo(f"{what}: 已写入 {rows} 行 → {out}（{kind}），用时 {seconds:.2f} 秒，{rate:,.0f} 行/秒")
    click.echo(f"{what}: wrote {rows} rows to {out} ({kind}) in {seconds:.2f} s, {rate:,.0f} rows/s")


def _date(value: dt.datetime) -> dt.date:
    return value.date()


@click.command("persons")
@_common_options
@handle_errors
def persons_command(
    count: int,
    out: Path,
    fmt: str | None,
    province: str,
    seed: int,
    as_of: dt.datetime,
    chunk_size: int,
    bom: bool,
    progress: bool,
) -> None:
    """Write synthetic persons (valid, unique resident IDs) of a province to CSV or Parquet."""
    batches = generate_persons(
        count=count, province_code=province, seed=seed, as_of=_date(as_of), chunk_size=chunk_size
    )
    _run("persons", batches, PERSON_SCHEMA, out=out, fmt=fmt, count=count, bom=bom, progress=progress)


@click.command("entities")
@_common_options
@click.option(
    "--persons",
    "persons_count",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Legal representatives come from the first N persons of the same seed.",
)
@handle_errors
def entities_command(
    count: int,
    out: Path,
    fmt: str | None,
    province: str,
    seed: int,
    as_of: dt.datetime,
    chunk_size: int,
    bom: bool,
    progress: bool,
    persons_count: int,
) -> None:
    """Write synthetic legal entities (valid, unique USCCs) of a province to CSV or Parquet."""
    batches = generate_entities(
        count=count,
        province_code=province,
        seed=seed,
        as_of=_date(as_of),
        chunk_size=chunk_size,
        persons_count=persons_count,
    )
    _run("entities", batches, ENTITY_SCHEMA, out=out, fmt=fmt, count=count, bom=bom, progress=progress)
