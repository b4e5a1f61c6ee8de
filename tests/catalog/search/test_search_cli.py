"""``zhengwu catalog reindex`` rebuilds the index of a committed database on both backends."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from factories import make_department
from factories_catalog import make_resource
from zhengwu.catalog.search.cli import catalog_group
from zhengwu.cli_support import CliState
from zhengwu.db import Database, make_engine, upgrade


def test_reindex_indexes_every_published_resource(empty_database_url: str, tmp_path: Path) -> None:
    database = Database(make_engine(empty_database_url))
    upgrade(database.engine)
    with database.session() as db:
        dept = make_department(db)
        make_resource(db, provider_id=dept.id, name="户籍人口基本信息")
        make_resource(db, provider_id=dept.id, name="出生登记信息")
        make_resource(db, provider_id=dept.id, name="草稿", published=False)
    database.dispose()
    state = CliState(overrides={"database_url": empty_database_url, "data_dir": tmp_path})
    result = CliRunner().invoke(catalog_group, ["reindex"], obj=state)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["indexed"] == 2 and out["database"] in ("sqlite", "postgresql")
