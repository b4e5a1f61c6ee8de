"""Resource catalog: topics, resources (the working copy), data elements, published versions, code sequences.

Resources keep their share type, delivery, open type and update frequency as plain strings (no native
ENUM) so that new values need no ALTER TYPE. Reversible: downgrade drops the catalog tables.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zhengwu.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_resource_sequences",
        sa.Column("prefix", sa.String(length=48), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_catalog_resource_sequences")),
    )
    op.create_table(
        "catalog_topics",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["catalog_topics.id"],
            name=op.f("fk_catalog_topics_parent_id_catalog_topics"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_topics")),
        sa.UniqueConstraint("code", name=op.f("uq_catalog_topics_code")),
    )
    with op.batch_alter_table("catalog_topics", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_topics_parent_id", ["parent_id"], unique=False)

    op.create_table(
        "catalog_resources",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "base", "thematic", "departmental", name="resourcecategory", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("classification", sa.String(length=32), nullable=False),
        sa.Column("topic_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column(
            "share_type",
            sa.Enum("unconditional", "conditional", "none", name="sharetype", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("share_conditions", sa.Text(), nullable=False),
        sa.Column("share_basis", sa.Text(), nullable=False),
        sa.Column(
            "delivery",
            sa.Enum("api", "table", "file", name="delivery", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "open_type",
            sa.Enum("open", "conditional", "closed", name="opentype", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("open_conditions", sa.Text(), nullable=False),
        sa.Column(
            "update_frequency",
            sa.Enum(
                "realtime",
                "daily",
                "weekly",
                "monthly",
                "quarterly",
                "semiannual",
                "yearly",
                "irregular",
                name="updatefrequency",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "secrecy",
            sa.Enum("unclassified", "classified", name="secrecy", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("source_system", sa.String(length=200), nullable=False),
        sa.Column("related_codes", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "rejected",
                "published",
                "withdrawn",
                name="resourcestatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("has_draft_changes", sa.Boolean(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=False),
        sa.Column("first_published_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdraw_reason", sa.Text(), nullable=False),
        sa.Column("review_comment", sa.Text(), nullable=False),
        sa.Column("submitted_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_catalog_resources_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["departments.id"],
            name=op.f("fk_catalog_resources_provider_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["catalog_topics.id"],
            name=op.f("fk_catalog_resources_topic_id_catalog_topics"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_resources")),
        sa.UniqueConstraint("code", name=op.f("uq_catalog_resources_code")),
    )
    with op.batch_alter_table("catalog_resources", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_resources_provider_id", ["provider_id"], unique=False)
        batch_op.create_index("ix_catalog_resources_status", ["status"], unique=False)
        batch_op.create_index("ix_catalog_resources_topic_id", ["topic_id"], unique=False)

    op.create_table(
        "catalog_elements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resource_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column(
            "data_type",
            sa.Enum(
                "string",
                "integer",
                "decimal",
                "date",
                "datetime",
                "boolean",
                "binary",
                name="elementtype",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("length", sa.Integer(), nullable=True),
        sa.Column("identifies_person", sa.Boolean(), nullable=False),
        sa.Column(
            "sensitivity",
            sa.Enum(
                "public",
                "internal",
                "sensitive",
                "confidential",
                name="sensitivity",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resources.id"],
            name=op.f("fk_catalog_elements_resource_id_catalog_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_elements")),
        sa.UniqueConstraint("resource_id", "name_en", name="uq_catalog_elements_resource_name_en"),
    )
    with op.batch_alter_table("catalog_elements", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_elements_resource_id", ["resource_id"], unique=False)

    op.create_table(
        "catalog_resource_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resource_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("change_note", sa.Text(), nullable=False),
        sa.Column("published_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reviewed_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["published_by"],
            ["users.id"],
            name=op.f("fk_catalog_resource_versions_published_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resources.id"],
            name=op.f("fk_catalog_resource_versions_resource_id_catalog_resources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["users.id"],
            name=op.f("fk_catalog_resource_versions_reviewed_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_resource_versions")),
        sa.UniqueConstraint("resource_id", "version", name="uq_catalog_resource_versions_resource_version"),
    )


def downgrade() -> None:
    op.drop_table("catalog_resource_versions")
    with op.batch_alter_table("catalog_elements", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_elements_resource_id")

    op.drop_table("catalog_elements")
    with op.batch_alter_table("catalog_resources", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_resources_topic_id")
        batch_op.drop_index("ix_catalog_resources_status")
        batch_op.drop_index("ix_catalog_resources_provider_id")

    op.drop_table("catalog_resources")
    with op.batch_alter_table("catalog_topics", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_topics_parent_id")

    op.drop_table("catalog_topics")
    op.drop_table("catalog_resource_sequences")
