"""``zhengwu opendata``: rebuild the search index, publish the open catalog entries."""

from __future__ import annotations

import time

import click
from sqlalchemy import text

from zhengwu.accounts.permissions import Actor
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state
from zhengwu.opendata.harvest.cli import harvest_group
from zhengwu.opendata.seed import opendata_demo_seed
from zhengwu.opendata.services import dataset_index_rebuild

_INDEX_TABLES = ("opendata_search_terms", "opendata_search_facets", "opendata_search_docs")


@click.group("opendata")
def opendata_group() -> None:
    """数据开放 (open data portal)."""


opendata_group.add_command(harvest_group)


@opendata_group.command("reindex")
@pass_state
@handle_errors
def reindex_command(state: CliState) -> None:
    """Rebuild the package_search index from the datasets."""
    database = state.database(migrate=True)
    start = time.perf_counter()
    with database.session() as db:
        count = dataset_index_rebuild(db, actor=Actor.system("cli"))
    if database.backend == "postgresql":
        # Index-only scans need the visibility map that VACUUM writes.
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in _INDEX_TABLES:
                conn.execute(text(f"VACUUM (ANALYZE) {table}"))
    echo_json({"indexed": count, "seconds": round(time.perf_counter() - start, 1)})


@opendata_group.command("publish-open-entries")
@pass_state
@handle_errors
def publish_command(state: CliState) -> None:
    """Publish every open or conditionally open catalog entry that passes the sensitivity check."""
    database = state.database(migrate=True)
    with database.session() as db:
        count = opendata_demo_seed(db, actor=Actor.system("cli"))
    echo_json({"published": count})
