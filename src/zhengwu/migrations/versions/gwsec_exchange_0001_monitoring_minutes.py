"""Monitoring: per-minute summary of the message log and the roll-up watermark.

The monitoring pages computed every figure from the raw log records of the window, which is slow at
volume (a day of traffic is millions of rows). The summary holds per minute, service, client and
outcome the counts, bytes, latency sum/max and a fixed-bucket latency histogram; a roll-up fills it
from the records after the watermark. New tables only; reversible (the summary can be rebuilt).

Revision ID: gwsec_exchange_0001
Revises: exchange_0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zhengwu.db

revision: str = "gwsec_exchange_0001"
down_revision: str | None = "exchange_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_monitoring_minutes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=1400), nullable=False),
        sa.Column("client_id", sa.String(length=1100), nullable=False),
        sa.Column("outcome", sa.String(length=255), nullable=False),
        sa.Column("client_error", sa.Boolean(), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("request_bytes", sa.BigInteger(), nullable=False),
        sa.Column("response_bytes", sa.BigInteger(), nullable=False),
        sa.Column("latency_sum_ms", sa.Float(), nullable=False),
        sa.Column("latency_max_ms", sa.Float(), nullable=False),
        sa.Column("h00", sa.Integer(), nullable=False),
        sa.Column("h01", sa.Integer(), nullable=False),
        sa.Column("h02", sa.Integer(), nullable=False),
        sa.Column("h03", sa.Integer(), nullable=False),
        sa.Column("h04", sa.Integer(), nullable=False),
        sa.Column("h05", sa.Integer(), nullable=False),
        sa.Column("h06", sa.Integer(), nullable=False),
        sa.Column("h07", sa.Integer(), nullable=False),
        sa.Column("h08", sa.Integer(), nullable=False),
        sa.Column("h09", sa.Integer(), nullable=False),
        sa.Column("h10", sa.Integer(), nullable=False),
        sa.Column("h11", sa.Integer(), nullable=False),
        sa.Column("h12", sa.Integer(), nullable=False),
        sa.Column("h13", sa.Integer(), nullable=False),
        sa.Column("h14", sa.Integer(), nullable=False),
        sa.Column("h15", sa.Integer(), nullable=False),
        sa.Column("h16", sa.Integer(), nullable=False),
        sa.Column("h17", sa.Integer(), nullable=False),
        sa.Column("h18", sa.Integer(), nullable=False),
        sa.Column("h19", sa.Integer(), nullable=False),
        sa.Column("h20", sa.Integer(), nullable=False),
        sa.Column("h21", sa.Integer(), nullable=False),
        sa.Column("h22", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_monitoring_minutes")),
        sa.UniqueConstraint("minute", "key_hash", name=op.f("uq_exchange_monitoring_minutes_minute")),
    )
    with op.batch_alter_table("exchange_monitoring_minutes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exchange_monitoring_minutes_minute"), ["minute"], unique=False)
        batch_op.create_index(
            "ix_exchange_monitoring_minutes_service_minute", ["service_id", "minute"], unique=False
        )

    op.create_table(
        "exchange_monitoring_rollup",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("rolled_up_to", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_monitoring_rollup")),
    )


def downgrade() -> None:
    op.drop_table("exchange_monitoring_rollup")
    with op.batch_alter_table("exchange_monitoring_minutes", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_monitoring_minutes_service_minute")
        batch_op.drop_index(batch_op.f("ix_exchange_monitoring_minutes_minute"))

    op.drop_table("exchange_monitoring_minutes")
