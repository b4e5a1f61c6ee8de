"""The home page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from zhengwu.home.services import platform_figures
from zhengwu.web.deps import CurrentActor, DbSession
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [NavItem("首页", "/", order=0)]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: DbSession, actor: CurrentActor) -> Response:
    return render(request, "home/index.html", {"title": "首页", "data": platform_figures(db, actor=actor)})
