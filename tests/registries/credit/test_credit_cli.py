"""``zhengwu credit ingest``: a clean report and exit status, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from factories import organ_uscc
from zhengwu.accounts.models import Department, DepartmentLevel
from zhengwu.cli import cli
from zhengwu.db import Database, upgrade


def test_cli_ingest_reports_rejections_and_unknown_sources(tmp_path: Path, empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    with database.session() as db:
        db.add(
            Department(
                code="SCJG", name="省市场监管局", level=DepartmentLevel.PROVINCIAL, region_code="330000"
            )
        )
    database.dispose()
    path = tmp_path / "records.csv"
    path.write_text(
        "决定文书号,类型,行政相对人代码,行政相对人名称,类别,内容,依据,决定日期\n"
        f"罚〔2026〕1号,行政处罚,{organ_uscc('330100', 5)},某公司,罚款,罚款,条例,2026-01-05\n",
        encoding="utf-8",
    )
    base = ["--database-url", empty_database_url, "--data-dir", str(tmp_path), "credit", "ingest", "records"]
    runner = CliRunner()
    rejected = runner.invoke(cli, [*base, str(path), "--source", "SCJG", "--json"])
    assert rejected.exit_code == 1, rejected.output
    result = json.loads(rejected.output)
    assert result["status"] == "rejected" and result["errors"][0]["reason"] == "主体不在法人单位基础库中"
    assert Path(result["error_file"]).is_file()
    unknown = runner.invoke(cli, [*base, str(path), "--source", "NOPE"])
    assert unknown.exit_code != 0 and "Traceback" not in unknown.output and "NOPE" in unknown.output
