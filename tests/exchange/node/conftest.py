"""Fixtures of the front node tests: a legacy database of each backend and a node over it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from factories_node import MARIADB_ADMIN_URL, PG_ADMIN_URL, TOKEN, Legacy, fill_legacy, node_config
from zhengwu.exchange.node.api import create_node_app


@pytest.fixture(scope="module", params=["postgresql", "mariadb"])
def legacy(request: pytest.FixtureRequest) -> Iterator[Legacy]:
    """A fresh legacy database of each backend (module-scoped: tests that write restore what they change)."""
    name = f"zhengwu_node_{os.getpid()}"
    admin_url = PG_ADMIN_URL if request.param == "postgresql" else MARIADB_ADMIN_URL
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    drop = (
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        if request.param == "postgresql"
        else f"DROP DATABASE IF EXISTS {name}"
    )
    create = (
        f'CREATE DATABASE "{name}"'
        if request.param == "postgresql"
        else f"CREATE DATABASE {name} CHARACTER SET gbk"
    )
    with admin.connect() as conn:
        conn.execute(text(drop))
        conn.execute(text(create))
    url = make_url(admin_url).set(database=name)
    if request.param == "mariadb":
        url = url.update_query_dict({"charset": "utf8mb4"})
    url_text = url.render_as_string(hide_password=False)
    engine = create_engine(url_text)
    fill_legacy(engine, request.param)
    try:
        yield Legacy(request.param, url_text, engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(drop))
        admin.dispose()


@pytest.fixture(scope="module")
def node(legacy: Legacy) -> Iterator[TestClient]:
    """The front node over ``legacy``, with the gateway's token sent by default."""
    config = node_config(legacy)
    app = create_node_app(config)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client
    app.state.engine.dispose()
