"""`zhengwu demo` as a person runs it: a real server process, sign-in, pages, and a second start that
reuses the seeded data. Also `zhengwu seed` on both backends."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from servers import DemoServer, free_port, start_demo, stop
from zhengwu.cli import cli
from zhengwu.db import Database, make_engine
from zhengwu.demo.services import (
    DEMO_ENTITIES,
    DEMO_PASSWORD,
    DEMO_PERSONS,
    demo_accounts,
    demo_is_seeded,
    demo_seed,
)
from zhengwu.registries.models import Entity, Person


def sign_in(client: httpx.Client, username: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert token
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": DEMO_PASSWORD,
            "login_csrf": token.group(1),
            "next": "/admin/departments",
        },
    )
    assert response.status_code == 303, response.text


def test_demo_serves_signed_in_pages(demo_server: DemoServer) -> None:
    with httpx.Client(base_url=demo_server.url, follow_redirects=False) as client:
        assert client.get("/healthz").json()["database"] == "sqlite"
        sign_in(client, "admin")
        depts = client.get("/admin/departments")
        assert depts.status_code == 200
        assert "公安厅" in depts.text and "市级" in depts.text and "县级" in depts.text
        users = client.get("/admin/users").text
        assert all(a.username in users for a in demo_accounts("330000"))
    assert (demo_server.data_dir / "zhengwu.db").exists()


def test_second_start_reuses_the_seeded_data(tmp_path: Path) -> None:
    port = free_port()
    proc = start_demo(tmp_path, port)
    first = stop(proc)
    assert "已创建演示机构" in first
    proc = start_demo(tmp_path, port)
    second = stop(proc)
    assert "演示数据已存在" in second
    assert "admin" in second and DEMO_PASSWORD in second


def test_two_demos_side_by_side(tmp_path: Path) -> None:
    a, b = free_port(), free_port()
    proc_a = start_demo(tmp_path / "a", a)
    proc_b = start_demo(tmp_path / "b", b)
    try:
        assert httpx.get(f"http://127.0.0.1:{a}/healthz").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{b}/healthz").status_code == 200
    finally:
        stop(proc_a)
        stop(proc_b)


def test_demo_seed_is_idempotent(db: Session) -> None:
    first = demo_seed(db, province_code="330000")
    assert not first.already_seeded and first.departments >= 10 + 3 * 5
    assert demo_is_seeded(db)
    again = demo_seed(db, province_code="330000")
    assert again.already_seeded


def test_seed_command_on_both_backends(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZHENGWU_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("ZHENGWU_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["seed", "--province", "330000"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "已创建演示机构" in result.output
    database = Database(make_engine(empty_database_url))
    with database.session() as session:
        assert demo_is_seeded(session)
        # The registries were filled through the real ingestion path, by the departments that own the data.
        assert session.scalar(select(func.count()).select_from(Person)) == DEMO_PERSONS
        assert session.scalar(select(func.count()).select_from(Entity)) == DEMO_ENTITIES
    database.dispose()


def test_demo_departments_call_each_other_through_the_gateway(demo_server: DemoServer) -> None:
    port = demo_server.url.rsplit(":", 1)[1]
    printed = (demo_server.data_dir / f"demo-{port}.log").read_text(encoding="utf-8")
    curls = re.findall(r"-H 'X-Road-Client: ([^']+)' -H 'Authorization: Bearer ([^']+)' '([^']+)'", printed)
    assert len(curls) == 2, printed
    with httpx.Client(follow_redirects=False, timeout=20) as client:
        for client_id, token, url in curls:
            answer = client.get(url, headers={"X-Road-Client": client_id, "Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
            items = answer.json()["items"]
            assert len(items) == 3
            # Only granted elements; the sensitive one masked.
            if "licences" in url:
                assert set(items[0]) == {"licence_no", "org_name", "uscc", "legal_rep_name", "valid_until"}
                assert items[0]["legal_rep_name"].endswith("*")
            else:
                assert set(items[0]) == {"uscc", "org_name", "insured_count", "contact_phone"}
                assert "****" in items[0]["contact_phone"]
        # The direct way to the front node needs its token: the gateway holds it, the caller does not.
        node = url.split("/r1/")[0] + "/demo-node/rs/services/employers/rows"
        assert client.get(node, headers={"Authorization": f"Bearer {curls[0][1]}"}).status_code == 401
    with httpx.Client(base_url=demo_server.url, follow_redirects=False) as browser:
        # The calls made before serving (allowed and refused) show in the monitoring page.
        sign_in(browser, "admin")
        monitoring = browser.get("/exchange/monitoring").text
        assert (
            "ElementNotGranted" in monitoring
            and "食品经营许可信息" in monitoring
            and "参保单位信息" in monitoring
        )


def registry_calls(printed: str) -> list[tuple[str, str, str, str, dict[str, str] | None]]:
    """The registry service calls the demo prints: (method, url, client, token, JSON body or None)."""
    found = re.findall(
        r"curl -X (GET|POST) '([^']+)' -H 'X-Road-Client: ([^']+)' -H 'Authorization: Bearer ([^']+)'"
        r"(?: -H 'Content-Type: application/json' -d '([^']+)')?",
        printed,
    )
    return [(m, u, c, t, json.loads(b) if b else None) for m, u, c, t, b in found]


def test_demo_registry_services_through_the_gateway(demo_server: DemoServer) -> None:
    port = demo_server.url.rsplit(":", 1)[1]
    printed = (demo_server.data_dir / f"demo-{port}.log").read_text(encoding="utf-8")
    calls = registry_calls(printed)
    assert [u.rsplit("/JICHUKU/", 1)[1].split("/")[0] for _, u, _, _, _ in calls] == [
        "population-verify",
        "credit-check",
        "population-lookup",
    ]
    with httpx.Client(timeout=20) as client:
        answers = [
            client.request(m, u, json=b, headers={"X-Road-Client": c, "Authorization": f"Bearer {t}"})
            for m, u, c, t, b in calls
        ]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    assert answers[0].json() == {"match": True}
    assert answers[1].json()["measures"]
    assert set(answers[2].json()) == {"resident_id", "name", "sex", "status"}
    assert "*" in answers[2].json()["name"]
