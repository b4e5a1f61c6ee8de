"""Catalog search state: one row whose token changes whenever the index changes.

Searches keep the narrow docs rows and the posting lists of frequent terms in process memory (see
``zhengwu.catalog.search.memory``), keyed by this token: every index write (publication, withdrawal,
rebuild) stores a new random token in the same transaction, so a process never serves a list older than
the index it reads, and a rolled-back change's token never comes back. Reversible: downgrade drops the
table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_search_state",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_search_state")),
    )
    # Random here too: two fresh databases must not share a token.
    state = sa.table(
        "catalog_search_state", sa.column("id", sa.SmallInteger()), sa.column("token", sa.String())
    )
    op.bulk_insert(state, [{"id": 1, "token": secrets.token_hex(16)}])


def downgrade() -> None:
    op.drop_table("catalog_search_state")
