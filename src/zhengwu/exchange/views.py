"""The message log page for security auditors and platform admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import require_roles
from zhengwu.errors import ZhengwuError
from zhengwu.exchange.messagelog import heads_latest, messagelog_inclusion_proof
from zhengwu.exchange.models import ExchangeLogArchive, ExchangeLogLeaf, ExchangeLogRecord
from zhengwu.exchange.verify import messagelog_verify
from zhengwu.web.deps import DbSession, SignedInActor
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [NavItem("交换日志", "/exchange/log", order=85, roles=frozenset({Role.AUDITOR, Role.PLATFORM_ADMIN}))]


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
