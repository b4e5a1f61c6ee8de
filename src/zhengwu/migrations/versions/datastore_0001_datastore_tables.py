"""Datastore: the metadata table of the open data portal's tabular data store.

The datastore has its own migration branch ("datastore") starting at 0001: it keys everything by the
CKAN ``resource_id`` string and depends on no other domain's tables. Only the metadata table is
created here; the data tables (``ds_<hex>``) are created when a file is loaded, because their columns
come from the file. Reversible: downgrade drops the metadata table and every data table it lists.

Revision ID: datastore_0001
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zhengwu.db

revision: str = "datastore_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("datastore",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "datastore_tables",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resource_id", sa.String(length=100), nullable=False),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("indexes", sa.JSON(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("source_format", sa.String(length=16), nullable=False),
        sa.Column("source_encoding", sa.String(length=32), nullable=True),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("source_size", sa.BigInteger(), nullable=False),
        sa.Column("loaded_by", sa.String(length=150), nullable=False),
        sa.Column("loaded_at", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datastore_tables")),
        sa.UniqueConstraint("resource_id", name=op.f("uq_datastore_tables_resource_id")),
        sa.UniqueConstraint("table_name", name=op.f("uq_datastore_tables_table_name")),
    )


def downgrade() -> None:
    conn = op.get_bind()
    for (name,) in conn.execute(sa.text("SELECT table_name FROM datastore_tables")):
        op.execute(f'DROP TABLE IF EXISTS "{name}"')
    op.drop_table("datastore_tables")
