"""Per-grant policies: who may set them, what is checked, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from factories import actor_of, make_user
from gateway_env import Exchange
from zhengwu.accounts.models import Department, Role
from zhengwu.cli import cli
from zhengwu.errors import NotFound, PermissionDenied, ValidationError
from zhengwu.exchange.gateway.models import GatewayGrantPolicy
from zhengwu.exchange.gateway.services import grant_policy_set


def test_only_the_provider_sets_a_policy_and_values_are_checked(exchange: Exchange) -> None:
    with exchange.database.session() as db:
        provider = db.scalar(select(Department.id).where(Department.uscc == exchange.provider_uscc))
        consumer = db.scalar(select(Department.id).where(Department.uscc == exchange.consumer_uscc))
        admin = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=provider))
        other = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=consumer))
        args = {"grant_id": exchange.grant_id, "rate_per_second": 5.0, "burst": 10, "quota_per_day": 100}
        with pytest.raises(PermissionDenied):
            grant_policy_set(db, actor=other, clear_elements=[], **args)  # the consumer cannot loosen it
        with pytest.raises(ValidationError, match="registered_capital"):
            grant_policy_set(db, actor=admin, clear_elements=["registered_capital"], **args)  # not granted
        with pytest.raises(ValidationError):
            grant_policy_set(db, actor=admin, clear_elements=[], **{**args, "rate_per_second": 0.0})
        with pytest.raises(ValidationError):
            grant_policy_set(db, actor=admin, clear_elements=[], **{**args, "quota_per_day": 0})
        with pytest.raises(NotFound):
            grant_policy_set(db, actor=admin, clear_elements=[], **{**args, "grant_id": 999_999})
        out = grant_policy_set(db, actor=admin, clear_elements=["legal_rep_name"], **args)
        assert out["clear_elements"] == ["legal_rep_name"]
        db.rollback()


def test_policy_command(exchange: Exchange, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHENGWU_DATABASE_URL", exchange.url)
    monkeypatch.setenv("ZHENGWU_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(
        cli,
        [
            "gateway-policy",
            str(exchange.quota_grant_id),
            "--rate",
            "3",
            "--burst",
            "6",
            "--quota",
            "2",
            "--clear",
            "legal_rep_name",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["burst"] == 6
    with exchange.database.session() as db:
        row = db.scalar(
            select(GatewayGrantPolicy).where(GatewayGrantPolicy.grant_id == exchange.quota_grant_id)
        )
        assert row is not None and row.rate_per_second == 3.0 and row.quota_per_day == 2
    bad = CliRunner().invoke(cli, ["gateway-policy", "999999", "--rate", "1", "--burst", "1"])
    assert bad.exit_code == 1
