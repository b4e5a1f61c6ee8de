"""The lean HTTP path of lookup and verification (zhengwu.registries.hotpath): same answers and errors as
the FastAPI routes, access records committed before the answer and verifiable, token cache with a
bounded revocation delay.

These tests commit (the lean path has its own connections and cannot see a rolled-back test session):
each gets a fresh database of each backend. On SQLite the lean path is off and the routes answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import TEST_SECRET
from factories import SYSTEM, make_department, make_token, make_user
from zhengwu.accounts.models import ApiToken, Role
from zhengwu.accounts.services import token_revoke
from zhengwu.app import Platform, create_app
from zhengwu.audit.models import AuditEvent
from zhengwu.audit.services import audit_seal, audit_verify
from zhengwu.config import load_settings
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.registries.hotpath import RegistryHotPath
from zhengwu.registries.ingest import ingest
from zhengwu.synthetic import generate_entities, generate_persons, write_batches
from zhengwu.web.deps import get_db

PERSONS = 40
ENTITIES = 10


@dataclass
class Committed:
    database: Database
    app: FastAPI
    tokens: dict[str, str]
    person: dict[str, str]
    entity: dict[str, str]
    tmp: Path


@pytest.fixture
def committed(empty_database_url: str, tmp_path: Path) -> Iterator[Committed]:
    database = Database(make_engine(empty_database_url))
    upgrade(database.engine)
    persons, entities = tmp_path / "persons.csv", tmp_path / "entities.csv"
    write_batches(generate_persons(count=PERSONS), persons, progress=False)
    write_batches(generate_entities(count=ENTITIES, persons_count=PERSONS), entities, progress=False)
    with database.session() as db:
        department = make_department(db, name="省公安厅")
        tokens = {
            role.value: make_token(
                db,
                make_user(
                    db,
                    roles=[role],
                    department_id=department.id if role != Role.PUBLIC_USER else None,
                ),
            )
            for role in (Role.DEVELOPER, Role.PLATFORM_ADMIN, Role.PUBLIC_USER)
        }
        for path, registry in ((persons, "population"), (entities, "entities")):
            ingest(
                db,
                actor=SYSTEM,
                registry=registry,
                source=department.code,
                path=path,
                error_dir=tmp_path / "errors",
            )
    person = next(generate_persons(count=1)).to_pylist()[0]
    entity = next(
        r
        for b in generate_entities(count=ENTITIES, persons_count=PERSONS)
        for r in b.to_pylist()
        if r["status"] == "存续"
    )
    settings = load_settings(
        mode="test", secret_key=TEST_SECRET, data_dir=tmp_path, database_url=empty_database_url
    )
    app = create_app(settings, database=database)
    yield Committed(database, app, tokens, person, entity, tmp_path)
    database.dispose()


def _lean_of(app: FastAPI) -> RegistryHotPath:
    """The app's lean path (in front of the FastAPI stack)."""
    assert isinstance(app, Platform) and isinstance(app.front, RegistryHotPath)
    return app.front


def _routes_only(committed: Committed) -> FastAPI:
    """The same app with the lean path stepping aside (it does whenever get_db is overridden)."""
    app = create_app(committed.app.state.settings, database=committed.database)
    app.dependency_overrides[get_db] = get_db
    return app


