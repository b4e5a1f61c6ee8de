"""``zhengwu opendata publish-open-entries`` and ``reindex`` on a committed database of each backend."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import delete

from factories import make_department
from factories_catalog import make_resource
from zhengwu.accounts.permissions import Actor
from zhengwu.catalog.models import OpenType
from zhengwu.cli_support import CliState
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.opendata.cli import opendata_group
from zhengwu.opendata.models import SearchTerm
from zhengwu.opendata.services import dataset_search


def test_publish_then_reindex(empty_database_url: str, tmp_path: Path) -> None:
    database = Database(make_engine(empty_database_url))
    upgrade(database.engine)
    public = [{"name": "站名", "name_en": "stop", "data_type": "string", "sensitivity": "public"}]
    with database.session() as db:
        dept = make_department(db)
        make_resource(db, provider_id=dept.id, name="公交站点", open_type=OpenType.OPEN, elements=public)
        make_resource(db, provider_id=dept.id, name="不开放的资源", open_type=OpenType.CLOSED)
    state = CliState(overrides={"database_url": empty_database_url, "data_dir": tmp_path})
    published = CliRunner().invoke(opendata_group, ["publish-open-entries"], obj=state)
    assert published.exit_code == 0, published.output
    assert json.loads(published.output)["published"] == 1
    with database.session() as db:
        db.execute(delete(SearchTerm))  # a damaged index
    result = CliRunner().invoke(opendata_group, ["reindex"], obj=state)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["indexed"] == 1
    with database.session() as db:
        assert dataset_search(db, actor=Actor.anonymous(), q="公交")["count"] == 1
    database.dispose()
