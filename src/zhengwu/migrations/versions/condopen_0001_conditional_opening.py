"""Open data portal: conditional opening (有条件开放): applicants, applications, dataset keys, key usage.

Its own branch ("opendata_access") after the portal's datasets: the tables reference datasets,
departments and users only, so the branch grows in parallel with the portal's other parts. Reversible:
downgrade drops the four tables.

Revision ID: condopen_0001
Revises: opendata_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zhengwu.db

revision: str = "condopen_0001"
down_revision: str | None = "opendata_0001"
branch_labels: str | Sequence[str] | None = ("opendata_access",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opendata_access_applicants",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("person", "company", name="applicantkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("identifier_masked", sa.String(length=32), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=False),
        sa.Column("created_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_opendata_access_applicants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_opendata_access_applicants")),
    )
    op.create_table(
        "opendata_access_applications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dataset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("applicant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("use_start", sa.Date(), nullable=False),
        sa.Column("use_end", sa.Date(), nullable=False),
        sa.Column("contact_name", sa.String(length=100), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=False),
        sa.Column("contact_email", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum("pending", "approved", "refused", name="applicationstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("submitted_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("decided_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("decided_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("valid_until", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("daily_quota", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["applicant_id"],
            ["users.id"],
            name=op.f("fk_opendata_access_applications_applicant_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_datasets.id"],
            name=op.f("fk_opendata_access_applications_dataset_id_opendata_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["users.id"],
            name=op.f("fk_opendata_access_applications_decided_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["departments.id"],
            name=op.f("fk_opendata_access_applications_organization_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_access_applications")),
    )
    with op.batch_alter_table("opendata_access_applications", schema=None) as batch_op:
        batch_op.create_index("ix_opendata_access_applications_applicant_id", ["applicant_id"], unique=False)
        batch_op.create_index("ix_opendata_access_applications_dataset_id", ["dataset_id"], unique=False)
        batch_op.create_index(
            "ix_opendata_access_applications_organization_id", ["organization_id", "status"], unique=False
        )

    op.create_table(
        "opendata_access_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dataset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("last_used_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["opendata_access_applications.id"],
            name=op.f("fk_opendata_access_keys_application_id_opendata_access_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_opendata_access_keys_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_datasets.id"],
            name=op.f("fk_opendata_access_keys_dataset_id_opendata_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"],
            ["users.id"],
            name=op.f("fk_opendata_access_keys_revoked_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_access_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_opendata_access_keys_prefix")),
    )
    with op.batch_alter_table("opendata_access_keys", schema=None) as batch_op:
        batch_op.create_index("ix_opendata_access_keys_application_id", ["application_id"], unique=False)

    op.create_table(
        "opendata_access_usage",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dataset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("rows", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("bytes", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["opendata_access_keys.id"],
            name=op.f("fk_opendata_access_usage_key_id_opendata_access_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opendata_access_usage")),
    )
    with op.batch_alter_table("opendata_access_usage", schema=None) as batch_op:
        batch_op.create_index(
            "ix_opendata_access_usage_application_at", ["application_id", "at"], unique=False
        )
        batch_op.create_index("ix_opendata_access_usage_key_at", ["key_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("opendata_access_usage", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_access_usage_key_at")
        batch_op.drop_index("ix_opendata_access_usage_application_at")

    op.drop_table("opendata_access_usage")
    with op.batch_alter_table("opendata_access_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_access_keys_application_id")

    op.drop_table("opendata_access_keys")
    with op.batch_alter_table("opendata_access_applications", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_access_applications_organization_id")
        batch_op.drop_index("ix_opendata_access_applications_dataset_id")
        batch_op.drop_index("ix_opendata_access_applications_applicant_id")

    op.drop_table("opendata_access_applications")
    op.drop_table("opendata_access_applicants")
