"""The registry services through the exchange: the platform served for real, the gateway in front of it.

A committed database per backend (the gateway's log writer commits on its own) holds the demo
organisation, synthetic persons and entities, the credit demo data, the published registry services
and 人社厅's grants (population verify, credit check, four elements of the population lookup). The
platform app is served by uvicorn on a free loopback port; the gateway forwards to it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from conftest import TEST_SECRET
from factories import SYSTEM
from gateway_env import serve_in_thread
from servers import free_port
from zhengwu.accounts.models import Department, Role, User
from zhengwu.accounts.permissions import Actor
from zhengwu.app import create_app
from zhengwu.audit.models import AuditEvent
from zhengwu.catalog.models import Resource
from zhengwu.cli import cli
from zhengwu.config import load_settings
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.demo.services import demo_organisation_seed
from zhengwu.errors import NotFound, PermissionDenied, ValidationError
from zhengwu.exchange.credentials import credential_key
from zhengwu.exchange.gateway.proxy import Gateway, GatewayConfig
from zhengwu.exchange.models import ExchangeLogRecord, ExchangeService
from zhengwu.identifiers import mask_name, mask_resident_id
from zhengwu.registries.credit.demo import credit_demo_seed
from zhengwu.registries.exchange_demo import (
    RegistryCall,
    registries_exchange_demo_seed,
    registries_exchange_demo_traffic,
)
from zhengwu.registries.ingest import ingest
from zhengwu.registries.models import Person
from zhengwu.registries.publication import PUBLISHED, provider_credential, registries_publish
from zhengwu.synthetic import generate_entities, generate_persons, write_batches

INSTANCE = "CN-DEV"
PROVINCE = "330000"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass
class Env:
    url: str
    database: Database
    base_url: str
    calls: list[RegistryCall]
    resident_id: str
    name: str
    provider_uscc: str

    def path(self, service: str, rest: str = "") -> str:
        return f"/r1/{INSTANCE}/GOV/{self.provider_uscc}/JICHUKU/{service}{rest}"

    def headers(self, **extra: str) -> dict[str, str]:
        call = self.calls[0]
        return {"X-Road-Client": call.client, "Authorization": f"Bearer {call.token}", **extra}


def _database(backend: str, tmp: Path) -> tuple[str, Database]:
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'regpub.db'}"
    else:
        name = f"zhengwu_regpub_{os.getpid()}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    database = Database(make_engine(url))
    upgrade(database.engine)
    return url, database


def _drop(url: str) -> None:
    if url.startswith("sqlite"):
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def _seed(database: Database, tmp: Path, base_url: str) -> tuple[list[RegistryCall], str, str, str]:
    with database.session() as db:
        demo_organisation_seed(db, province_code=PROVINCE)
        persons, entities = tmp / "persons.csv", tmp / "entities.csv"
        write_batches(generate_persons(count=150, province_code=PROVINCE), persons, progress=False)
        write_batches(
            generate_entities(count=40, province_code=PROVINCE, persons_count=150), entities, progress=False
        )
        for registry, path, source in (("population", persons, "GA"), ("entities", entities, "SCJG")):
            ingest(
                db,
                actor=SYSTEM,
                registry=registry,
                source=f"{PROVINCE}-{source}",
                path=path,
                error_dir=tmp / "errors",
            )
        assert credit_demo_seed(db, seed=2026), "credit demo data not seeded"
        calls, first = registries_exchange_demo_seed(
            db, province_code=PROVINCE, instance=INSTANCE, secret_key=TEST_SECRET, base_url=base_url
        )
        assert first
        person = db.scalar(select(Person).where(Person.status == "living").order_by(Person.resident_id))
        assert person is not None
        provider = db.scalar(select(Department).where(Department.code == f"{PROVINCE}-SJJ"))
        assert provider is not None and provider.uscc
        return calls, person.resident_id, person.name, provider.uscc


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    with tempfile.TemporaryDirectory(prefix="regpub-") as tmp_name:
        tmp = Path(tmp_name)
        url, database = _database(request.param, tmp)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        try:
            calls, resident_id, name, uscc = _seed(database, tmp, base_url)
            settings = load_settings(mode="test", secret_key=TEST_SECRET, data_dir=tmp, database_url=url)
            server, thread = serve_in_thread(create_app(settings, database=database), port)
            try:
                yield Env(url, database, base_url, calls, resident_id, name, uscc)
            finally:
                server.should_exit = True
                thread.join(10)
        finally:
            database.dispose()
            _drop(url)


@pytest.fixture
def gateway(env: Env) -> Iterator[TestClient]:
    config = GatewayConfig(instance=INSTANCE, credential_key=credential_key(TEST_SECRET))
    with TestClient(Gateway(env.database, config), base_url="http://gateway") as client:
        yield client


def record_of(env: Env, response: httpx.Response) -> ExchangeLogRecord:
    """The message log record of a call, by the X-Road-Id the caller received."""
    with env.database.session() as db:
        rows = list(
            db.scalars(
                select(ExchangeLogRecord).where(ExchangeLogRecord.xroad_id == response.headers["x-road-id"])
            )
        )
        assert len(rows) == 1
        db.expunge(rows[0])
        return rows[0]


def test_population_verify_through_the_gateway_is_granted_and_logged(env: Env, gateway: TestClient) -> None:
    good = {"resident_id": env.resident_id, "name": env.name}
    response = gateway.post(env.path("population-verify"), json=good, headers=env.headers())
    assert response.status_code == 200, response.text
    assert response.json() == {"match": True}
    record = record_of(env, response)
    assert record.http_status == 200 and record.error_type is None
    assert record.service_id is not None and record.service_id.endswith("/JICHUKU/population-verify")
    assert record.client_id == env.calls[0].client
    # The registry's own access trail names the calling system and the exchange call.
    with env.database.session() as db:
        events = db.scalars(
            select(AuditEvent).where(AuditEvent.action == "registries.person.verify").order_by(AuditEvent.id)
        ).all()
        assert events[-1].details["client"] == env.calls[0].client
        assert events[-1].details["xroad_id"] == response.headers["x-road-id"]
        assert events[-1].details["via"] == "exchange"
    wrong = gateway.post(
        env.path("population-verify"), json={**good, "name": env.name + "某"}, headers=env.headers()
    )
    assert wrong.status_code == 200 and wrong.json() == {"match": False}


def test_population_lookup_keeps_granted_elements_and_masks_sensitive_ones(
    env: Env, gateway: TestClient
) -> None:
    response = gateway.get(env.path("population-lookup", f"/{env.resident_id}"), headers=env.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    # Granted: resident_id, name, sex, status; the two identifying ones masked; nothing else comes back.
    assert set(body) == {"resident_id", "name", "sex", "status"}
    assert body["resident_id"] == mask_resident_id(env.resident_id)
    assert body["name"] == mask_name(env.name)
    assert body["status"] == "living"
    assert "household_address" not in response.text


def test_asking_for_an_element_not_granted_is_a_client_error(env: Env, gateway: TestClient) -> None:
    response = gateway.get(
        env.path("population-lookup", f"/{env.resident_id}"),
        headers=env.headers(**{"X-Zhengwu-Elements": "name,household_address"}),
    )
    assert response.status_code == 403
    assert response.headers["x-road-error"] == "Client.ElementNotGranted"
    assert "household_address" in response.json()["message"]
    assert record_of(env, response).error_type == "Client.ElementNotGranted"


def test_without_a_grant_the_call_is_refused_and_logged(env: Env, gateway: TestClient) -> None:
    with env.database.session() as db:
        uscc = db.scalar(text("SELECT uscc FROM registry_entities ORDER BY uscc LIMIT 1"))
    response = gateway.get(env.path("entity-lookup", f"/{uscc}"), headers=env.headers())
    assert response.status_code == 403
    assert response.headers["x-road-error"] == "Client.AccessDenied"
    assert str(uscc) not in response.text.replace(response.headers["x-road-id"], "")
    record = record_of(env, response)
    assert record.http_status == 403 and record.service_id is not None
    assert record.service_id.endswith("/entity-lookup")


def test_credit_check_through_the_gateway_names_the_measures(env: Env, gateway: TestClient) -> None:
    check = next(c for c in env.calls if c.path.endswith("/credit-check"))
    assert check.body is not None
    response = gateway.post(env.path("credit-check"), json=check.body, headers=env.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"subject_id", "item_code", "on", "reward", "punishment", "measures"}
    assert body["subject_id"] == check.body["subject_id"] and body["item_code"] == check.body["item_code"]
    # The demo picks a subject on a list in force whose measure names the item: something applies.
    assert body["measures"] and (body["reward"] or body["punishment"])
    assert "subject_type" not in body  # not granted


def test_unconditional_geospatial_service_needs_no_grant(env: Env, gateway: TestClient) -> None:
    response = gateway.get(
        env.path("geo-reverse"), params={"lon": 120.15, "lat": 30.28}, headers=env.headers()
    )
    assert response.status_code == 200, response.text
    assert {"lon", "lat", "in_china", "county"} <= set(response.json())


def test_bad_identifier_answers_400_with_the_reason_through_the_gateway(
    env: Env, gateway: TestClient
) -> None:
    response = gateway.post(
        env.path("population-verify"), json={"resident_id": "12345", "name": "张三"}, headers=env.headers()
    )
    assert response.status_code == 400
    assert "resident_id" in response.text
    assert record_of(env, response).http_status == 400


def test_provider_endpoints_accept_only_the_gateway_credential(env: Env) -> None:
    url = f"{env.base_url}/api/v1/registries/provider/population/verify"
    body = {"resident_id": env.resident_id, "name": env.name}
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    good = {"Authorization": f"Bearer {provider_credential(TEST_SECRET)}"}
    response = httpx.post(url, json=body, headers=good)
    assert response.status_code == 200 and response.json() == {"match": True}


def test_directory_describes_each_service_with_openapi(env: Env, gateway: TestClient) -> None:
    base = f"/r1/{INSTANCE}/GOV/{env.provider_uscc}/JICHUKU"
    methods = gateway.get(f"{base}/listMethods", headers=env.headers())
    assert methods.status_code == 200, methods.text
    codes = {s["service_code"] for s in methods.json()["service"]}
    assert codes == {s.code for s in PUBLISHED}
    doc = gateway.get(
        f"{base}/getOpenAPI", params={"serviceCode": "population-verify"}, headers=env.headers()
    )
    assert doc.status_code == 200
    operation = doc.json()["paths"]["/"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "resident_id",
        "name",
    ]


def test_publish_is_idempotent_and_repoints_the_services(env: Env) -> None:
    with env.database.session() as db:
        before = db.scalar(select(func.count()).select_from(Resource))
        again = registries_publish(
            db,
            actor=SYSTEM,
            department_code=f"{PROVINCE}-SJJ",
            instance=INSTANCE,
            secret_key=TEST_SECRET,
            base_url="http://elsewhere:9000",
        )
        assert not any(p.created for p in again) and len(again) == len(PUBLISHED)
        assert db.scalar(select(func.count()).select_from(Resource)) == before
        urls = set(
            db.scalars(
                select(ExchangeService.upstream_url).where(
                    ExchangeService.id.in_([p.service_id for p in again])
                )
            )
        )
        assert all(u.startswith("http://elsewhere:9000/api/v1/registries/provider/") for u in urls)
        db.rollback()


def test_publish_bad_inputs(env: Env) -> None:
    with env.database.session() as db:
        kwargs: dict[str, Any] = {"instance": INSTANCE, "secret_key": TEST_SECRET}
        with pytest.raises(NotFound) as missing:
            registries_publish(db, actor=SYSTEM, department_code="NOPE", base_url="http://h", **kwargs)
        assert missing.value.field == "department"
        with pytest.raises(ValidationError) as bad_url:
            registries_publish(
                db, actor=SYSTEM, department_code=f"{PROVINCE}-SJJ", base_url="ftp://h", **kwargs
            )
        assert bad_url.value.field == "upstream_url"
        user = db.scalar(select(User).where(User.username == "rs_admin"))
        assert user is not None
        staff = Actor(user_id=user.id, username=user.username, roles=frozenset({Role.DATA_ADMIN}))
        with pytest.raises(PermissionDenied):
            registries_publish(
                db, actor=staff, department_code=f"{PROVINCE}-SJJ", base_url="http://h", **kwargs
            )
        db.rollback()


def test_demo_traffic_calls_through_the_gateway_and_points_back(env: Env, tmp_path: Path) -> None:
    settings = load_settings(mode="test", secret_key=TEST_SECRET, data_dir=tmp_path, database_url=env.url)
    config = GatewayConfig(instance=INSTANCE, credential_key=credential_key(TEST_SECRET))
    statuses = registries_exchange_demo_traffic(
        env.database,
        Gateway(env.database, config),
        create_app(settings, database=env.database),
        env.calls,
        province_code=PROVINCE,
        instance=INSTANCE,
        secret_key=TEST_SECRET,
        base_url=env.base_url,
        port=free_port(),
    )
    assert statuses == [200, 200, 200]
    with env.database.session() as db:
        urls = db.scalars(
            select(ExchangeService.upstream_url).where(
                ExchangeService.service_code.in_([s.code for s in PUBLISHED])
            )
        )
        assert {u.split("/api/")[0] for u in urls} == {env.base_url}


def test_cli_publish(env: Env, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--database-url", env.url, "--data-dir", str(tmp_path), "registries", "publish"]
    shown = runner.invoke(
        cli, [*base, "--department", f"{PROVINCE}-SJJ", "--base-url", env.base_url, "--json"]
    )
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)
    assert {r["code"] for r in rows} == {s.code for s in PUBLISHED} and not any(r["created"] for r in rows)
    missing = runner.invoke(cli, [*base, "--department", "NOPE", "--base-url", env.base_url])
    assert missing.exit_code != 0 and "NOPE" in missing.output
