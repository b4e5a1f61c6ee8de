"""``zhengwu registries ingest``: a clean report and exit status, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from registries.registries_helpers import csv_text, persons_rows
from zhengwu.accounts.models import Department, DepartmentLevel
from zhengwu.cli import cli
from zhengwu.db import Database, upgrade


def test_cli_ingest_atomic_partial_and_rerun(tmp_path: Path, empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    with database.session() as db:
        db.add(
            Department(code="GAT", name="省公安厅", level=DepartmentLevel.PROVINCIAL, region_code="330000")
        )
    database.dispose()
    rows = persons_rows(5)
    rows[2]["birth_date"] = "2001-13-01"
    path = tmp_path / "persons.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    base = ["--database-url", empty_database_url, "--data-dir", str(tmp_path), "registries", "ingest"]
    runner = CliRunner()
    rejected = runner.invoke(cli, [*base, "population", str(path), "--source", "GAT", "--no-progress"])
    assert rejected.exit_code == 1, rejected.output
    assert "已拒绝" in rejected.output and "第 4 行 [birth_date]" in rejected.output
    partial = runner.invoke(
        cli, [*base, "population", str(path), "--source", "GAT", "--partial", "--json", "--no-progress"]
    )
    assert partial.exit_code == 0, partial.output
    result = json.loads(partial.stdout)
    assert (result["status"], result["inserted"], result["rows_invalid"]) == ("partial", 4, 1)
    assert Path(result["error_file"]).parent == tmp_path / "registries" / "errors"
    again = runner.invoke(
        cli, [*base, "population", str(path), "--source", "GAT", "--partial", "--no-progress"]
    )
    assert again.exit_code == 0 and "未做任何更改" in again.output
    unknown = runner.invoke(cli, [*base, "population", str(path), "--source", "NOPE", "--no-progress"])
    assert unknown.exit_code == 1 and "来源部门" in unknown.output and "Traceback" not in unknown.output
