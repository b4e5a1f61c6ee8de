"""Registries: the versions tables keep only superseded states; the current state lives once.

Why: every first load wrote each record twice (current-state row and an identical open version), which
halved ingestion speed at 10 million persons. From now on ``registry_person_versions`` and
``registry_entity_versions`` hold closed intervals only, and the current-state row (with its
``valid_from``) is the open one. Upgrade deletes the open versions (they duplicate the current rows);
downgrade recreates them from the current rows. No schema change.

Revision ID: registries_more_0001
Revises: registries_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "registries_more_0001"
down_revision: str | None = "registries_0001"
branch_labels: str | Sequence[str] | None = ("registries_more",)
depends_on: str | Sequence[str] | None = None

_PERSON = (
    "resident_id, name, former_names, sex, birth_date, ethnicity, nationality, household_region_code, "
    "household_address, current_region_code, current_address, phone, status, status_date, row_hash, "
    "source_department, valid_from, batch_id"
)
_ENTITY = (
    "uscc, name, former_names, entity_type, registration_authority_code, registration_authority, "
    "org_code, legal_representative_id, registered_capital, currency, established_date, business_scope, "
    "region_code, address, status, status_date, row_hash, source_department, valid_from, batch_id"
)


def upgrade() -> None:
    op.execute("DELETE FROM registry_person_versions WHERE valid_to IS NULL")
    op.execute("DELETE FROM registry_entity_versions WHERE valid_to IS NULL")


def downgrade() -> None:
    op.execute(
        f"INSERT INTO registry_person_versions ({_PERSON}, valid_to) "  # noqa: S608
        f"SELECT {_PERSON}, NULL FROM registry_persons"
    )
    op.execute(
        f"INSERT INTO registry_entity_versions ({_ENTITY}, valid_to) "  # noqa: S608
        f"SELECT {_ENTITY}, NULL FROM registry_entities"
    )
