"""Gateway: per-grant rate limits, daily quotas and elements allowed in clear.

The gateway has its own migration branch ("gateway") on top of the exchange branch. ``grant_id`` has no
foreign key because the sharing tables belong to another branch. Reversible: downgrade drops the table.

Revision ID: gateway_0001
Revises: exchange_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zhengwu.db

revision: str = "gateway_0001"
down_revision: str | None = "exchange_0001"
branch_labels: str | Sequence[str] | None = ("gateway",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_gateway_grant_policies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("grant_id", sa.BigInteger(), nullable=False),
        sa.Column("rate_per_second", sa.Float(), nullable=False),
        sa.Column("burst", sa.Integer(), nullable=False),
        sa.Column("quota_per_day", sa.Integer(), nullable=True),
        sa.Column("clear_elements", sa.JSON(), nullable=False),
        sa.Column("updated_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_gateway_grant_policies")),
        sa.UniqueConstraint("grant_id", name=op.f("uq_exchange_gateway_grant_policies_grant_id")),
    )


def downgrade() -> None:
    op.drop_table("exchange_gateway_grant_policies")
