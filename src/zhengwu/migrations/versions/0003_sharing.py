"""Sharing workflow: share requests (共享申请), grants (授权), correction requests (校核) and their history.

Deadlines are stored as dates on the Beijing calendar (counted in Chinese official working days when the
request is made, with the count kept so the deadline can be recomputed), element lists as JSON lists of
English element names. States are plain strings (no native ENUM) so new states need no ALTER TYPE.
Reversible: downgrade drops the sharing tables.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zhengwu.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sharing_corrections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resource_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("consumer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reported_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("element_name", sa.String(length=100), nullable=False),
        sa.Column("record_key", sa.String(length=200), nullable=False),
        sa.Column("value_seen", sa.Text(), nullable=False),
        sa.Column("value_expected", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open", "corrected", "not_an_error", name="correctionstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("submitted_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("deadline_days", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("answered_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("answered_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("escalated_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["answered_by"],
            ["users.id"],
            name=op.f("fk_sharing_corrections_answered_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["departments.id"],
            name=op.f("fk_sharing_corrections_consumer_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["departments.id"],
            name=op.f("fk_sharing_corrections_provider_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reported_by"],
            ["users.id"],
            name=op.f("fk_sharing_corrections_reported_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resources.id"],
            name=op.f("fk_sharing_corrections_resource_id_catalog_resources"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_corrections")),
    )
    with op.batch_alter_table("sharing_corrections", schema=None) as batch_op:
        batch_op.create_index("ix_sharing_corrections_consumer_id", ["consumer_id"], unique=False)
        batch_op.create_index(
            "ix_sharing_corrections_provider_id_status", ["provider_id", "status"], unique=False
        )
        batch_op.create_index("ix_sharing_corrections_resource_id", ["resource_id"], unique=False)

    op.create_table(
        "sharing_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resource_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resource_version", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("consumer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("requested_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("consumer_system", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("requested_elements", sa.JSON(), nullable=False),
        sa.Column("approved_elements", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "refused",
                "withdrawn",
                name="requeststatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("auto_granted", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("deadline_days", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("answered_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("answered_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("working_days_taken", sa.Integer(), nullable=True),
        sa.Column("answer_reason", sa.Text(), nullable=False),
        sa.Column("escalated_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["answered_by"],
            ["users.id"],
            name=op.f("fk_sharing_requests_answered_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["departments.id"],
            name=op.f("fk_sharing_requests_consumer_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["departments.id"],
            name=op.f("fk_sharing_requests_provider_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["users.id"],
            name=op.f("fk_sharing_requests_requested_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resources.id"],
            name=op.f("fk_sharing_requests_resource_id_catalog_resources"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_requests")),
    )
    with op.batch_alter_table("sharing_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sharing_requests_consumer_id_status", ["consumer_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_sharing_requests_provider_id_status", ["provider_id", "status"], unique=False
        )
        batch_op.create_index("ix_sharing_requests_resource_id", ["resource_id"], unique=False)
        batch_op.create_index("ix_sharing_requests_status_due_on", ["status", "due_on"], unique=False)

    op.create_table(
        "sharing_grants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("resource_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("consumer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("consumer_system", sa.String(length=200), nullable=False),
        sa.Column("elements", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "revoked", "expired", name="grantstatus", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("created_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["departments.id"],
            name=op.f("fk_sharing_grants_consumer_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["departments.id"],
            name=op.f("fk_sharing_grants_provider_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["sharing_requests.id"],
            name=op.f("fk_sharing_grants_request_id_sharing_requests"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["catalog_resources.id"],
            name=op.f("fk_sharing_grants_resource_id_catalog_resources"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["users.id"], name=op.f("fk_sharing_grants_revoked_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_grants")),
        sa.UniqueConstraint("request_id", name=op.f("uq_sharing_grants_request_id")),
    )
    with op.batch_alter_table("sharing_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sharing_grants_consumer_id_resource_id", ["consumer_id", "resource_id"], unique=False
        )
        batch_op.create_index("ix_sharing_grants_provider_id", ["provider_id"], unique=False)
        batch_op.create_index("ix_sharing_grants_resource_id", ["resource_id"], unique=False)

    op.create_table(
        "sharing_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("grant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("correction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_sharing_events_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["correction_id"],
            ["sharing_corrections.id"],
            name=op.f("fk_sharing_events_correction_id_sharing_corrections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["sharing_grants.id"],
            name=op.f("fk_sharing_events_grant_id_sharing_grants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["sharing_requests.id"],
            name=op.f("fk_sharing_events_request_id_sharing_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_events")),
    )
    with op.batch_alter_table("sharing_events", schema=None) as batch_op:
        batch_op.create_index("ix_sharing_events_correction_id", ["correction_id"], unique=False)
        batch_op.create_index("ix_sharing_events_grant_id", ["grant_id"], unique=False)
        batch_op.create_index("ix_sharing_events_request_id", ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sharing_events", schema=None) as batch_op:
        batch_op.drop_index("ix_sharing_events_request_id")
        batch_op.drop_index("ix_sharing_events_grant_id")
        batch_op.drop_index("ix_sharing_events_correction_id")

    op.drop_table("sharing_events")
    with op.batch_alter_table("sharing_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_sharing_grants_resource_id")
        batch_op.drop_index("ix_sharing_grants_provider_id")
        batch_op.drop_index("ix_sharing_grants_consumer_id_resource_id")

    op.drop_table("sharing_grants")
    with op.batch_alter_table("sharing_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_sharing_requests_status_due_on")
        batch_op.drop_index("ix_sharing_requests_resource_id")
        batch_op.drop_index("ix_sharing_requests_provider_id_status")
        batch_op.drop_index("ix_sharing_requests_consumer_id_status")

    op.drop_table("sharing_requests")
    with op.batch_alter_table("sharing_corrections", schema=None) as batch_op:
        batch_op.drop_index("ix_sharing_corrections_resource_id")
        batch_op.drop_index("ix_sharing_corrections_provider_id_status")
        batch_op.drop_index("ix_sharing_corrections_consumer_id")

    op.drop_table("sharing_corrections")
