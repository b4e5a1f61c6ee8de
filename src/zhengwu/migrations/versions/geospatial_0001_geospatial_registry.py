"""Geospatial registry: divisions with boundaries, standard addresses, their versions, the search tokens.

The geospatial registry has its own migration branch ("geospatial") on top of registries_0001 (its
batches are rows of ``registry_batches``). Boundaries are GeoJSON text, not PostGIS geometries, so the
same schema runs on SQLite and PostgreSQL; the spatial index is built in memory with shapely.
Current-state tables plus append-only versions answer "what did the registry say at t", as in the
population and entity registries. Reversible: downgrade drops the five tables.

Revision ID: geospatial_0001
Revises: registries_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import zhengwu.db

revision: str = "geospatial_0001"
down_revision: str | None = "registries_0001"
branch_labels: str | Sequence[str] | None = ("geospatial",)
depends_on: str | Sequence[str] | None = None


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _division_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=6), nullable=True),
        sa.Column("min_lon", sa.Float(), nullable=True),
        sa.Column("min_lat", sa.Float(), nullable=True),
        sa.Column("max_lon", sa.Float(), nullable=True),
        sa.Column("max_lat", sa.Float(), nullable=True),
        sa.Column("geometry", sa.Text(), nullable=True),
        sa.Column("row_hash", sa.String(length=32), nullable=False),
        sa.Column("source_department", sa.String(length=32), nullable=False),
        sa.Column("valid_from", zhengwu.db.UTCDateTime(), nullable=False),
    ]


def _address_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("road", sa.String(length=100), nullable=True),
        sa.Column("house_number", sa.String(length=40), nullable=True),
        sa.Column("building", sa.String(length=100), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("row_hash", sa.String(length=32), nullable=False),
        sa.Column("source_department", sa.String(length=32), nullable=False),
        sa.Column("valid_from", zhengwu.db.UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "geo_divisions",
        *_division_columns(),
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("batch_id", _big_id(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_geo_divisions")),
    )
    op.create_index("ix_geo_divisions_parent_code", "geo_divisions", ["parent_code"], unique=False)
    op.create_table(
        "geo_division_versions",
        *_division_columns(),
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("batch_id", _big_id(), nullable=False),
        sa.Column("valid_to", zhengwu.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geo_division_versions")),
    )
    op.create_index(
        "ix_geo_division_versions_code", "geo_division_versions", ["code", "valid_from"], unique=False
    )
    op.create_table(
        "geo_addresses",
        *_address_columns(),
        sa.Column("address_code", sa.String(length=32), nullable=False),
        sa.Column("batch_id", _big_id(), nullable=False),
        sa.PrimaryKeyConstraint("address_code", name=op.f("pk_geo_addresses")),
    )
    op.create_index("ix_geo_addresses_region_code", "geo_addresses", ["region_code"], unique=False)
    op.create_table(
        "geo_address_versions",
        *_address_columns(),
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("address_code", sa.String(length=32), nullable=False),
        sa.Column("batch_id", _big_id(), nullable=False),
        sa.Column("valid_to", zhengwu.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_geo_address_versions")),
    )
    op.create_index(
        "ix_geo_address_versions_address_code",
        "geo_address_versions",
        ["address_code", "valid_from"],
        unique=False,
    )
    op.create_table(
        "geo_address_tokens",
        sa.Column("token", sa.String(length=16), nullable=False),
        sa.Column("address_code", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("token", "address_code", name=op.f("pk_geo_address_tokens")),
    )
    op.create_index(
        "ix_geo_address_tokens_address_code", "geo_address_tokens", ["address_code"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_geo_address_tokens_address_code", table_name="geo_address_tokens")
    op.drop_table("geo_address_tokens")
    op.drop_index("ix_geo_address_versions_address_code", table_name="geo_address_versions")
    op.drop_table("geo_address_versions")
    op.drop_index("ix_geo_addresses_region_code", table_name="geo_addresses")
    op.drop_table("geo_addresses")
    op.drop_index("ix_geo_division_versions_code", table_name="geo_division_versions")
    op.drop_table("geo_division_versions")
    op.drop_index("ix_geo_divisions_parent_code", table_name="geo_divisions")
    op.drop_table("geo_divisions")
