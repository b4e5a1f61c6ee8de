"""End to end: a consumer system calls a front node's table through the gateway's r1 path.

A real front node (its ASGI app under uvicorn on a free port) over the department's PostgreSQL or
MariaDB (GBK) table, registered in the directory with its token as the upstream credential; a consumer
subsystem with an API token and a grant made through the sharing use cases (request, approval) on a
catalog resource delivered as an API. The answer holds only the granted elements, the sensitive one
masked; every call is in the message log; a wrong or missing credential at the node is a ``Server.``
error, recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import TEST_SECRET
from factories import SYSTEM, actor_of, make_department, make_token, make_user
from factories_catalog import make_resource
from factories_node import TOKEN, Legacy, legacy_rows, node_config
from gateway_env import serve_in_thread
from servers import free_port
from zhengwu.accounts.models import Role
from zhengwu.audit.models import AuditEvent
from zhengwu.catalog.models import Sensitivity
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.exchange.credentials import credential_key
from zhengwu.exchange.gateway.proxy import Gateway, GatewayConfig
from zhengwu.exchange.models import ExchangeLogRecord
from zhengwu.exchange.node.api import create_node_app
from zhengwu.exchange.schemas import ServiceIn, SubsystemIn
from zhengwu.exchange.services import service_credential_set, service_register, subsystem_register
from zhengwu.identifiers import mask_name
from zhengwu.sharing.schemas import ShareRequestIn
from zhengwu.sharing.services import share_request_approve, share_request_create

INSTANCE = "CN-DEV"
ELEMENTS = [
    {"name": "编号", "name_en": "id", "data_type": "integer"},
    {
        "name": "姓名",
        "name_en": "name",
        "data_type": "string",
        "length": 40,
        "identifies_person": True,
        "sensitivity": Sensitivity.SENSITIVE,
    },
    {"name": "备注", "name_en": "note", "data_type": "string", "length": 100},
    {"name": "金额", "name_en": "amount", "data_type": "decimal", "length": 12},
    {"name": "出生日期", "name_en": "birth", "data_type": "date"},
]


@dataclass
class World:
    database: Database
    gateway: Gateway
    path: str
    client_id: str
    token: str
    service_id: int


@pytest.fixture(scope="module")
def world(legacy: Legacy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server, thread = serve_in_thread(create_node_app(node_config(legacy)), free_port())
    node_url = f"http://127.0.0.1:{server.config.port}"
    path = Path(tmp_path_factory.mktemp("e2e")) / "platform.db"
    database = Database(make_engine(f"sqlite:///{path}"))
    upgrade(database.engine)
    with database.session() as db:
        provider = make_department(db, name="公安厅")
        consumer = make_department(db, name="民政厅")
        p_admin = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=provider.id))
        c_admin = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=consumer.id))
        token = make_token(db, make_user(db, roles=[Role.DEVELOPER], department_id=consumer.id))
        resource = make_resource(db, provider_id=provider.id, elements=ELEMENTS, name="户籍人口信息")
        request = share_request_create(
            db,
            actor=c_admin,
            data=ShareRequestIn(
                resource_code=resource.code,
                elements=["id", "name", "birth"],
                purpose="最低生活保障申请核对家庭成员",
                legal_basis="《社会救助暂行办法》",
                consumer_system="低保核对系统",
                valid_from=dt.date.today() - dt.timedelta(days=1),
                valid_until=dt.date.today() + dt.timedelta(days=365),
            ),
        )
        share_request_approve(db, actor=p_admin, request_id=request.id)
        huji = subsystem_register(
            db,
            actor=p_admin,
            data=SubsystemIn(department_id=provider.id, code="HUJI", name="户籍前置机"),
            instance=INSTANCE,
        )
        dibao = subsystem_register(
            db,
            actor=c_admin,
            data=SubsystemIn(department_id=consumer.id, code="DIBAO", name="低保"),
            instance=INSTANCE,
        )
        service = service_register(
            db,
            actor=p_admin,
            instance=INSTANCE,
            secret_key=TEST_SECRET,
            data=ServiceIn.model_validate(
                {
                    "subsystem_id": huji.id,
                    "service_code": "persons",
                    "name": "户籍人口",
                    "upstream_url": f"{node_url}/services/persons",
                    "catalog_resource_id": resource.id,
                    "upstream_credential": TOKEN,
                }
            ),
        )
    gateway = Gateway(database, GatewayConfig(instance=INSTANCE, credential_key=credential_key(TEST_SECRET)))
    try:
        yield World(database, gateway, f"/r1/{service.xroad_id}", dibao.xroad_id, token, service.id)
    finally:
        server.should_exit = True
        thread.join(10)
        database.dispose()


def _call(world: World, rest: str) -> tuple[int, dict[str, str], dict[str, object]]:
    with TestClient(world.gateway) as client:
        r = client.get(
            world.path + rest,
            headers={"X-Road-Client": world.client_id, "Authorization": f"Bearer {world.token}"},
        )
    return r.status_code, dict(r.headers), r.json()


def _record(world: World, xroad_id: str) -> ExchangeLogRecord:
    with world.database.session() as db:
        row = db.scalar(select(ExchangeLogRecord).where(ExchangeLogRecord.xroad_id == xroad_id))
    assert row is not None
    return row


def _set_credential(world: World, credential: str | None) -> None:
    with world.database.session() as db:
        service_credential_set(
            db,
            actor=SYSTEM,
            service_id=world.service_id,
            credential=credential,
            instance=INSTANCE,
            secret_key=TEST_SECRET,
        )
    world.gateway.clear_caches()


def test_rows_come_back_shaped_and_logged(world: World) -> None:
    status, headers, body = _call(world, "/rows?id__lte=3")
    assert status == 200, body
    expected = {int(str(r["id"])): r for r in legacy_rows() if int(str(r["id"])) <= 3}
    items = body["items"]
    assert isinstance(items, list) and [i["id"] for i in items] == [1, 2, 3]
    for item in items:
        # Granted: id, name (sensitive, masked), birth. Not granted: note, amount; never published: password.
        assert set(item) == {"id", "name", "birth"}
        row = expected[item["id"]]
        assert item["name"] == mask_name(row["name"]) and item["name"] != row["name"]
        assert item["birth"] == str(row["birth"])
    record = _record(world, headers["x-road-id"])
    assert record.http_status == 200 and record.error_type is None
    assert record.client_id == world.client_id and record.response_size > 0


def test_wrong_or_missing_node_credential_is_a_recorded_server_error(world: World) -> None:
    try:
        for credential in ("wrong-token-0000", None):
            _set_credential(world, credential)
            status, headers, body = _call(world, "/rows?id__lte=3")
            assert status == 500
            assert body["type"] == headers["x-road-error"] == "Server.ServerProxy.UpstreamUnauthorized"
            assert "items" not in body
            record = _record(world, headers["x-road-id"])
            assert (
                record.http_status == 500 and record.error_type == "Server.ServerProxy.UpstreamUnauthorized"
            )
    finally:
        _set_credential(world, TOKEN)
    status, _, body = _call(world, "/rows?id__lte=1")
    assert status == 200 and body["items"]
    with world.database.session() as db:
        changes = db.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "exchange.service_credential_set")
        ).all()
    assert [c["change"] for c in changes] == ["rotated", "removed", "set"]
    assert TOKEN not in repr(changes)
