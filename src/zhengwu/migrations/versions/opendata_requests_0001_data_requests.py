"""Open data portal: data requests from the public (数据需求) and their answers.

Its own branch ("opendata_requests"), after the portal's datasets (it references departments and
users only, but belongs to the portal). Reversible: downgrade drops the table.

Revision ID: opendata_requests_0001
Revises: opendata_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zhengwu.db

revision: str = "opendata_requests_0001"
down_revision: str | None = "opendata_0001"
branch_labels: str | Sequence[str] | None = ("opendata_requests",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opendata_data_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("requester_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("requester_name", sa.String(length=150), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "planned", "published", "refused", name="requeststatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("dataset_name", sa.String(length=100), nullable=False),
        sa.Column("answered_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["departments.id"],
            name=op.f("fk_opendata_data_requests_organization_id_departments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["users.id"],
            name=op.f("fk_opendata_data_requests_requester_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["answered_by"],
            ["users.id"],
            name=op.f("fk_opendata_data_requests_answered_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_data_requests")),
    )
    op.create_index(
        "ix_opendata_data_requests_organization_id", "opendata_data_requests", ["organization_id"]
    )
    op.create_index("ix_opendata_data_requests_created_at", "opendata_data_requests", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_opendata_data_requests_created_at", table_name="opendata_data_requests")
    op.drop_index("ix_opendata_data_requests_organization_id", table_name="opendata_data_requests")
    op.drop_table("opendata_data_requests")
