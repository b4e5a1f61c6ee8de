"""Message log: the next leaf index kept in a one-row counter.

Why: a batch used to take an advisory lock, read ``max(leaf_index)`` and read its record ids back: three
round trips of the gateway's group commit. One ``UPDATE ... RETURNING`` on this row reserves the indices
and orders concurrent writers in a single statement. The row starts at the number of leaves already
written. Reversible: downgrade drops the table (the leaves themselves are untouched).

Revision ID: exchange_0002
Revises: exchange_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "exchange_0002"
down_revision: str | None = "exchange_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_log_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("next_leaf_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_log_counter")),
    )
    op.execute(
        "INSERT INTO exchange_log_counter (id, next_leaf_index) "
        "SELECT 1, COALESCE(MAX(leaf_index) + 1, 0) FROM exchange_log_leaves"
    )


def downgrade() -> None:
    op.drop_table("exchange_log_counter")