def _calls(c: Committed) -> list[tuple[str, str, dict[str, Any] | None, dict[str, str], bytes | None]]:
    dev = {"Authorization": f"Bearer {c.tokens['developer']}"}
    admin = {"Authorization": f"Bearer {c.tokens['platform_admin']}"}
    public = {"Authorization": f"Bearer {c.tokens['public_user']}"}
    rid, name = str(c.person["resident_id"]), str(c.person["name"])
    uscc, ename = str(c.entity["uscc"]), str(c.entity["name"])
    pv, ev = "/api/v1/registries/population/verify", "/api/v1/registries/entities/verify"
    return [
        ("GET", f"/api/v1/registries/population/{rid}", None, dev, None),
        ("GET", f"/api/v1/registries/population/{rid}", None, admin, None),  # clear: the route answers
        ("GET", "/api/v1/registries/population/11010519491231002X", None, dev, None),  # 404
        ("GET", "/api/v1/registries/population/110105194912310021", None, dev, None),  # 400 checksum
        ("GET", "/api/v1/registries/population/12345", None, dev, None),  # 400 length
        ("GET", f"/api/v1/registries/population/{rid}", None, public, None),  # 403
        ("GET", f"/api/v1/registries/population/{rid}", None, {}, None),  # 401 anonymous
        ("GET", f"/api/v1/registries/population/{rid}", None, {"Authorization": "Bearer zw_nope_x"}, None),
        ("GET", f"/api/v1/registries/population/{rid}", None, {"Authorization": "Bearer garbage"}, None),
        ("GET", f"/api/v1/registries/population/{rid}", None, {"Authorization": "Basic abc"}, None),
        ("GET", f"/api/v1/registries/entities/{uscc}", None, dev, None),
        ("GET", f"/api/v1/registries/entities/{uscc}", None, admin, None),
        ("GET", "/api/v1/registries/entities/91350100M000100Y4", None, dev, None),  # 400
        ("POST", pv, {"resident_id": rid, "name": name}, dev, None),
        ("POST", pv, {"resident_id": rid, "name": f" {name} "}, dev, None),
        ("POST", pv, {"resident_id": rid, "name": "不是他"}, dev, None),
        ("POST", pv, {"resident_id": "11010519491231002X", "name": "张三"}, dev, None),
        ("POST", pv, {"resident_id": "110105194912310021", "name": "张三"}, dev, None),
        ("POST", pv, {"resident_id": rid}, dev, None),  # missing name: request.invalid
        ("POST", pv, {"resident_id": rid, "name": ""}, dev, None),
        ("POST", pv, None, dev, b"{not json"),
        ("POST", pv, {"resident_id": rid, "name": name}, public, None),
        ("POST", pv, {"resident_id": rid, "name": name}, {}, None),
        ("POST", ev, {"uscc": uscc, "name": ename}, dev, None),
        ("POST", ev, {"uscc": uscc, "name": "x"}, dev, None),
        ("POST", ev, {"uscc": "91350100M000100Y4", "name": "x"}, dev, None),
    ]


def _call(client: TestClient, method: str, url: str, body: Any, headers: dict[str, str], raw: bytes | None):
    if raw is not None:
        return client.request(
            method, url, content=raw, headers={**headers, "Content-Type": "application/json"}
        )
    return client.request(method, url, json=body, headers=headers)


def test_same_answers_and_errors_as_the_routes(committed: Committed) -> None:
    with TestClient(committed.app) as lean, TestClient(_routes_only(committed)) as routes:
        for method, url, body, headers, raw in _calls(committed):
            a = _call(lean, method, url, body, headers, raw)
            b = _call(routes, method, url, body, headers, raw)
            assert (a.status_code, a.json()) == (b.status_code, b.json()), (method, url, body, headers)
            assert a.headers["content-type"] == b.headers["content-type"]
            for name in ("x-content-type-options", "x-frame-options", "content-security-policy"):
                assert a.headers[name] == b.headers[name]
            if a.status_code == 401:
                assert a.headers["www-authenticate"] == 'Bearer realm="zhengwu"'
    # The answers checked above are the real thing, not two errors that look alike.
    with TestClient(committed.app) as lean:
        dev = {"Authorization": f"Bearer {committed.tokens['developer']}"}
        got = lean.get(f"/api/v1/registries/population/{committed.person['resident_id']}", headers=dev).json()
        assert got["masked"] is True and got["resident_id"] != committed.person["resident_id"]
        assert got["birth_date"].endswith("-**-**") and got["relations"] is None
        verify = {"resident_id": committed.person["resident_id"], "name": committed.person["name"]}
        assert lean.post("/api/v1/registries/population/verify", json=verify, headers=dev).json() == {
            "match": True
        }
        # On PostgreSQL the lean path answered these (its store is started); on SQLite the routes did.
        hot = _lean_of(committed.app)
        assert (hot.store is not None) is hot.enabled is (committed.database.backend == "postgresql")


