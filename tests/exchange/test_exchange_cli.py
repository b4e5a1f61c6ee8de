"""`zhengwu exchange ...`: sign heads, verify the log (naming the bad record), archive, check archives."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from zhengwu.cli import cli
from zhengwu.crypto import sm2_generate_keypair
from zhengwu.db import Database, upgrade
from zhengwu.exchange.messagelog import LogEntry, messagelog_append
from zhengwu.exchange.models import ExchangeLogRecord


def test_exchange_commands(empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZHENGWU_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("ZHENGWU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ZHENGWU_MODE", "test")
    monkeypatch.setenv("ZHENGWU_SECRET_KEY", "cli-test-secret-0123456789abcdef0123")
    private, public = sm2_generate_keypair()
    key_file, pub_file = tmp_path / "log.key", tmp_path / "log.pub"
    key_file.write_bytes(private)
    pub_file.write_bytes(public)
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    ids = []
    with database.session() as db:
        for i in range(5):
            entry = LogEntry(
                xroad_id=f"cli-{i}",
                request_id=f"r{i}",
                client_id="c",
                started_at=old,
                finished_at=old,
                http_status=200,
            )
            ids.append(messagelog_append(db, entry, now=old if i < 3 else None).id)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    code, out, _ = run("exchange", "log-sign-head", "--key-file", str(key_file))
    assert code == 0 and json.loads(out)["tree_size"] == 5
    code, out, _ = run("exchange", "log-verify", "--trusted-key", str(pub_file))
    assert code == 0 and json.loads(out)["ok"] is True

    code, out, _ = run(
        "exchange", "log-archive", "--key-file", str(key_file), "--out-dir", str(tmp_path / "a")
    )
    assert code == 0, out
    archived = json.loads(out)
    assert (archived["first_index"], archived["end_index"]) == (0, 3)
    code, out, _ = run(
        "exchange", "archive-verify", "--public-key", str(pub_file), "--chain", archived["path"]
    )
    assert code == 0 and json.loads(out)["ok"] is True

    with database.session() as db:
        db.execute(update(ExchangeLogRecord).where(ExchangeLogRecord.id == ids[4]).values(http_status=500))
    code, out, err = run("exchange", "log-verify")
    assert code == 1
    assert json.loads(out)["first_bad_record_id"] == ids[4]
    assert f"记录 {ids[4]}" in err
    database.dispose()
