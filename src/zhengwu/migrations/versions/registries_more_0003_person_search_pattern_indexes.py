"""Registries: the person search indexes (name, household region) with the pattern operator class.

Why: person search asks for a name or region prefix (``LIKE '张%'``). A btree in the database's collation
(any but "C") cannot serve a prefix, so the search walked the whole name index or scanned the table; with
``varchar_pattern_ops`` it is a range scan. The build also sorts bytewise instead of calling strcoll()
per comparison, about halving the index builds of a first load. PostgreSQL only (SQLite ignores
operator classes: nothing to do there). Reversible: downgrade restores the plain indexes.

Revision ID: registries_more_0003
Revises: registries_more_0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "registries_more_0003"
down_revision: str | None = "registries_more_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "ix_registry_persons_name": "name",
    "ix_registry_persons_household_region_code": "household_region_code",
}


def _recreate(pattern: bool) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, column in _INDEXES.items():
        op.drop_index(name, table_name="registry_persons")
        op.create_index(
            name,
            "registry_persons",
            [column],
            unique=False,
            postgresql_ops={column: "varchar_pattern_ops"} if pattern else {},
        )


def upgrade() -> None:
    _recreate(pattern=True)


def downgrade() -> None:
    _recreate(pattern=False)
