"""Pages of the reuse showcase (应用展示): the list, one showcase, the submit form, the moderation queue.

A showcase's image address is shown as a link, not embedded: pages allow images from the platform only
(Content-Security-Policy ``img-src 'self'``), and an embedded third-party image would tell its host who
reads the page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from zhengwu.errors import ZhengwuError
from zhengwu.opendata.showcase.models import STATUS_LABELS_ZH, ShowcaseStatus
from zhengwu.opendata.showcase.services import (
    PAGE_SIZE,
    is_moderator,
    showcase_create,
    showcase_get,
    showcase_list,
    showcase_moderate,
)
from zhengwu.web.deps import CurrentActor, DbSession, SignedInActor, check_csrf
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]


@router.get("/opendata/showcases", response_class=HTMLResponse)
def showcases_page(
    request: Request, db: DbSession, actor: CurrentActor, page: int = Query(1, ge=1, le=500)
) -> HTMLResponse:
    """应用展示: approved showcases, newest first."""
    total, items = showcase_list(db, actor=actor, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(
        request,
        "opendata/showcases.html",
        {
            "title": "应用展示",
            "items": items,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "moderator": is_moderator(actor),
        },
    )


def _form(
    request: Request, form: dict[str, str], error: str | None = None, field: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "opendata/showcase_new.html",
        {"title": "提交应用", "form": form, "error": error, "error_field": field},
        status_code=400 if error else 200,
    )


@router.get("/opendata/showcases/new", response_class=HTMLResponse)
def showcase_new_page(
    request: Request, actor: SignedInActor, dataset: str = Query("", max_length=100)
) -> HTMLResponse:
    """The form to submit a showcase; ``dataset`` pre-fills the datasets it uses."""
    del actor
    return _form(request, {"datasets": dataset})


@router.post("/opendata/showcases")
def showcase_create_post(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    title: Text = "",
    notes: Text = "",
    url: Text = "",
    image_url: Text = "",
    author: Text = "",
    datasets: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_csrf(request, csrf_token)
    form = {
        "title": title,
        "notes": notes,
        "url": url,
        "image_url": image_url,
        "author": author,
        "datasets": datasets,
    }
    try:
        with db.begin_nested():
            made = showcase_create(db, actor=actor, payload=dict(form))
    except ZhengwuError as exc:
        if exc.code.startswith("opendata."):
            return _form(request, form, exc.message, exc.field)
        raise
    return RedirectResponse(f"/opendata/showcases/{made['name']}", status_code=303)


@router.get("/opendata/showcases/moderation", response_class=HTMLResponse)
def moderation_page(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    status: str = Query("pending", max_length=16),
    page: int = Query(1, ge=1, le=500),
) -> HTMLResponse:
    """The moderation queue (oldest first) and the decided showcases, for the open-data operators."""
    total, items = showcase_list(
        db, actor=actor, status=status, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render(
        request,
        "opendata/showcase_moderation.html",
        {
            "title": "应用审核",
            "items": items,
            "total": total,
            "status": status,
            "statuses": {str(k): v for k, v in STATUS_LABELS_ZH.items()},
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
        },
    )


def _showcase_page(
    request: Request, db: DbSession, actor: CurrentActor, ref: str, error: str | None = None
) -> HTMLResponse:
    item: dict[str, Any] = showcase_get(db, actor=actor, ref=ref)
    return render(
        request,
        "opendata/showcase.html",
        {
            "title": item["title"],
            "item": item,
            "moderator": is_moderator(actor),
            "pending": item["approval_status"] == ShowcaseStatus.PENDING,
            "error": error,
        },
        status_code=400 if error else 200,
    )


@router.get("/opendata/showcases/{ref}", response_class=HTMLResponse)
def showcase_page(request: Request, ref: str, db: DbSession, actor: CurrentActor) -> HTMLResponse:
    """One showcase with the datasets it uses; the moderation form for operators."""
    return _showcase_page(request, db, actor, ref)


@router.post("/opendata/showcases/{ref}/moderate")
def showcase_moderate_post(
    request: Request,
    ref: str,
    db: DbSession,
    actor: SignedInActor,
    decision: Text = "",
    note: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        with db.begin_nested():
            showcase_moderate(db, actor=actor, ref=ref, decision=decision, note=note)
    except ZhengwuError as exc:
        if exc.code.startswith("opendata."):
            return _showcase_page(request, db, actor, ref, error=exc.message)
        raise
    return RedirectResponse("/opendata/showcases/moderation", status_code=303)
