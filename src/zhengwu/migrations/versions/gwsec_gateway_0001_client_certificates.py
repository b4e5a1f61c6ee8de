"""Gateway: client certificates of subsystems (mutual TLS) and the per-subsystem "require mTLS" choice.

Mutual TLS is the stronger of the gateway's two ways to authenticate a calling system: a subsystem
registers one or more certificates (SHA-256 fingerprint, subject, issuer, serial, validity) and may be
set to refuse calls authenticated by an API token alone. New tables only; reversible.

Revision ID: gwsec_gateway_0001
Revises: gateway_0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zhengwu.db

revision: str = "gwsec_gateway_0001"
down_revision: str | None = "gateway_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_gateway_client_certs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subsystem_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("issuer", sa.String(length=1000), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column("not_before", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("not_after", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subsystem_id"],
            ["exchange_subsystems.id"],
            name=op.f("fk_exchange_gateway_client_certs_subsystem_id_exchange_subsystems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_gateway_client_certs")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_exchange_gateway_client_certs_fingerprint")),
    )
    with op.batch_alter_table("exchange_gateway_client_certs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_gateway_client_certs_subsystem_id"), ["subsystem_id"], unique=False
        )

    op.create_table(
        "exchange_gateway_subsystem_auth",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subsystem_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("require_client_cert", sa.Boolean(), nullable=False),
        sa.Column("updated_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subsystem_id"],
            ["exchange_subsystems.id"],
            name=op.f("fk_exchange_gateway_subsystem_auth_subsystem_id_exchange_subsystems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_gateway_subsystem_auth")),
        sa.UniqueConstraint("subsystem_id", name=op.f("uq_exchange_gateway_subsystem_auth_subsystem_id")),
    )


def downgrade() -> None:
    op.drop_table("exchange_gateway_subsystem_auth")
    with op.batch_alter_table("exchange_gateway_client_certs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_gateway_client_certs_subsystem_id"))

    op.drop_table("exchange_gateway_client_certs")
