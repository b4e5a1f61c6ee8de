"""``zhengwu datastore load|info|delete``."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from zhengwu.cli import cli


def test_cli_load_info_delete(tmp_path: Path, empty_database_url: str) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes("城市,人口,日期\n杭州,1237,2024-01-01\n宁波,961,2024-01-02\n".encode("gbk"))
    base = ["--database-url", empty_database_url, "--data-dir", str(tmp_path), "datastore"]
    runner = CliRunner()
    rid = "11111111-2222-4333-8444-555555555555"
    loaded = runner.invoke(
        cli, [*base, "load", rid, str(path), "--index", "城市", "--type", "人口=numeric", "--open"]
    )
    assert loaded.exit_code == 0, loaded.output
    result = json.loads(loaded.stdout)
    assert [f["type"] for f in result["fields"]] == ["text", "numeric", "date"]
    assert result["row_count"] == 2
    assert result["source_encoding"] == "gb18030"
    info = runner.invoke(cli, [*base, "info", rid])
    assert json.loads(info.stdout)["meta"]["count"] == 2
    broken = tmp_path / "broken.csv"
    broken.write_text('a,b\n1,"open\n', encoding="utf-8")
    refused = runner.invoke(cli, [*base, "load", rid, str(broken)])
    assert refused.exit_code == 1
    assert "引号未闭合" in refused.output
    assert json.loads(runner.invoke(cli, [*base, "info", rid]).stdout)["meta"]["count"] == 2
    assert runner.invoke(cli, [*base, "delete", rid]).exit_code == 0
    assert runner.invoke(cli, [*base, "info", rid]).exit_code == 1
