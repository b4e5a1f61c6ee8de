"""Server-rendered pages: one Jinja2 environment over every domain's ``templates`` folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from zhengwu.accounts.models import LEVEL_LABELS_ZH, ROLE_LABELS_ZH, Role
from zhengwu.accounts.permissions import Actor
from zhengwu.db import BEIJING
from zhengwu.errors import ZhengwuError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = Path(__file__).resolve().parent / "static"


def _template_dirs() -> list[str]:
    # web/templates first (base layout), then every domain's own templates/<domain>/... tree.
    dirs = [str(Path(__file__).resolve().parent / "templates")]
    dirs += sorted(str(p) for p in PACKAGE_DIR.glob("*/templates") if p.parent.name != "web")
    return dirs


def _local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Show a stored UTC time in Beijing time, the zone every user of the platform works in."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(BEIJING).strftime(fmt)


def _make_environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(_template_dirs())]),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["localtime"] = _local_time
    env.filters["role_zh"] = lambda r: ROLE_LABELS_ZH.get(Role(r), r)
    env.filters["level_zh"] = lambda lv: LEVEL_LABELS_ZH.get(lv, lv)
    env.globals["ROLE_LABELS_ZH"] = ROLE_LABELS_ZH
    env.globals["Role"] = Role
    return env


templates = Jinja2Templates(env=_make_environment())


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render a page with what every page needs: the caller, the CSRF token, the platform's name."""
    actor: Actor = getattr(request.state, "actor", None) or Actor.anonymous()
    ctx: dict[str, Any] = {
        "request": request,
        "actor": actor,
        "csrf_token": getattr(request.state, "csrf_token", None),
        "settings": request.app.state.settings,
        "nav": request.app.state.nav,
        "path": request.url.path,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)


def render_error_page(request: Request, exc: ZhengwuError, status: int) -> HTMLResponse:
    """The Chinese error page for people."""
    titles = {
        400: "请求有误",
        401: "请先登录",
        403: "没有权限",
        404: "未找到",
        409: "操作冲突",
        429: "请求过于频繁",
        500: "服务器错误",
        502: "上游系统错误",
    }
    return render(
        request,
        "error.html",
        {"error": exc, "status": status, "title": titles.get(status, "出错了")},
        status_code=status,
    )
