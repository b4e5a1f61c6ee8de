"""Message log: the grant that allowed a call and the purpose the consumer declared.

Why: a record must say under which grant (授权) data left a department and for what declared purpose
(X-Zhengwu-Purpose), not only the free-text X-Road-Issue. Both columns are nullable: refused calls have
no grant, and records written before this revision have neither. Existing leaves stay valid: the leaf
encoding includes the two fields only when they are set. Reversible: downgrade drops the columns.

Revision ID: gwperf_0001
Revises: gwsec_exchange_0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gwperf_0001"
down_revision: str | None = "gwsec_exchange_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_log_records") as batch:
        batch.add_column(sa.Column("grant_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("purpose", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchange_log_records") as batch:
        batch.drop_column("purpose")
        batch.drop_column("grant_id")
