"""`zhengwu exchange ...`: sign heads, verify the log (naming the bad record), archive, check archives."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from factories import SYSTEM, make_department
from zhengwu.cli import cli
from zhengwu.crypto import sm2_generate_keypair
from zhengwu.db import Database, upgrade
from zhengwu.exchange.credentials import credential_decrypt, credential_key
from zhengwu.exchange.messagelog import LogEntry, messagelog_append
from zhengwu.exchange.models import ExchangeLogRecord, ExchangeService
from zhengwu.exchange.schemas import ServiceIn, SubsystemIn
from zhengwu.exchange.services import service_register, subsystem_register


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


def test_service_credential_command_rotates_and_removes(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = "cli-test-secret-0123456789abcdef0123"
    monkeypatch.setenv("ZHENGWU_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("ZHENGWU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ZHENGWU_MODE", "test")
    monkeypatch.setenv("ZHENGWU_SECRET_KEY", secret)
    monkeypatch.delenv("ZHENGWU_UPSTREAM_CREDENTIAL", raising=False)
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    with database.session() as db:
        dept = make_department(db)
        sub = subsystem_register(
            db,
            actor=SYSTEM,
            data=SubsystemIn(department_id=dept.id, code="NODE", name="前置机"),
            instance="CN-DEV",
        )
        svc = service_register(
            db,
            actor=SYSTEM,
            instance="CN-DEV",
            data=ServiceIn(
                subsystem_id=sub.id, service_code="rows", name="行", upstream_url="http://n:8700/s"
            ),
        )
    runner = CliRunner()
    # Prompted (hidden, confirmed) when not given; never echoed back.
    result = runner.invoke(cli, ["exchange", "service-credential", str(svc.id)], input="tok-1\ntok-1\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.split("\n", 2)[-1])["has_upstream_credential"] is True
    result = runner.invoke(cli, ["exchange", "service-credential", str(svc.id), "--credential", "tok-2"])
    assert result.exit_code == 0 and "tok-2" not in result.output
    with database.session() as db:
        row = db.get(ExchangeService, svc.id)
        assert row is not None and row.upstream_credential is not None
        assert credential_decrypt(credential_key(secret), svc.id, row.upstream_credential) == "tok-2"
    result = runner.invoke(cli, ["exchange", "service-credential", str(svc.id), "--remove"])
    assert result.exit_code == 0 and '"has_upstream_credential": false' in result.output
    both = runner.invoke(
        cli, ["exchange", "service-credential", str(svc.id), "--remove", "--credential", "x"]
    )
    assert both.exit_code != 0
    missing = runner.invoke(cli, ["exchange", "service-credential", "999999", "--credential", "x"])
    assert missing.exit_code != 0
    database.dispose()
