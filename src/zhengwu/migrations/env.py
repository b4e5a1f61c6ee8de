"""Alembic environment: runs migrations on the engine handed in by zhengwu.db.alembic_config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from zhengwu.models import metadata

config = context.config
engine: Engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds for ALTER
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
