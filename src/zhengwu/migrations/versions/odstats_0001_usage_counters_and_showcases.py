"""Open data portal: daily usage counters and the reuse showcase (应用展示).

On the portal's branch ("opendata"), after its datasets: ``opendata_usage_counts`` holds the batched
daily counts of views, downloads and API calls per dataset (no personal data), ``opendata_showcases``
and ``opendata_showcase_datasets`` the moderated showcases and the datasets they use. Reversible:
downgrade drops the three tables.

Revision ID: odstats_0001
Revises: opendata_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zhengwu.db

revision: str = "odstats_0001"
down_revision: str | None = "opendata_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opendata_showcases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("image_url", sa.String(length=500), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "approved", "rejected", name="showcasestatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("moderation_note", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("moderated_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("moderated_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["moderated_by"],
            ["users.id"],
            name=op.f("fk_opendata_showcases_moderated_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"],
            ["users.id"],
            name=op.f("fk_opendata_showcases_submitted_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_showcases")),
        sa.UniqueConstraint("name", name=op.f("uq_opendata_showcases_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_opendata_showcases_uuid")),
    )
    with op.batch_alter_table("opendata_showcases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_opendata_showcases_status_created_at", ["status", "created_at"], unique=False
        )

    op.create_table(
        "opendata_showcase_datasets",
        sa.Column("showcase_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dataset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_datasets.id"],
            name=op.f("fk_opendata_showcase_datasets_dataset_id_opendata_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["showcase_id"],
            ["opendata_showcases.id"],
            name=op.f("fk_opendata_showcase_datasets_showcase_id_opendata_showcases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("showcase_id", "dataset_id", name="pk_opendata_showcase_datasets"),
    )
    with op.batch_alter_table("opendata_showcase_datasets", schema=None) as batch_op:
        batch_op.create_index("ix_opendata_showcase_datasets_dataset_id", ["dataset_id"], unique=False)

    op.create_table(
        "opendata_usage_counts",
        sa.Column("dataset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=36), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_datasets.id"],
            name=op.f("fk_opendata_usage_counts_dataset_id_opendata_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "dataset_id", "day", "kind", "detail", "resource", name="pk_opendata_usage_counts"
        ),
    )
    with op.batch_alter_table("opendata_usage_counts", schema=None) as batch_op:
        batch_op.create_index("ix_opendata_usage_counts_day", ["day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("opendata_usage_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_usage_counts_day")

    op.drop_table("opendata_usage_counts")
    with op.batch_alter_table("opendata_showcase_datasets", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_showcase_datasets_dataset_id")

    op.drop_table("opendata_showcase_datasets")
    with op.batch_alter_table("opendata_showcases", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_showcases_status_created_at")

    op.drop_table("opendata_showcases")
