"""Registries: the current tables' identifier keys compared bytewise (``COLLATE "C"``), PostgreSQL only.

Why: ``resident_id`` and ``uscc`` are codes of ASCII digits and capitals, whose order is the same in
every collation, but a key in the database's collation (``C.UTF-8`` and the like are libc locales on
PostgreSQL 15) is compared with ``strcoll()`` and without abbreviated keys. The first load of a registry
builds its primary key after the ``COPY`` (``zhengwu.registries.firstload.bulk_indexes``); bytewise, the
build of ten million keys is ≈ 25 % faster (docs/benchmarks.md), and every probe of the key is cheaper.
Equality, the only comparison other tables make with these keys, is the same in both collations.
SQLite compares bytewise already: nothing to do there. Reversible: downgrade restores the default.

Revision ID: registries_more_0004
Revises: registries_more_0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "registries_more_0004"
down_revision: str | None = "registries_more_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = {"registry_persons": "resident_id", "registry_entities": "uscc"}


def _alter(collation: str | None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in _KEYS.items():
        op.alter_column(
            table,
            column,
            type_=sa.String(18, collation=collation),
            existing_type=sa.String(18),
            existing_nullable=False,
            postgresql_using=None,
        )


def upgrade() -> None:
    _alter("C")


def downgrade() -> None:
    _alter("default")
