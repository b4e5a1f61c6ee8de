"""The audit trail page for security auditors."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from zhengwu.accounts.models import Role
from zhengwu.audit.services import audit_list
from zhengwu.web.deps import DbSession, SignedInActor
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [NavItem("审计", "/audit", order=90, roles=frozenset({Role.AUDITOR, Role.PLATFORM_ADMIN}))]

ACTION_LABELS = {
    "auth.login": "登录",
    "auth.logout": "退出",
    "user.create": "新建用户",
    "user.roles_change": "变更角色",
    "user.disable": "停用账号",
    "user.enable": "启用账号",
    "user.password_change": "修改密码",
    "token.create": "创建令牌",
    "token.revoke": "撤销令牌",
    "department.create": "新增部门",
}


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    action: str = "",
    username: str = "",
    page: int = Query(1, ge=1),
) -> Response:
    result = audit_list(db, actor=actor, action_prefix=action or None, username=username or None, page=page)
    pages = max(1, (result.total + 49) // 50)
    return render(
        request,
        "audit/events.html",
        {
            "title": "审计日志",
            "result": result,
            "action": action,
            "username": username,
            "page": page,
            "pages": pages,
            "labels": ACTION_LABELS,
        },
    )
