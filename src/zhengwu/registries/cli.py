"""``zhengwu registries ingest population|entities FILE --source DEPT [--partial]``, ``registries relations
FILE --source DEPT`` (family links), ``registries publish`` (the registry services in the exchange)
and friends.

The CLI acts as the platform itself (the operator has shell access to the server); the batch record
and the audit trail name it. Error files go to ``<data_dir>/registries/errors``, where the pages find
them for download.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import click
from tqdm import tqdm

from zhengwu.accounts.permissions import Actor
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state
from zhengwu.registries.ingest import IngestResult, ingest
from zhengwu.registries.models import BATCH_STATUS_ZH, BatchStatus, Registry
from zhengwu.registries.publication import registries_publish
from zhengwu.registries.relations import relations_ingest


@click.group("registries")
def registries_group() -> None:
    """基础库 (base registries: population, legal entities)."""


def error_dir(state: CliState) -> Path:
    """Where error files of rejected rows are kept."""
    return state.settings().data_dir / "registries" / "errors"


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


@registries_group.command("ingest")
@click.argument("registry", type=click.Choice([r.value for r in Registry]))
@click.argument("file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--source", required=True, help="Code of the delivering department.")
@click.option("--partial", is_flag=True, help="Apply valid rows, list the others in the error file.")
@click.option("--sql-url", help="Instead of FILE: SQLAlchemy URL of the department's database.")
@click.option("--sql-query", help="With --sql-url: the query whose result is delivered.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@pass_state
@handle_errors
def ingest_command(
    state: CliState,
    registry: str,
    file: Path | None,
    source: str,
    partial: bool,
    sql_url: str | None,
    sql_query: str | None,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Ingest FILE (CSV, Excel .xlsx or Parquet) or a SQL query into REGISTRY as one batch."""
    database = state.database(migrate=True)
    bar = tqdm(unit="rows", unit_scale=True, file=sys.stderr, disable=no_progress, desc=f"{registry} 入库")
    seen = 0

    def progress(rows: int) -> None:
        nonlocal seen
        bar.update(rows - seen)
        seen = rows

    try:
        with database.session() as db:
            result = ingest(
                db,
                actor=Actor.system("cli"),
                registry=registry,
                source=source,
                path=file,
                sql_url=sql_url,
                sql_query=sql_query,
                mode="partial" if partial else "atomic",
                error_dir=error_dir(state),
                progress=progress,
            )
    finally:
        bar.close()
    _report(result, as_json)


@registries_group.command("relations")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--source", required=True, help="Code of the delivering department.")
@click.option("--partial", is_flag=True, help="Apply valid rows, list the others in the error file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_state
@handle_errors
def relations_command(state: CliState, file: Path, source: str, partial: bool, as_json: bool) -> None:
    """Ingest family relations (parent, spouse) from FILE as one batch."""
    database = state.database(migrate=True)
    with database.session() as db:
        result = relations_ingest(
            db,
            actor=Actor.system("cli"),
            source=source,
            path=file,
            mode="partial" if partial else "atomic",
            error_dir=error_dir(state),
        )
    _report(result, as_json)


@registries_group.command("publish")
@click.option(
    "--department",
    help="Code of the department that offers the registry services (default: <node region>-SJJ).",
)
@click.option("--base-url", help="URL the gateway reaches this platform at (default: the node's base URL).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_state
@handle_errors
def publish_command(state: CliState, department: str | None, base_url: str | None, as_json: bool) -> None:
    """Publish the registry services through the exchange (idempotent; re-run after moving the platform)."""
    settings = state.settings()
    database = state.database(migrate=True)
    with database.session() as db:
        published = registries_publish(
            db,
            actor=Actor.system("cli"),
            department_code=department or f"{settings.node_region_code}-SJJ",
            instance=settings.instance,
            secret_key=settings.secret_key.get_secret_value(),
            base_url=base_url or settings.effective_base_url,
        )
    if as_json:
        echo_json([asdict(p) for p in published])
        return
    for p in published:
        click.echo(f"{'新发布' if p.created else '已更新'}  {p.xroad_id}  {p.name}")
