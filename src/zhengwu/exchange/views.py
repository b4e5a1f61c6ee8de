"""Pages of the exchange for platform admins and security auditors: the message log, and the subsystems
with their TLS client certificates (mutual TLS at the gateway)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import require_roles
from zhengwu.db import utcnow
from zhengwu.errors import ValidationError, ZhengwuError
from zhengwu.exchange.gateway.certificates import (
    subsystem_cert_add,
    subsystem_cert_revoke,
    subsystem_client_auth_set,
    subsystem_security_list,
)
from zhengwu.exchange.messagelog import heads_latest, messagelog_inclusion_proof
from zhengwu.exchange.models import ExchangeLogArchive, ExchangeLogLeaf, ExchangeLogRecord
from zhengwu.exchange.verify import messagelog_verify
from zhengwu.web.deps import AppSettings, DbSession, SignedInActor, check_csrf
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [
    NavItem("交换日志", "/exchange/log", order=85, roles=frozenset({Role.AUDITOR, Role.PLATFORM_ADMIN})),
    NavItem(
        "子系统证书", "/exchange/subsystems", order=86, roles=frozenset({Role.AUDITOR, Role.PLATFORM_ADMIN})
    ),
]
Text = Annotated[str, Form()]
# A certificate within this many days of its end is flagged on the page, so it is renewed in time.
EXPIRY_WARNING = dt.timedelta(days=30)
MAX_PEM_BYTES = 64_000


@router.get("/exchange/log", response_class=HTMLResponse)
def log_page(
    request: Request, db: DbSession, actor: SignedInActor, verify: str = "", record: str = ""
) -> Response:
    require_roles(actor, Role.AUDITOR, Role.PLATFORM_ADMIN)
    context: dict[str, Any] = {
        "title": "交换日志",
        "heads": heads_latest(db, 10),
        "records": int(db.scalar(select(func.count()).select_from(ExchangeLogRecord)) or 0),
        "leaves": int(db.scalar(select(func.count()).select_from(ExchangeLogLeaf)) or 0),
        "archives": int(db.scalar(select(func.count()).select_from(ExchangeLogArchive)) or 0),
        "verify_result": messagelog_verify(db) if verify else None,
        "record": record.strip(),
        "proof": None,
        "proof_error": None,
    }
    if context["record"]:
        key = context["record"]
        try:
            context["proof"] = (
                messagelog_inclusion_proof(db, record_id=int(key))
                if key.isdigit()
                else messagelog_inclusion_proof(db, xroad_id=key)
            )
        except ZhengwuError as exc:
            context["proof_error"] = exc.message
    return render(request, "exchange/log.html", context)


def _subsystems_page(
    request: Request, db: DbSession, actor: SignedInActor, instance: str, *, error: str | None, done: str
) -> HTMLResponse:
    now = utcnow()
    return render(
        request,
        "exchange/subsystems.html",
        {
            "title": "子系统与客户端证书",
            "subsystems": subsystem_security_list(db, actor=actor, instance=instance),
            "can_manage": actor.has(Role.PLATFORM_ADMIN),
            "now": now,
            "soon": now + EXPIRY_WARNING,
            "error": error,
            "done": done,
        },
        status_code=400 if error else 200,
    )


@router.get("/exchange/subsystems", response_class=HTMLResponse)
def subsystems_page(
    request: Request, db: DbSession, actor: SignedInActor, settings: AppSettings, done: str = ""
) -> HTMLResponse:
    """子系统证书: every subsystem, its client certificates and whether it must use mutual TLS."""
    return _subsystems_page(request, db, actor, settings.instance, error=None, done=done[:200])


def _after(
    request: Request, db: DbSession, actor: SignedInActor, instance: str, exc: ZhengwuError
) -> Response:
    # Bad input and refused changes are shown on the page (400); authorization errors go to the handlers.
    if exc.code.startswith(("gateway.cert", "invalid")) or exc.field:
        return _subsystems_page(request, db, actor, instance, error=exc.message, done="")
    raise exc


@router.post("/exchange/subsystems/{subsystem_id}/certificates", response_class=HTMLResponse)
async def certificate_add_post(
    request: Request,
    subsystem_id: int,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    certificate_pem: Text = "",
    certificate_file: Annotated[UploadFile | None, File()] = None,
    csrf_token: Text = "",
) -> Response:
    """Register a client certificate, pasted as PEM text or uploaded as a .pem/.crt file."""
    check_csrf(request, csrf_token)
    pem = certificate_pem
    try:
        if certificate_file is not None and certificate_file.filename:
            raw = await certificate_file.read(MAX_PEM_BYTES + 1)
            if len(raw) > MAX_PEM_BYTES:
                raise ValidationError(
                    "证书文件过大（应为单个 PEM 证书）",
                    message_en="certificate file too large",
                    code="gateway.cert.too_large",
                    field="certificate_file",
                )
            pem = raw.decode("ascii", errors="replace")
        with db.begin_nested():
            added = subsystem_cert_add(
                db, actor=actor, subsystem_id=subsystem_id, certificate_pem=pem, instance=settings.instance
            )
    except ZhengwuError as exc:
        return _after(request, db, actor, settings.instance, exc)
    done = quote(f"已登记证书 {added.fingerprint[:16]}…（{added.xroad_id}）")
    return RedirectResponse(f"/exchange/subsystems?done={done}#sub-{subsystem_id}", status_code=303)


@router.post("/exchange/certificates/{certificate_id}/revoke", response_class=HTMLResponse)
def certificate_revoke_post(
    request: Request,
    certificate_id: int,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    csrf_token: Text = "",
) -> Response:
    """Revoke a client certificate (gateways stop accepting it within their auth TTL)."""
    check_csrf(request, csrf_token)
    try:
        with db.begin_nested():
            revoked = subsystem_cert_revoke(
                db, actor=actor, certificate_id=certificate_id, instance=settings.instance
            )
    except ZhengwuError as exc:
        return _after(request, db, actor, settings.instance, exc)
    done = quote(f"已吊销证书 {revoked.fingerprint[:16]}…")
    return RedirectResponse(f"/exchange/subsystems?done={done}#sub-{revoked.subsystem_id}", status_code=303)


@router.post("/exchange/subsystems/{subsystem_id}/client-auth", response_class=HTMLResponse)
def client_auth_post(
    request: Request,
    subsystem_id: int,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    require_client_cert: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Require mutual TLS for a subsystem's calls, or stop requiring it."""
    check_csrf(request, csrf_token)
    try:
        with db.begin_nested():
            subsystem_client_auth_set(
                db,
                actor=actor,
                subsystem_id=subsystem_id,
                require_client_cert=require_client_cert == "1",
                instance=settings.instance,
            )
    except ZhengwuError as exc:
        return _after(request, db, actor, settings.instance, exc)
    done = quote("已要求双向 TLS" if require_client_cert == "1" else "已取消双向 TLS 要求")
    return RedirectResponse(f"/exchange/subsystems?done={done}#sub-{subsystem_id}", status_code=303)
