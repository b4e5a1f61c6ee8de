"""The `zhengwu` command: migrations, accounts without the web, tokens, audit verification, config."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from zhengwu.audit.models import AuditEvent
from zhengwu.cli import cli
from zhengwu.db import Database, make_engine

PASSWORD = "Cli-Passw0rd-123"


Invoke = Callable[..., Result]


@pytest.fixture
def run(empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    monkeypatch.setenv("ZHENGWU_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("ZHENGWU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ZHENGWU_MODE", "test")
    monkeypatch.setenv("ZHENGWU_SECRET_KEY", "cli-test-secret-0123456789abcdef0123")
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


def test_db_upgrade_and_current(run: Invoke) -> None:
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "数据库已升级到" in result.output
    assert run("db", "current").output.strip() != "(empty)"
    assert run("db", "downgrade", "base").exit_code == 0
    assert run("db", "current").output.strip() == "(empty)"


def test_user_and_token_create(run: Invoke, empty_database_url: str) -> None:
    created = run(
        "user", "create", "ops1", "--name", "运维一号", "--role", "platform_admin", "--password", PASSWORD
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["roles"] == ["platform_admin"]
    token = run("token", "create", "ops1", "--name", "脚本", "--days", "30")
    assert token.exit_code == 0
    assert token.output.strip().startswith("zw_")
    dup = run("user", "create", "ops1", "--name", "x", "--password", PASSWORD)
    assert dup.exit_code == 1 and "user.duplicate" in dup.output


def test_user_create_errors_are_clean(run: Invoke) -> None:
    weak = run("user", "create", "ops2", "--name", "x", "--password", "short")
    assert weak.exit_code == 1
    assert "password.too_short" in weak.output and "Traceback" not in weak.output
    nodept = run("user", "create", "ops3", "--name", "x", "--department", "NOPE", "--password", PASSWORD)
    assert nodept.exit_code == 1 and "NOPE" in nodept.output
    missing = run("token", "create", "ghost", "--name", "x")
    assert missing.exit_code == 1 and "ghost" in missing.output


def test_password_prompt_is_hidden(run: Invoke) -> None:
    result = run("user", "create", "ops4", "--name", "提示", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output


def test_audit_verify_detects_a_changed_byte(run: Invoke, empty_database_url: str) -> None:
    run("user", "create", "ops5", "--name", "审计", "--role", "auditor", "--password", PASSWORD)
    run("token", "create", "ops5", "--name", "t1")
    ok = run("audit", "verify")
    assert ok.exit_code == 0, ok.output
    reports = {r["log"]: r for r in map(json.loads, ok.output.splitlines())}
    assert reports["audit_trail"]["ok"] is True
    assert reports["exchange_message_log"]["ok"] is True  # every registered log is verified too
    db = Database(make_engine(empty_database_url))
    with db.session() as session:
        first = session.query(AuditEvent).order_by(AuditEvent.id).first()
        assert first is not None
        victim = first.id
        session.execute(update(AuditEvent).where(AuditEvent.id == victim).values(action="user.creatE"))
    db.dispose()
    bad = run("audit", "verify")
    assert bad.exit_code == 1
    assert json.loads(bad.output.splitlines()[0])["first_bad_id"] == victim


def test_config_show_masks_the_secret(run: Invoke) -> None:
    result = run("config", "show")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert {"name": "secret_key", "value": "********"}.items() <= next(
        r for r in rows if r["name"] == "secret_key"
    ).items()
    assert "cli-test-secret" not in result.output


def test_production_refuses_the_default_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZHENGWU_MODE", "production")
    monkeypatch.delenv("ZHENGWU_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["db", "current"])
    assert result.exit_code == 1
    assert "config.default_secret" in result.output


def test_console_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "zhengwu", "--version"], capture_output=True, text=True, check=True
    )
    assert "zhengwu" in result.stdout
