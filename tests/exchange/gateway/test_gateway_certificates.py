"""Client certificates of subsystems: register, list, revoke, require mTLS (use cases, API, command)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import SYSTEM, actor_of, make_department, make_token, make_user
from factories_certs import self_signed
from zhengwu.accounts.models import Role
from zhengwu.audit.models import AuditEvent
from zhengwu.cli import cli
from zhengwu.db import Database, upgrade
from zhengwu.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationError
from zhengwu.exchange.gateway.certificates import (
    caller_by_certificate,
    subsystem_cert_add,
    subsystem_cert_list,
    subsystem_cert_revoke,
    subsystem_client_auth_set,
)
from zhengwu.exchange.gateway.tls import fingerprint
from zhengwu.exchange.identifiers import ClientId
from zhengwu.exchange.schemas import SubsystemIn
from zhengwu.exchange.services import subsystem_register

INSTANCE = "CN-DEV"


def _subsystem(db: Session, code: str = "SHEBAO") -> tuple[int, ClientId]:
    dept = make_department(db)
    out = subsystem_register(
        db, actor=SYSTEM, data=SubsystemIn(department_id=dept.id, code=code, name="社保"), instance=INSTANCE
    )
    instance, klass, member, subsystem = out.xroad_id.split("/")
    return out.id, ClientId(instance, klass, member, subsystem)


def test_register_list_revoke_and_audit(db: Session) -> None:
    sub_id, client = _subsystem(db)
    pem, cert = self_signed("shebao.example")
    added = subsystem_cert_add(db, actor=SYSTEM, subsystem_id=sub_id, certificate_pem=pem, instance=INSTANCE)
    der = cert.public_bytes(serialization.Encoding.DER)
    assert added.fingerprint == fingerprint(der) and added.subject == "CN=shebao.example"
    assert added.status == "active" and added.xroad_id == str(client)
    assert added.not_after == cert.not_valid_after_utc
    # The gateway's lookup finds the caller by fingerprint.
    caller = caller_by_certificate(db, cert_fingerprint=added.fingerprint, client=client)
    assert caller.subsystem_id == sub_id and caller.token_id is None
    listed = subsystem_cert_list(db, actor=SYSTEM, subsystem_id=sub_id, instance=INSTANCE)
    assert [c.id for c in listed] == [added.id]
    revoked = subsystem_cert_revoke(db, actor=SYSTEM, certificate_id=added.id, instance=INSTANCE)
    assert revoked.status == "revoked" and revoked.revoked_at is not None
    with pytest.raises(NotAuthenticated) as refused:
        caller_by_certificate(db, cert_fingerprint=added.fingerprint, client=client)
    assert refused.value.code == "gateway.cert.revoked"
    with pytest.raises(Conflict):
        subsystem_cert_revoke(db, actor=SYSTEM, certificate_id=added.id, instance=INSTANCE)
    actions = set(db.scalars(select(AuditEvent.action).where(AuditEvent.target_id == str(sub_id))))
    assert {"exchange.gateway.cert_add", "exchange.gateway.cert_revoke"} <= actions


def test_bad_certificates_are_refused_naming_the_field(db: Session) -> None:
    sub_id, _ = _subsystem(db)
    for bad in ("not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"):
        with pytest.raises(ValidationError) as err:
            subsystem_cert_add(db, actor=SYSTEM, subsystem_id=sub_id, certificate_pem=bad, instance=INSTANCE)
        assert err.value.field == "certificate_pem" and err.value.code == "gateway.cert.bad_pem"
    expired, _ = self_signed("old", past=True)
    with pytest.raises(ValidationError) as err:
        subsystem_cert_add(db, actor=SYSTEM, subsystem_id=sub_id, certificate_pem=expired, instance=INSTANCE)
    assert err.value.code == "gateway.cert.expired"
    pem, _ = self_signed("twice")
    subsystem_cert_add(db, actor=SYSTEM, subsystem_id=sub_id, certificate_pem=pem, instance=INSTANCE)
    with pytest.raises(Conflict):
        subsystem_cert_add(db, actor=SYSTEM, subsystem_id=sub_id, certificate_pem=pem, instance=INSTANCE)
    with pytest.raises(NotFound):
        subsystem_cert_add(db, actor=SYSTEM, subsystem_id=999_999, certificate_pem=pem, instance=INSTANCE)


def test_only_platform_admins_manage_certificates(db: Session) -> None:
    sub_id, _ = _subsystem(db)
    dept = make_department(db)
    data_admin = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id))
    pem, _ = self_signed("x")
    with pytest.raises(PermissionDenied):
        subsystem_cert_add(db, actor=data_admin, subsystem_id=sub_id, certificate_pem=pem, instance=INSTANCE)
    with pytest.raises(PermissionDenied):
        subsystem_client_auth_set(
            db, actor=data_admin, subsystem_id=sub_id, require_client_cert=True, instance=INSTANCE
        )


def test_requiring_mtls_needs_an_active_certificate(db: Session) -> None:
    sub_id, _ = _subsystem(db)
    with pytest.raises(ValidationError) as err:
        subsystem_client_auth_set(
            db, actor=SYSTEM, subsystem_id=sub_id, require_client_cert=True, instance=INSTANCE
        )
    assert err.value.field == "require_client_cert"
    pem, _ = self_signed("ok")
    subsystem_cert_add(db, actor=SYSTEM, subsystem_id=sub_id, certificate_pem=pem, instance=INSTANCE)
    out = subsystem_client_auth_set(
        db, actor=SYSTEM, subsystem_id=sub_id, require_client_cert=True, instance=INSTANCE
    )
    assert out.require_client_cert and out.active_certificates == 1


def test_api_for_platform_operators(client: TestClient, db: Session) -> None:
    sub_id, _ = _subsystem(db)
    admin = {"Authorization": f"Bearer {make_token(db, make_user(db, roles=[Role.PLATFORM_ADMIN]))}"}
    auditor = {"Authorization": f"Bearer {make_token(db, make_user(db, roles=[Role.AUDITOR]))}"}
    pem, cert = self_signed("api.example")
    base = f"/api/v1/exchange/subsystems/{sub_id}"
    assert (
        client.post(f"{base}/certificates", json={"certificate_pem": pem}, headers=auditor).status_code == 403
    )
    created = client.post(f"{base}/certificates", json={"certificate_pem": pem}, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["fingerprint"] == fingerprint(cert.public_bytes(serialization.Encoding.DER))
    bad = client.post(f"{base}/certificates", json={"certificate_pem": "junk"}, headers=admin)
    assert bad.status_code in (400, 422) and "certificate_pem" in bad.text
    listed = client.get(f"{base}/certificates", headers=admin).json()
    assert [c["id"] for c in listed] == [body["id"]]
    required = client.put(f"{base}/client-auth", json={"require_client_cert": True}, headers=admin)
    assert required.status_code == 200 and required.json()["require_client_cert"] is True
    revoked = client.post(f"/api/v1/exchange/certificates/{body['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"


def test_subsystem_cert_commands(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZHENGWU_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("ZHENGWU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ZHENGWU_MODE", "test")
    monkeypatch.setenv("ZHENGWU_SECRET_KEY", "cli-test-secret-0123456789abcdef0123")
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    with database.session() as db:
        sub_id, _ = _subsystem(db)
    database.dispose()
    pem, _ = self_signed("cli.example")
    pem_file = tmp_path / "client.pem"
    pem_file.write_text(pem)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, ["exchange", "subsystem-cert", *args], catch_exceptions=False)
        return result.exit_code, result.stdout

    code, out = run("add", str(sub_id), str(pem_file))
    assert code == 0, out
    cert_id = json.loads(out)["id"]
    code, out = run("require", str(sub_id))
    assert code == 0 and json.loads(out)["require_client_cert"] is True
    code, out = run("revoke", str(cert_id))
    assert code == 0 and json.loads(out)["status"] == "revoked"
    code, out = run("list", str(sub_id))
    assert code == 0 and [c["status"] for c in json.loads(out)] == ["revoked"]
    code, out = run("revoke", "999999")
    assert code != 0
