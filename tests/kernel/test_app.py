"""The application's start-up work: the search indexes loaded in the background (``app.search_warm``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from factories_opendata import make_dataset, make_publisher
from zhengwu.accounts.permissions import Actor
from zhengwu.app import search_warm
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.opendata import search_memory
from zhengwu.opendata.services import dataset_search


def test_search_warm_loads_the_portal_index_before_the_first_search(
    empty_database_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(make_engine(empty_database_url))
    upgrade(database.engine)
    with database.session() as db:
        publisher = make_publisher(db)
        make_dataset(db, publisher, title="公交线路站点")
        make_dataset(db, publisher, title="空气质量日报")
    search_memory.clear_cache()
    with caplog.at_level(logging.INFO, logger="zhengwu"):
        search_warm(database)
    assert any("2 open datasets" in r.getMessage() for r in caplog.records), caplog.text

    # The first search after the warm-up must not read the docs table again.
    def no_second_load(*_: object, **__: object) -> object:
        raise AssertionError("the search index was loaded again")

    monkeypatch.setattr(search_memory, "_load_docs", no_second_load)
    with database.session() as db:
        result = dataset_search(db, actor=Actor.anonymous(), q="公交", facet_fields=["organization"])
    assert [p["title"] for p in result["results"]] == ["公交线路站点"]
    search_memory.clear_cache()
    database.dispose()


def test_search_warm_failure_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # A database without the platform's tables: the warm-up fails, the server must start all the same.
    database = Database(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    with caplog.at_level(logging.WARNING, logger="zhengwu"):
        search_warm(database)
    assert "search warm-up failed: OperationalError" in caplog.text
    database.dispose()
