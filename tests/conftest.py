"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL, rolled back per test.

PostgreSQL is required: if it cannot be reached the run fails loudly (scripts/test.sh starts it first).
Set ZHENGWU_TEST_PG_ADMIN_URL to use another server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from servers import DemoServer, free_port, start_demo, stop
from zhengwu.accounts.services import configure_password_hashing
from zhengwu.app import create_app
from zhengwu.config import Settings, load_settings
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.web.deps import get_db

PG_ADMIN_URL = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
BACKENDS = ["sqlite", "postgresql"]

configure_password_hashing(fast=True)


def _pg_database_url(worker: str, purpose: str = "test") -> str:
    # The process id keeps concurrent test runs on one machine (and one server) out of each other's way.
    name = f"zhengwu_{purpose}_{worker}_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure here means the suite cannot run as promised
        pytest.exit(
            f"PostgreSQL is required for the test suite but is not reachable at {PG_ADMIN_URL}: {exc}. "
            "Run the tests with `make test` (scripts/test.sh starts PostgreSQL).",
            returncode=3,
        )
    finally:
        admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _pg_drop(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def worker_name(request: pytest.FixtureRequest) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, worker_name: str
) -> Iterator[Database]:
    """A migrated database of each backend, shared by the session (tests roll back their changes)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        url = _pg_database_url(worker_name)
    db = Database(make_engine(url))
    upgrade(db.engine)
    yield db
    db.dispose()
    if request.param == "postgresql":
        _pg_drop(url)


@pytest.fixture
def db(database: Database) -> Iterator[Session]:
    """A session whose every change, commits included, is rolled back when the test ends."""
    connection = database.engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return load_settings(
        mode="test",
        secret_key=TEST_SECRET,
        data_dir=tmp_path,
        database_url=database.engine.url.render_as_string(hide_password=False),
    )


@pytest.fixture
def app(settings: Settings, database: Database, db: Session) -> FastAPI:
    application = create_app(settings, database=database)

    def _test_db() -> Iterator[Session]:
        yield db
        db.flush()

    application.dependency_overrides[get_db] = _test_db
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path, worker_name: str) -> Iterator[str]:
    """A URL of a new, empty database of each backend, for tests that commit (CLI, servers)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    url = _pg_database_url(worker_name, purpose="fresh")
    yield url
    _pg_drop(url)


@pytest.fixture
def empty_pg_database_url(worker_name: str) -> Iterator[str]:
    """A URL of a new, empty PostgreSQL database, for tests of a path only PostgreSQL has."""
    url = _pg_database_url(worker_name, purpose="fresh")
    yield url
    _pg_drop(url)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """One `zhengwu demo` process per test session (SQLite, seeded), on a free port."""
    data_dir = tmp_path_factory.mktemp("demo")
    port = free_port()
    proc = start_demo(data_dir, port)
    server = DemoServer(url=f"http://127.0.0.1:{port}", data_dir=data_dir)
    try:
        yield server
    finally:
        stop(proc)
