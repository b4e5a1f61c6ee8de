"""Pages of data requests (数据需求): the public list, the form to ask, one request with its answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from zhengwu.errors import ZhengwuError
from zhengwu.opendata.directory import organization_list
from zhengwu.opendata.requests.models import STATUS_LABELS_ZH, RequestStatus
from zhengwu.opendata.requests.services import (
    PAGE_SIZE,
    data_request_answer,
    data_request_answerer,
    data_request_create,
    data_request_get,
    data_request_list,
)
from zhengwu.web.deps import CurrentActor, DbSession, SignedInActor, check_csrf
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]


@router.get("/opendata/requests", response_class=HTMLResponse)
def requests_page(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    status: str = Query("", max_length=16),
    page: int = Query(1, ge=1, le=500),
) -> HTMLResponse:
    """数据需求: the requests of the public and their answers; the form to ask when signed in."""
    status = status if status in {s.value for s in RequestStatus} else ""
    total, items = data_request_list(db, actor=actor, status=status, offset=(page - 1) * PAGE_SIZE)
    return render(
        request,
        "opendata/requests.html",
        {
            "title": "数据需求",
            "items": items,
            "total": total,
            "status": status,
            "statuses": {str(k): v for k, v in STATUS_LABELS_ZH.items()},
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "publishers": organization_list(db, actor=actor, all_fields=True),
            "signed_in": actor.is_authenticated,
            "error": None,
        },
    )


@router.post("/opendata/requests")
def request_create_post(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    title: Text = "",
    description: Text = "",
    purpose: Text = "",
    organization: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        made = data_request_create(
            db, actor=actor, title=title, description=description, purpose=purpose, organization=organization
        )
    except ZhengwuError as exc:
        total, items = data_request_list(db, actor=actor)
        return render(
            request,
            "opendata/requests.html",
            {
                "title": "数据需求",
                "items": items,
                "total": total,
                "status": "",
                "statuses": {str(k): v for k, v in STATUS_LABELS_ZH.items()},
                "page": 1,
                "pages": 1,
                "publishers": organization_list(db, actor=actor, all_fields=True),
                "signed_in": True,
                "error": exc.message,
            },
            status_code=400,
        )
    return RedirectResponse(f"/opendata/requests/{made.id}", status_code=303)


@router.get("/opendata/requests/{request_id}", response_class=HTMLResponse)
def request_page(request: Request, request_id: int, db: DbSession, actor: CurrentActor) -> HTMLResponse:
    """One request and its answer; the answer form for the publisher's data administrators."""
    return _request_page(request, db, actor, request_id)


def _request_page(
    request: Request, db: DbSession, actor: CurrentActor, request_id: int, error: str | None = None
) -> HTMLResponse:
    item = data_request_get(db, actor=actor, request_id=request_id)
    return render(
        request,
        "opendata/request.html",
        {
            "title": item.title,
            "item": item,
            "may_answer": data_request_answerer(db, actor=actor, request_id=request_id),
            "answers": {
                str(s): STATUS_LABELS_ZH[s]
                for s in (RequestStatus.PLANNED, RequestStatus.PUBLISHED, RequestStatus.REFUSED)
            },
            "error": error,
        },
        status_code=400 if error else 200,
    )


@router.post("/opendata/requests/{request_id}/answer")
def request_answer_post(
    request: Request,
    request_id: int,
    db: DbSession,
    actor: SignedInActor,
    status: Text = "",
    answer: Text = "",
    dataset: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        with db.begin_nested():
            data_request_answer(
                db, actor=actor, request_id=request_id, status=status, answer=answer, dataset=dataset
            )
    except ZhengwuError as exc:
        if exc.code.startswith("opendata."):
            return _request_page(request, db, actor, request_id, error=exc.message)
        raise
    return RedirectResponse(f"/opendata/requests/{request_id}", status_code=303)
