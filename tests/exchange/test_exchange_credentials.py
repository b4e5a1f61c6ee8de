"""Upstream credentials: encrypted at rest, write-only in the API, audited without their value."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from conftest import TEST_SECRET
from factories import SYSTEM, actor_of, make_department, make_token, make_user
from zhengwu.accounts.models import Role
from zhengwu.audit.models import AuditEvent
from zhengwu.crypto import DecryptionError
from zhengwu.errors import ConfigurationError, PermissionDenied, ValidationError
from zhengwu.exchange.credentials import credential_decrypt, credential_encrypt, credential_key
from zhengwu.exchange.gateway.services import service_resolve
from zhengwu.exchange.identifiers import parse_service_id
from zhengwu.exchange.messagelog import messagelog_body_key
from zhengwu.exchange.models import ExchangeService
from zhengwu.exchange.schemas import ServiceIn, SubsystemIn
from zhengwu.exchange.services import service_credential_set, service_register, subsystem_register

INSTANCE = "CN-DEV"
NODE_TOKEN = "node-token-0123456789-abcdefghijklmnop"


def _service(db: Session, credential: str | None = NODE_TOKEN) -> tuple[int, str]:
    dept = make_department(db)
    sub = subsystem_register(
        db, actor=SYSTEM, data=SubsystemIn(department_id=dept.id, code="HUJI", name="户籍"), instance=INSTANCE
    )
    svc = service_register(
        db,
        actor=SYSTEM,
        instance=INSTANCE,
        secret_key=TEST_SECRET,
        data=ServiceIn.model_validate(
            {
                "subsystem_id": sub.id,
                "service_code": "persons",
                "name": "人口",
                "upstream_url": "http://10.0.0.5:8700/services/persons",
                "upstream_credential": credential,
            }
        ),
    )
    return svc.id, svc.xroad_id


def test_credential_is_encrypted_bound_to_its_row_and_resolved_for_the_gateway(db: Session) -> None:
    service_id, xroad_id = _service(db)
    row = db.get(ExchangeService, service_id)
    assert row is not None and row.upstream_credential is not None
    assert NODE_TOKEN.encode() not in row.upstream_credential
    key = credential_key(TEST_SECRET)
    assert credential_decrypt(key, service_id, row.upstream_credential) == NODE_TOKEN
    with pytest.raises(DecryptionError):
        credential_decrypt(key, service_id + 1, row.upstream_credential)
    with pytest.raises(DecryptionError):
        credential_decrypt(credential_key(TEST_SECRET + "x"), service_id, row.upstream_credential)
    info = service_resolve(db, service=parse_service_id(xroad_id), credential_key=key)
    assert info.credential == NODE_TOKEN and NODE_TOKEN not in repr(info)
    # A changed platform secret is a setup error the operator fixes by setting the credential again.
    with pytest.raises(ConfigurationError):
        service_resolve(db, service=parse_service_id(xroad_id), credential_key=credential_key("y" * 40))
    with pytest.raises(ConfigurationError):
        service_resolve(db, service=parse_service_id(xroad_id), credential_key=None)
    # A service without one resolves without one.
    plain_id, plain_xroad = _service(db, credential=None)
    assert service_resolve(db, service=parse_service_id(plain_xroad), credential_key=key).credential is None
    assert plain_id != service_id


@pytest.mark.parametrize(
    "bad", ["", "   ", "tok en", "tok\r\nX-Evil: 1", "令牌", "a" * 4097, "\x00abc", "ｔｏｋｅｎ１２３"]
)
def test_credential_must_be_a_safe_header_value(db: Session, bad: str) -> None:
    with pytest.raises(ValidationError) as err:
        _service(db, credential=bad)
    assert err.value.field == "upstream_credential"


def test_credential_key_derivation_is_separate_from_the_body_key() -> None:
    assert credential_key(TEST_SECRET) != messagelog_body_key(TEST_SECRET)
    assert len(credential_key(TEST_SECRET)) == 16
    sealed = credential_encrypt(credential_key(TEST_SECRET), 7, "abc")
    assert credential_encrypt(credential_key(TEST_SECRET), 7, "abc") != sealed  # fresh nonce each time


def test_rotate_remove_and_audit_never_holds_the_value(db: Session) -> None:
    service_id, _ = _service(db)
    dept = make_department(db)
    stranger = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id))
    with pytest.raises(PermissionDenied):
        service_credential_set(
            db,
            actor=stranger,
            service_id=service_id,
            credential="x1",
            instance=INSTANCE,
            secret_key=TEST_SECRET,
        )
    with pytest.raises(ConfigurationError):
        service_credential_set(
            db, actor=SYSTEM, service_id=service_id, credential="x1", instance=INSTANCE, secret_key=None
        )
    out = service_credential_set(
        db,
        actor=SYSTEM,
        service_id=service_id,
        credential="rotated-1",
        instance=INSTANCE,
        secret_key=TEST_SECRET,
    )
    assert out.has_upstream_credential
    row = db.get(ExchangeService, service_id)
    assert row is not None and row.upstream_credential is not None
    assert credential_decrypt(credential_key(TEST_SECRET), service_id, row.upstream_credential) == "rotated-1"
    out = service_credential_set(
        db, actor=SYSTEM, service_id=service_id, credential=None, instance=INSTANCE, secret_key=TEST_SECRET
    )
    assert not out.has_upstream_credential and row.upstream_credential is None
    events = db.scalars(
        select(AuditEvent).where(
            AuditEvent.target_type == "exchange_service", AuditEvent.target_id == str(service_id)
        )
    ).all()
    actions = [(e.action, (e.details or {}).get("change")) for e in events]
    assert ("exchange.service_credential_set", "rotated") in actions
    assert ("exchange.service_credential_set", "removed") in actions
    dumped = repr([e.details for e in events])
    assert NODE_TOKEN not in dumped and "rotated-1" not in dumped


def test_api_takes_the_credential_and_never_returns_it(client: TestClient, db: Session) -> None:
    dept = make_department(db)
    admin = make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id)
    headers = {"Authorization": f"Bearer {make_token(db, admin)}"}
    sub = client.post(
        "/api/v1/exchange/subsystems",
        json={"department_id": dept.id, "code": "NODE", "name": "前置机"},
        headers=headers,
    ).json()
    r = client.post(
        "/api/v1/exchange/services",
        json={
            "subsystem_id": sub["id"],
            "service_code": "licences",
            "name": "许可",
            "upstream_url": "http://127.0.0.1:8700/services/licences",
            "upstream_credential": NODE_TOKEN,
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["has_upstream_credential"] is True and NODE_TOKEN not in r.text
    listed = client.get("/api/v1/exchange/services", headers=headers)
    assert NODE_TOKEN not in listed.text
    sid = r.json()["id"]
    r = client.put(
        f"/api/v1/exchange/services/{sid}/credential",
        json={"upstream_credential": "new-one"},
        headers=headers,
    )
    assert r.status_code == 200 and "new-one" not in r.text
    bad = client.put(
        f"/api/v1/exchange/services/{sid}/credential", json={"upstream_credential": "a\nb"}, headers=headers
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "upstream_credential"
    r = client.put(
        f"/api/v1/exchange/services/{sid}/credential", json={"upstream_credential": None}, headers=headers
    )
    assert r.json()["has_upstream_credential"] is False
