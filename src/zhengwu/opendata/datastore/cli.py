"""``zhengwu datastore ...``: load a tabular file into the datastore, show and delete tables."""

from __future__ import annotations

from pathlib import Path

import click

from zhengwu.accounts.permissions import Actor
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state
from zhengwu.opendata.datastore.services import datastore_create, datastore_delete, datastore_info


@click.group("datastore")
def datastore_group() -> None:
    """开放数据表 (datastore): load, inspect, delete."""


@datastore_group.command("load")
@click.argument("resource_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "file_format", type=click.Choice(["csv", "xlsx", "jsonl"]), help="Default: by suffix."
)
@click.option("--index", "indexes", multiple=True, help="Field to index for filtering (repeatable).")
@click.option(
    "--type", "types", multiple=True, help="Declare a field's type: FIELD=int|numeric|date|timestamp|text."
)
@click.option(
    "--open/--closed", "is_open", default=False, help="Open to the public at once (default closed)."
)
@pass_state
@handle_errors
def load_command(
    state: CliState,
    resource_id: str,
    file: Path,
    file_format: str | None,
    indexes: tuple[str, ...],
    types: tuple[str, ...],
    is_open: bool,
) -> None:
    """Load FILE (CSV, XLSX or JSON lines) as the table of RESOURCE_ID, replacing the old one atomically."""
    declared = dict(t.split("=", 1) for t in types if "=" in t)

    def progress(phase: str, done: int, total: int) -> None:
        click.echo(f"{phase}: {done:,}" + (f" / {total:,}" if total else ""), err=True)

    database = state.database(migrate=True)
    with database.session() as db:
        info = datastore_create(
            db,
            actor=Actor.system("cli"),
            resource_id=resource_id,
            path=file,
            file_format=file_format,
            types=declared,
            indexes=list(indexes),
            is_open=is_open,
            progress=progress,
        )
    echo_json(info.model_dump(mode="json"))


@datastore_group.command("info")
@click.argument("resource_id")
@pass_state
@handle_errors
def info_command(state: CliState, resource_id: str) -> None:
    """Fields and facts of a table (CKAN datastore_info)."""
    with state.database(migrate=True).session() as db:
        echo_json(datastore_info(db, actor=Actor.system("cli"), resource_id=resource_id))


@datastore_group.command("delete")
@click.argument("resource_id")
@pass_state
@handle_errors
def delete_command(state: CliState, resource_id: str) -> None:
    """Drop a table and its metadata."""
    with state.database(migrate=True).session() as db:
        datastore_delete(db, actor=Actor.system("cli"), resource_id=resource_id)
    click.echo(f"deleted {resource_id}")
