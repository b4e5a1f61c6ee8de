"""The exchange's pages: subsystems with their TLS client certificates (register, revoke, require mTLS)."""

from __future__ import annotations

import html
from urllib.parse import unquote

from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import SYSTEM, csrf_of, login, make_department, make_user
from factories_certs import self_signed
from zhengwu.accounts.models import Role
from zhengwu.audit.models import AuditEvent
from zhengwu.exchange.gateway.tls import fingerprint
from zhengwu.exchange.schemas import SubsystemIn
from zhengwu.exchange.services import subsystem_register

INSTANCE = "CN-DEV"


def _subsystem(db: Session) -> int:
    dept = make_department(db, name="省人力资源和社会保障厅")
    out = subsystem_register(
        db,
        actor=SYSTEM,
        data=SubsystemIn(department_id=dept.id, code="SHEBAO", name="社保核心系统"),
        instance=INSTANCE,
    )
    return out.id


def test_admin_registers_requires_and_revokes_a_certificate(client: TestClient, db: Session) -> None:
    sub_id = _subsystem(db)
    admin = make_user(db, roles=[Role.PLATFORM_ADMIN])
    login(client, admin.username)
    page = client.get("/exchange/subsystems")
    assert page.status_code == 200 and "社保核心系统" in page.text and "尚未登记证书" in page.text
    token = csrf_of(page.text)

    # Requiring mTLS before any certificate is refused on the page, with the reason.
    refused = client.post(
        f"/exchange/subsystems/{sub_id}/client-auth", data={"require_client_cert": "1", "csrf_token": token}
    )
    assert refused.status_code == 400 and "没有有效的客户端证书" in refused.text

    pem, cert = self_signed("shebao.example")
    added = client.post(
        f"/exchange/subsystems/{sub_id}/certificates",
        data={"csrf_token": token},
        files={"certificate_file": ("shebao.pem", pem.encode(), "application/x-pem-file")},
    )
    assert added.status_code == 303, added.text
    print_ = fingerprint(cert.public_bytes(serialization.Encoding.DER))
    assert print_[:16] in unquote(added.headers["location"])
    shown = client.get(added.headers["location"]).text
    assert print_[:16] in shown and "CN=shebao.example" in shown and "有效" in shown

    # The same certificate pasted again: refused, named.
    again = client.post(
        f"/exchange/subsystems/{sub_id}/certificates", data={"certificate_pem": pem, "csrf_token": token}
    )
    assert again.status_code == 400 and "该证书已登记" in again.text
    junk = client.post(
        f"/exchange/subsystems/{sub_id}/certificates", data={"certificate_pem": "junk", "csrf_token": token}
    )
    assert junk.status_code == 400 and 'role="alert"' in junk.text

    required = client.post(
        f"/exchange/subsystems/{sub_id}/client-auth", data={"require_client_cert": "1", "csrf_token": token}
    )
    assert required.status_code == 303
    assert "要求双向 TLS" in client.get("/exchange/subsystems").text

    cert_id = db.scalar(select(AuditEvent.details).where(AuditEvent.action == "exchange.gateway.cert_add"))[
        "certificate_id"
    ]
    revoked = client.post(f"/exchange/certificates/{cert_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert "已吊销" in client.get("/exchange/subsystems").text
    actions = set(db.scalars(select(AuditEvent.action).where(AuditEvent.action.like("exchange.gateway.%"))))
    assert {
        "exchange.gateway.cert_add",
        "exchange.gateway.client_auth_set",
        "exchange.gateway.cert_revoke",
    } <= actions


def test_auditor_reads_but_cannot_change(client: TestClient, db: Session) -> None:
    sub_id = _subsystem(db)
    auditor = make_user(db, roles=[Role.AUDITOR])
    login(client, auditor.username)
    page = client.get("/exchange/subsystems")
    assert page.status_code == 200 and "由平台管理员操作" in page.text and "登记客户端证书" not in page.text
    pem, _ = self_signed("x.example")
    attempt = client.post(
        f"/exchange/subsystems/{sub_id}/certificates",
        data={"certificate_pem": pem, "csrf_token": csrf_of(page.text)},
    )
    assert attempt.status_code == 403


def test_other_users_and_forged_forms_are_refused(client: TestClient, db: Session) -> None:
    sub_id = _subsystem(db)
    clerk = make_user(db, roles=[Role.DATA_ADMIN], department_id=make_department(db).id)
    login(client, clerk.username)
    assert client.get("/exchange/subsystems").status_code == 403
    admin = make_user(db, roles=[Role.PLATFORM_ADMIN])
    client.cookies.clear()
    login(client, admin.username)
    pem, _ = self_signed("y.example")
    forged = client.post(
        f"/exchange/subsystems/{sub_id}/certificates", data={"certificate_pem": pem, "csrf_token": "forged"}
    )
    assert forged.status_code in (400, 403) and html.escape("表单已过期") in forged.text
