"""A gateway call's record changed by one byte makes ``zhengwu audit verify`` fail and name it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update
from starlette.testclient import TestClient

from gateway_env import INSTANCE, Exchange
from zhengwu.cli import cli
from zhengwu.exchange.gateway.proxy import Gateway, GatewayConfig
from zhengwu.exchange.messagelog import find_record
from zhengwu.exchange.models import ExchangeLogRecord


def _verify(
    monkeypatch: pytest.MonkeyPatch, exchange: Exchange, tmp_path: Path
) -> tuple[int, dict[str, dict]]:
    monkeypatch.setenv("ZHENGWU_DATABASE_URL", exchange.url)
    monkeypatch.setenv("ZHENGWU_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["audit", "verify"], catch_exceptions=False)
    reports: dict[str, dict] = {}
    for line in result.output.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            reports[row["log"]] = row
    return result.exit_code, reports


def test_one_changed_byte_is_named_by_audit_verify(
    exchange: Exchange, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(Gateway(exchange.database, GatewayConfig(instance=INSTANCE))) as client:
        answers = [
            client.get(
                exchange.path("open", "/org/1"), headers=exchange.headers(**{"X-Road-Id": f"tamper-{i}"})
            )
            for i in range(3)
        ]
    assert all(a.status_code == 200 for a in answers)
    code, reports = _verify(monkeypatch, exchange, tmp_path)
    assert code == 0 and reports["exchange_message_log"]["ok"] is True
    with exchange.database.session() as db:
        victim = find_record(db, xroad_id="tamper-1")
        victim_id, original = victim.id, victim.response_hash
        changed = ("0" if original[10] != "0" else "1").join((original[:10], original[11:]))
        db.execute(
            update(ExchangeLogRecord).where(ExchangeLogRecord.id == victim_id).values(response_hash=changed)
        )
    code, reports = _verify(monkeypatch, exchange, tmp_path)
    assert code == 1
    assert reports["exchange_message_log"]["ok"] is False
    assert reports["exchange_message_log"]["first_bad_record_id"] == victim_id
    with exchange.database.session() as db:
        db.execute(
            update(ExchangeLogRecord).where(ExchangeLogRecord.id == victim_id).values(response_hash=original)
        )
    assert _verify(monkeypatch, exchange, tmp_path)[0] == 0
