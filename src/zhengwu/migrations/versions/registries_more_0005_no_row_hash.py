"""Registries: no ``row_hash`` in the population and entity tables; unchanged rows are found by value.

Why: the hash told an ingestion which delivered rows were unchanged. Comparing the delivered values with
the current ones in SQL (``zhengwu.registries.ingest``) tells the same, exactly, and also sees a
delivery that would change nothing though its hash differed (former names accumulated by the registry).
The hash cost every load a BLAKE2b per row in Python and 33 bytes per row that ``COPY`` parsed and every
index build scanned: a first load of ten million persons is ≈ 4 s faster without it (docs/benchmarks.md).
The credit and geospatial registries keep their own hashes.

Reversible: downgrade adds the column back and computes each row's hash from its stored values, as the
validator did from the delivered ones (where the registry accumulated former names, the next delivery of
that row then counts as a change once).

Revision ID: registries_more_0005
Revises: registries_more_0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "registries_more_0005"
down_revision: str | None = "registries_more_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The hashed values, in the validator's order (frozen here: the application no longer hashes them).
_PERSON = (
    "resident_id", "name", "former_names", "sex", "birth_date", "ethnicity", "nationality",
    "household_region_code", "household_address", "current_region_code", "current_address", "phone",
    "status", "status_date",
)  # fmt: skip
_ENTITY = (
    "uscc", "name", "former_names", "entity_type", "registration_authority_code", "registration_authority",
    "org_code", "legal_representative_id", "registered_capital", "currency", "established_date",
    "business_scope", "region_code", "address", "status", "status_date",
)  # fmt: skip
# Each table with the key its rows are read and updated by, a page at a time.
_TABLES = {
    "registry_persons": ("resident_id", _PERSON),
    "registry_person_versions": ("id", _PERSON),
    "registry_entities": ("uscc", _ENTITY),
    "registry_entity_versions": ("id", _ENTITY),
}
_PAGE = 10_000


def _row_hash(values: Sequence[Any]) -> str:
    text = "\x1f".join(["\x00" if v is None else str(v) for v in values])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("row_hash")


def downgrade() -> None:
    bind = op.get_bind()
    for table, (key, columns) in _TABLES.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("row_hash", sa.String(32), nullable=True))
        # A page at a time in key order, so that a registry of millions never sits in memory at once.
        select = f"SELECT {key}, {', '.join(columns)} FROM {table}"  # noqa: S608
        update = sa.text(f"UPDATE {table} SET row_hash = :hash WHERE {key} = :key")  # noqa: S608
        rows = bind.execute(sa.text(f"{select} ORDER BY {key} LIMIT {_PAGE}")).all()
        while rows:
            bind.execute(update, [{"key": r[0], "hash": _row_hash(r[1:])} for r in rows])
            after = sa.text(f"{select} WHERE {key} > :last ORDER BY {key} LIMIT {_PAGE}")
            rows = bind.execute(after, {"last": rows[-1][0]}).all()
        with op.batch_alter_table(table) as batch:
            batch.alter_column("row_hash", existing_type=sa.String(32), nullable=False)
