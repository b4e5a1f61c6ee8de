"""Open data portal: harvesting (级联) sources, jobs, their per-item log and the origin of datasets.

Its own branch ("opendata_harvest") off the portal's datasets: a harvest record references the local
dataset it made. New tables only, nothing existing changes. Reversible: downgrade drops the tables.

Revision ID: harvest_0001
Revises: opendata_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zhengwu.db

revision: str = "harvest_0001"
down_revision: str | None = "opendata_0001"
branch_labels: str | Sequence[str] | None = ("opendata_harvest",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opendata_harvest_sources",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("backend", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organization_map", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.String(length=32), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_job_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lock_token", sa.String(length=36), nullable=True),
        sa.Column("locked_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_opendata_harvest_sources_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["departments.id"],
            name=op.f("fk_opendata_harvest_sources_organization_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_harvest_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_opendata_harvest_sources_name")),
    )
    op.create_table(
        "opendata_harvest_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running", "finished", "partial", "failed", name="jobstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("started_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("gathered", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["opendata_harvest_sources.id"],
            name=op.f("fk_opendata_harvest_jobs_source_id_opendata_harvest_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_harvest_jobs")),
    )
    with op.batch_alter_table("opendata_harvest_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_opendata_harvest_jobs_source_started", ["source_id", "started_at"], unique=False
        )

    op.create_table(
        "opendata_harvest_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("remote_id", sa.String(length=500), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "created",
                "updated",
                "deleted",
                "skipped",
                "failed",
                name="itemaction",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("dataset_name", sa.String(length=100), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["opendata_harvest_jobs.id"],
            name=op.f("fk_opendata_harvest_items_job_id_opendata_harvest_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_harvest_items")),
    )
    with op.batch_alter_table("opendata_harvest_items", schema=None) as batch_op:
        batch_op.create_index("ix_opendata_harvest_items_job_id", ["job_id"], unique=False)

    op.create_table(
        "opendata_harvest_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dataset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("remote_id", sa.String(length=500), nullable=False),
        sa.Column("remote_name", sa.String(length=200), nullable=False),
        sa.Column("remote_url", sa.String(length=1000), nullable=False),
        sa.Column("remote_modified", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("harvested_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_datasets.id"],
            name=op.f("fk_opendata_harvest_records_dataset_id_opendata_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["opendata_harvest_jobs.id"],
            name=op.f("fk_opendata_harvest_records_job_id_opendata_harvest_jobs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["opendata_harvest_sources.id"],
            name=op.f("fk_opendata_harvest_records_source_id_opendata_harvest_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_harvest_records")),
        sa.UniqueConstraint("dataset_id", name="uq_opendata_harvest_records_dataset_id"),
        sa.UniqueConstraint("source_id", "remote_id", name="uq_opendata_harvest_records_source_remote"),
    )


def downgrade() -> None:
    op.drop_table("opendata_harvest_records")
    with op.batch_alter_table("opendata_harvest_items", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_harvest_items_job_id")

    op.drop_table("opendata_harvest_items")
    with op.batch_alter_table("opendata_harvest_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_harvest_jobs_source_started")

    op.drop_table("opendata_harvest_jobs")
    op.drop_table("opendata_harvest_sources")
