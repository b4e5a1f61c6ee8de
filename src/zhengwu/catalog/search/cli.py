"""``zhengwu catalog reindex``: rebuild the catalog search index from the published versions."""

from __future__ import annotations

import time

import click
from sqlalchemy import text

from zhengwu.catalog.search.services import search_index_rebuild
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state

_INDEX_TABLES = (
    "catalog_search_terms",
    "catalog_search_vocab",
    "catalog_search_docs",
    "catalog_search_doc_terms",
)


@click.group("catalog")
def catalog_group() -> None:
    """资源目录 (resource catalog)."""


@catalog_group.command("reindex")
@pass_state
@handle_errors
def reindex_command(state: CliState) -> None:
    """Rebuild the search index of published resources (after bulk imports or seeding)."""
    database = state.database(migrate=True)
    start = time.perf_counter()
    with database.session() as db:
        count = search_index_rebuild(db)
    if database.backend == "postgresql":
        # Fresh postings are read with index-only scans only once VACUUM has marked their pages visible.
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in _INDEX_TABLES:
                conn.execute(text(f"VACUUM (ANALYZE) {table}"))
    else:
        with database.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    echo_json(
        {"indexed": count, "seconds": round(time.perf_counter() - start, 1), "database": database.backend}
    )