def test_access_records_are_committed_before_the_answer_and_verify(committed: Committed) -> None:
    dev = {"Authorization": f"Bearer {committed.tokens['developer']}"}
    rid = str(committed.person["resident_id"])
    with TestClient(committed.app) as client:
        for i in range(5):
            assert client.get(f"/api/v1/registries/population/{rid}", headers=dev).status_code == 200
            # Visible to another connection as soon as the answer is there: committed, not queued.
            with committed.database.session() as db:
                lookups = db.scalars(
                    select(AuditEvent).where(
                        AuditEvent.action == "registries.person.lookup", AuditEvent.target_id == rid
                    )
                ).all()
                assert len(lookups) == i + 1
        verify = {"resident_id": rid, "name": "不是他"}
        assert (
            client.post("/api/v1/registries/population/verify", json=verify, headers=dev).status_code == 200
        )
    with committed.database.session() as db:
        record = db.scalars(select(AuditEvent).where(AuditEvent.action == "registries.person.verify")).one()
        assert record.details == {"match": False} and record.target_type == "person"
        assert record.actor_username.startswith("user") and record.ip == "testclient"
        assert audit_seal(db) > 0
    with committed.database.session() as db:
        result = audit_verify(db)
        assert result.ok and result.sealed == result.records


def _lean(committed: Committed, ttl: float, *, durable: bool = False) -> RegistryHotPath:
    """The lean path wrapped around the routes-only app, with a short token cache."""
    routes = create_app(committed.app.state.settings, database=committed.database)
    return RegistryHotPath(
        routes,
        database=committed.database,
        overrides={},
        headers={},
        token_ttl=ttl,
        pool_size=2,
        durable=durable,
    )


def test_durable_access_log_writes_flushed_records(committed: Committed) -> None:
    lean = _lean(committed, 5.0, durable=True)
    headers = {"Authorization": f"Bearer {committed.tokens['developer']}"}
    body = {"uscc": committed.entity["uscc"], "name": committed.entity["name"]}
    with TestClient(lean) as client:
        answer = client.post("/api/v1/registries/entities/verify", json=body, headers=headers)
        assert answer.json() == {"match": True}
        with committed.database.session() as db:
            record = db.scalars(
                select(AuditEvent).where(AuditEvent.action == "registries.entity.verify")
            ).one()
            assert record.details == {"match": True} and record.target_id == committed.entity["uscc"]


def test_revocation_takes_effect_within_the_token_ttl(committed: Committed) -> None:
    ttl = 0.5
    lean = _lean(committed, ttl)
    token = committed.tokens["developer"]
    url = f"/api/v1/registries/population/{committed.person['resident_id']}"
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(lean) as client:
        assert client.get(url, headers=headers).status_code == 200
        with committed.database.session() as db:
            token_id = db.scalar(select(ApiToken.id).where(ApiToken.prefix == token.split("_")[1]))
            assert token_id is not None
            token_revoke(db, actor=SYSTEM, token_id=token_id)
        revoked_at = time.monotonic()
        answers = []
        while time.monotonic() - revoked_at < ttl + 1.0:
            answers.append((time.monotonic() - revoked_at, client.get(url, headers=headers)))
            time.sleep(0.05)
        late = [r for t, r in answers if t > ttl]
        assert late and all(r.status_code == 401 for r in late)
        assert late[-1].json()["error"]["code"] == "auth.token_revoked"
        if lean.enabled:
            # Within the TTL the cached check may still answer; never after it.
            assert any(r.status_code == 200 for t, r in answers if t < ttl / 2)
        else:
            assert all(r.status_code == 401 for _, r in answers)


def test_a_failed_access_record_means_no_answer(
    committed: Committed, monkeypatch: pytest.MonkeyPatch
) -> None:
    lean = _lean(committed, 5.0)
    url = f"/api/v1/registries/population/{committed.person['resident_id']}"
    headers = {"Authorization": f"Bearer {committed.tokens['developer']}"}
    with TestClient(lean) as client:
        assert client.get(url, headers=headers).status_code == 200
        store = lean.store
        if store is None:  # SQLite: the routes answered; nothing of the lean path was started
            assert not lean.enabled
            return

        async def broken(sql: str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
            raise OSError("disk full")  # the group's statement, its access records with it, failed

        monkeypatch.setattr(store, "execute_group", broken)
        failed = client.get(url, headers=headers)
        assert failed.status_code == 500 and failed.json()["error"]["code"] == "internal"
        monkeypatch.undo()
        assert client.get(url, headers=headers).status_code == 200
