"""Registries: family relations (parent, spouse) as links between persons, with history and provenance.

Why: the population registry links persons to their parents and spouses (issue 5). One row per link
with a system-time interval [valid_from, valid_to) and the delivering batch and department; ended
links are closed, never deleted. ``batch_id`` has no foreign key, as in the other registry tables.
Reversible: downgrade drops the table.

Revision ID: registries_more_0002
Revises: registries_more_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import zhengwu.db

revision: str = "registries_more_0002"
down_revision: str | None = "registries_more_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registry_person_relations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("relative_id", sa.String(length=18), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("source_department", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("valid_from", zhengwu.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", zhengwu.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_batch_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_person_relations")),
    )
    with op.batch_alter_table("registry_person_relations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_registry_person_relations_resident_id", ["resident_id", "kind"], unique=False
        )
        batch_op.create_index(
            "ix_registry_person_relations_relative_id", ["relative_id", "kind"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("registry_person_relations", schema=None) as batch_op:
        batch_op.drop_index("ix_registry_person_relations_relative_id")
        batch_op.drop_index("ix_registry_person_relations_resident_id")
    op.drop_table("registry_person_relations")
