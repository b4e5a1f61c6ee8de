"""``zhengwu node openapi`` / ``register`` / ``register-upstream`` against the platform's own API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import SYSTEM, make_department, make_token, make_user
from factories_node import TOKEN, Legacy
from zhengwu.accounts.models import Role
from zhengwu.cli import cli
from zhengwu.exchange.node import cli as node_cli
from zhengwu.exchange.schemas import SubsystemIn
from zhengwu.exchange.services import service_list, subsystem_register


def _options(legacy: Legacy) -> list[str]:
    return [
        "--database-url",
        legacy.url,
        "--publish",
        "persons=legacy_person",
        "--columns",
        "persons=id,name,updated_at",
        "--change-column",
        "persons=updated_at",
        "--publish",
        "young=v_person_born_after_1990",
        "--columns",
        "young=id,name",
        "--key",
        "young=id",
        "--token",
        TOKEN,
    ]


def test_openapi_command_from_options(legacy: Legacy) -> None:
    result = CliRunner().invoke(cli, ["node", "openapi", *_options(legacy), "--server-url", "http://n:8700"])
    assert result.exit_code == 0, result.output
    docs = json.loads(result.output)
    assert set(docs) == {"persons", "young"}
    assert set(docs["persons"]["components"]["schemas"]["Row"]["properties"]) == {"id", "name", "updated_at"}
    assert docs["young"]["servers"] == [{"url": "http://n:8700/services/young"}]


def test_openapi_command_refuses_a_table_without_columns(legacy: Legacy) -> None:
    args = ["node", "openapi", "--database-url", legacy.url, "--publish", "p=legacy_person", "--token", TOKEN]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0 and "--columns" in result.output


@pytest.fixture
def platform(client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The platform's API reached through the test client, a department and its subsystem."""
    dept = make_department(db)
    admin = make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id)
    sub = subsystem_register(
        db,
        actor=SYSTEM,
        data=SubsystemIn(department_id=dept.id, code="HUJI", name="户籍系统"),
        instance="CN-DEV",
    )

    def post(url: str, **kwargs: Any) -> Any:
        return client.post(url.removeprefix("http://platform"), **kwargs)

    monkeypatch.setattr(node_cli.httpx, "post", post)
    return {"token": make_token(db, admin), "subsystem_id": sub.id}


def _platform_args(platform: dict[str, Any]) -> list[str]:
    return [
        "--platform-url",
        "http://platform",
        "--platform-token",
        platform["token"],
        "--subsystem-id",
        str(platform["subsystem_id"]),
    ]


def test_register_puts_every_published_service_in_the_directory(
    legacy: Legacy, platform: dict[str, Any], db: Session
) -> None:
    args = [
        "node",
        "register",
        *_options(legacy),
        *_platform_args(platform),
        "--node-url",
        "http://10.1.1.1:8700/",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    services = service_list(db, actor=SYSTEM, instance="CN-DEV", subsystem_id=platform["subsystem_id"])
    # The node's token went along as the upstream credential, so the gateway can call the node.
    assert {(s.service_code, s.upstream_url, s.has_openapi, s.has_upstream_credential) for s in services} == {
        ("persons", "http://10.1.1.1:8700/services/persons", True, True),
        ("young", "http://10.1.1.1:8700/services/young", True, True),
    }
    assert TOKEN not in result.output
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and again.output.count("already registered") == 2


def test_register_upstream_for_an_existing_rest_api(
    platform: dict[str, Any], db: Session, tmp_path: Path
) -> None:
    spec = tmp_path / "api.json"
    spec.write_text(
        "\ufeff" + json.dumps({"openapi": "3.0.3", "info": {}, "paths": {"/x": {}}}), encoding="utf-8"
    )
    base = ["node", "register-upstream", *_platform_args(platform), "--service-code", "licence"]
    result = CliRunner().invoke(
        cli,
        [
            *base,
            "--name",
            "营业执照",
            "--upstream-url",
            "https://api.dept.example/v2",
            "--openapi-file",
            str(spec),
        ],
        env={"ZHENGWU_UPSTREAM_CREDENTIAL": "dept-api-key-123"},
    )
    assert result.exit_code == 0, result.output
    (svc,) = service_list(db, actor=SYSTEM, instance="CN-DEV", subsystem_id=platform["subsystem_id"])
    assert (
        svc.upstream_url == "https://api.dept.example/v2" and svc.has_openapi and svc.has_upstream_credential
    )
    assert "dept-api-key-123" not in result.output
    bad = CliRunner().invoke(
        cli, [*base, "--name", "x", "--upstream-url", "ftp://x", "--service-code", "other"]
    )
    assert bad.exit_code == 1 and "node.platform.refused" in bad.output
