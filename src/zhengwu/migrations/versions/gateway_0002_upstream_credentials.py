"""Gateway: an upstream credential per service, so the gateway can authenticate itself to a front node.

The gateway strips the consumer's ``Authorization`` header (it is the consumer's platform token) and
front nodes require their own token, so a service keeps the node's token, encrypted with SM4-GCM under
a key derived from the platform secret. Nullable: services without one are forwarded as before.
Reversible: downgrade drops the column.

Revision ID: gateway_0002
Revises: gateway_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gateway_0002"
down_revision: str | None = "gateway_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_services") as batch:
        batch.add_column(sa.Column("upstream_credential", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchange_services") as batch:
        batch.drop_column("upstream_credential")
