"""The exchange directory (subsystems, services, listClients) and the message log's API and page."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import SYSTEM, actor_of, login, make_department, make_token, make_user
from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor
from zhengwu.audit.models import AuditEvent
from zhengwu.crypto import sm2_generate_keypair
from zhengwu.errors import Conflict, NotAuthenticated, PermissionDenied, ValidationError
from zhengwu.exchange.identifiers import parse_client_id, parse_service_id
from zhengwu.exchange.messagelog import LogEntry, messagelog_append, messagelog_sign_head
from zhengwu.exchange.schemas import ServiceIn, SubsystemIn
from zhengwu.exchange.services import (
    client_list,
    service_list,
    service_register,
    subsystem_list,
    subsystem_register,
)

INSTANCE = "CN-DEV"
OPENAPI = {"openapi": "3.0.3", "info": {"title": "户籍", "version": "1"}, "paths": {"/person": {}}}


def test_register_and_list_subsystems_and_services(db: Session) -> None:
    dept = make_department(db)
    admin = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id))
    sub = subsystem_register(
        db,
        actor=admin,
        data=SubsystemIn(department_id=dept.id, code="HUJI", name="户籍系统"),
        instance=INSTANCE,
    )
    assert sub.xroad_id == f"CN-DEV/GOV/{dept.uscc}/HUJI"
    assert parse_client_id(sub.xroad_id, expected_instance=INSTANCE).subsystem_code == "HUJI"
    svc = service_register(
        db,
        actor=admin,
        instance=INSTANCE,
        data=ServiceIn(
            subsystem_id=sub.id,
            service_code="getPerson",
            service_version="v1",
            name="查询人口",
            upstream_url="http://10.0.0.5:8080/api",
            catalog_resource_id=42,
            openapi=OPENAPI,
        ),
    )
    assert parse_service_id(svc.xroad_id).service_version == "v1"
    assert svc.has_openapi and svc.catalog_resource_id == 42
    reader = actor_of(db, make_user(db))
    assert [s.id for s in subsystem_list(db, actor=reader, instance=INSTANCE, department_id=dept.id)] == [
        sub.id
    ]
    assert [s.id for s in service_list(db, actor=reader, instance=INSTANCE, subsystem_id=sub.id)] == [svc.id]
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith("exchange."))).all()
    assert "exchange.subsystem_register" in actions and "exchange.service_register" in actions

    clients = client_list(db, actor=reader, instance=INSTANCE)["member"]
    ids = [c["id"] for c in clients if c["id"]["member_code"] == dept.uscc]
    assert {
        "member_class": "GOV",
        "member_code": dept.uscc,
        "object_type": "MEMBER",
        "xroad_instance": "CN-DEV",
    } in ids
    assert any(i.get("subsystem_code") == "HUJI" and i["object_type"] == "SUBSYSTEM" for i in ids)


def test_directory_rules_and_permissions(db: Session) -> None:
    dept, other = make_department(db), make_department(db)
    admin = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id))
    with pytest.raises(PermissionDenied):
        subsystem_register(
            db, actor=admin, data=SubsystemIn(department_id=other.id, code="X", name="x"), instance=INSTANCE
        )
    with pytest.raises(NotAuthenticated):
        subsystem_list(db, actor=Actor.anonymous(), instance=INSTANCE)
    with pytest.raises(ValidationError) as err:
        subsystem_register(
            db, actor=admin, data=SubsystemIn(department_id=dept.id, code="户籍", name="x"), instance=INSTANCE
        )
    assert err.value.field == "subsystem_code"
    sub = subsystem_register(
        db, actor=admin, data=SubsystemIn(department_id=dept.id, code="A", name="a"), instance=INSTANCE
    )
    with pytest.raises(Conflict):
        subsystem_register(
            db, actor=SYSTEM, data=SubsystemIn(department_id=dept.id, code="A", name="a"), instance=INSTANCE
        )
    no_uscc = make_department(db, with_uscc=False)
    with pytest.raises(ValidationError) as err:
        subsystem_register(
            db,
            actor=SYSTEM,
            data=SubsystemIn(department_id=no_uscc.id, code="A", name="a"),
            instance=INSTANCE,
        )
    assert err.value.code == "exchange.member.no_uscc"
    base = {"subsystem_id": sub.id, "service_code": "s", "name": "n", "upstream_url": "http://u"}
    for bad, field in [
        ({"upstream_url": "ftp://u"}, "upstream_url"),
        ({"openapi": {"swagger": "2.0"}}, "openapi"),
        ({"service_code": "a/b"}, "service_code"),
    ]:
        with pytest.raises(ValidationError) as err:
            service_register(db, actor=admin, data=ServiceIn(**{**base, **bad}), instance=INSTANCE)
        assert err.value.field == field
    service_register(db, actor=admin, data=ServiceIn(**base), instance=INSTANCE)
    with pytest.raises(Conflict):
        service_register(db, actor=admin, data=ServiceIn(**base), instance=INSTANCE)
    other_admin = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=other.id))
    with pytest.raises(PermissionDenied):
        service_register(
            db, actor=other_admin, data=ServiceIn(**{**base, "service_code": "t"}), instance=INSTANCE
        )


def _log(db: Session, n: int) -> None:
    now = dt.datetime.now(dt.UTC)
    for i in range(n):
        messagelog_append(
            db,
            LogEntry(
                xroad_id=f"api-{i}",
                request_id=f"r{i}",
                client_id="c",
                started_at=now,
                finished_at=now,
                http_status=200,
            ),
        )


def test_api_directory_and_log_endpoints(client: TestClient, db: Session) -> None:
    dept = make_department(db)
    admin = make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id)
    headers = {"Authorization": f"Bearer {make_token(db, admin)}"}
    r = client.post(
        "/api/v1/exchange/subsystems",
        json={"department_id": dept.id, "code": "GA", "name": "公安"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/api/v1/exchange/subsystems",
        json={"department_id": dept.id, "code": "G A", "name": "x"},
        headers=headers,
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "subsystem_code"
    assert client.get("/api/v1/exchange/clients", headers=headers).json()["member"]
    assert client.get("/api/v1/exchange/subsystems").status_code == 401

    _log(db, 3)
    private, _ = sm2_generate_keypair()
    h1 = messagelog_sign_head(db, private_pem=private)
    _log(db, 2)
    h2 = messagelog_sign_head(db, private_pem=private)
    heads = client.get("/api/v1/exchange/log/heads").json()
    assert [h["tree_size"] for h in heads[:2]] == [5, 3]
    proof = client.get("/api/v1/exchange/log/proofs/inclusion", params={"xroad_id": "api-1"}).json()
    assert proof["leaf_index"] == 1 and proof["head"]["id"] == h2.id and len(proof["audit_path"]) == 3
    cons = client.get(
        "/api/v1/exchange/log/proofs/consistency", params={"from_head_id": h1.id, "to_head_id": h2.id}
    ).json()
    assert len(cons["proof"]) >= 1
    assert client.get("/api/v1/exchange/log/proofs/inclusion", params={"xroad_id": "none"}).status_code == 404
    assert client.post("/api/v1/exchange/log/verify", headers=headers).status_code == 403
    auditor = make_user(db, roles=[Role.AUDITOR])
    r = client.post(
        "/api/v1/exchange/log/verify", headers={"Authorization": f"Bearer {make_token(db, auditor)}"}
    )
    assert r.status_code == 200 and r.json()["ok"] is True


def test_log_page_for_auditors(client: TestClient, db: Session) -> None:
    auditor = make_user(db, roles=[Role.AUDITOR])
    _log(db, 2)
    private, _ = sm2_generate_keypair()
    messagelog_sign_head(db, private_pem=private)
    login(client, auditor.username)
    page = client.get("/exchange/log", params={"verify": "1", "record": "api-1"})
    assert page.status_code == 200
    assert "交换日志" in page.text and "校验通过" in page.text and "审计路径" in page.text
    assert 'href="/exchange/log"' in page.text  # the menu entry
    nobody = make_user(db)
    client.cookies.clear()
    login(client, nobody.username)
    assert client.get("/exchange/log").status_code == 403
