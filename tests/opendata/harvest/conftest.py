"""Fixtures of the harvest tests: one real remote portal per session, a misbehaving server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from factories import make_department, make_user
from factories_harvest import FaultServer, RemotePortal, start_remote, stop_remote
from zhengwu.accounts.models import Role
from zhengwu.accounts.schemas import DepartmentOut, UserOut


@pytest.fixture(scope="session")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemotePortal]:
    """A real portal (`zhengwu serve` on SQLite) that tests add to, change and delete from."""
    portal = start_remote(tmp_path_factory.mktemp("remote"))
    try:
        yield portal
    finally:
        stop_remote(portal)


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    server = FaultServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def target(db: Session) -> DepartmentOut:
    """The local publisher harvested datasets go to."""
    return make_department(db, name="省数据局")


@pytest.fixture
def operator(db: Session) -> UserOut:
    """A platform administrator (the portal's operator)."""
    return make_user(db, roles=[Role.PLATFORM_ADMIN])
