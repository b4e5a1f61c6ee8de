"""The data layer on both backends: migrations, model parity, time zones, rollback isolation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from zhengwu.accounts.models import PlatformState
from zhengwu.db import Database, current_revision, downgrade, make_engine, upgrade, utcnow
from zhengwu.models import metadata


def test_migrations_match_the_models(database: Database) -> None:
    """Autogenerate finds nothing to do: every model change came with a migration."""
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = Database(make_engine(f"sqlite:///{tmp_path / 'a' / 'z.db'}"))
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()


def test_upgrade_downgrade_round_trip(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'rt.db'}")
    upgrade(engine)
    assert current_revision(engine) is not None
    assert "users" in inspect(engine).get_table_names()
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert "users" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "audit_events" in inspect(engine).get_table_names()
    engine.dispose()


def test_times_come_back_aware_utc(db: Session) -> None:
    beijing = dt.timezone(dt.timedelta(hours=8))
    when = dt.datetime(2026, 10, 1, 8, 0, tzinfo=beijing)
    db.add(PlatformState(key="t", value={"a": 1}, updated_at=when))
    db.flush()
    db.expire_all()
    row = db.scalar(select(PlatformState).where(PlatformState.key == "t"))
    assert row is not None
    assert row.updated_at == when
    assert row.updated_at.utcoffset() == dt.timedelta(0)


def test_naive_times_are_refused(db: Session) -> None:
    db.add(PlatformState(key="n", value={}, updated_at=dt.datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive datetime"):
        db.flush()


@pytest.mark.parametrize("attempt", [1, 2])
def test_each_test_starts_clean(db: Session, attempt: int) -> None:
    """Both runs see an empty table: the previous test's rows were rolled back, commits included."""
    assert db.scalar(select(PlatformState).where(PlatformState.key == "isolation")) is None
    db.add(PlatformState(key="isolation", value={"attempt": attempt}, updated_at=utcnow()))
    db.commit()
