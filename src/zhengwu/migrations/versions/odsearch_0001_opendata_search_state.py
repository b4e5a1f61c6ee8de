"""Open data search state: one row whose token changes whenever the ``package_search`` index changes.

``package_search`` keeps the docs' sort keys, the posting lists of queried terms and the facet tables in
process memory (``zhengwu.opendata.search_memory``), keyed by this token: every index write stores a new
random token in the same transaction, so a process never serves results older than the index it reads,
and a rolled-back change's token never comes back. Its own branch ("opendata_search") off
``opendata_0001``, so it merges beside other open data revisions. Reversible: downgrade drops the table.

Revision ID: odsearch_0001
Revises: opendata_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "odsearch_0001"
down_revision: str | None = "opendata_0001"
branch_labels: str | Sequence[str] | None = ("opendata_search",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opendata_search_state",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_search_state")),
    )
    # Random here too: two fresh databases must not share a token.
    state = sa.table(
        "opendata_search_state", sa.column("id", sa.SmallInteger()), sa.column("token", sa.String())
    )
    op.bulk_insert(state, [{"id": 1, "token": secrets.token_hex(16)}])


def downgrade() -> None:
    op.drop_table("opendata_search_state")
