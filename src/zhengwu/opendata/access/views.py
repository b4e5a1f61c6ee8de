"""Pages of conditional opening (有条件开放): sign-up, apply, my applications, the provider's inbox.

The dataset page links "申请使用" here for conditional datasets. A new key is shown on the page that
issues it, once; afterwards only its prefix is listed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from zhengwu.accounts.models import Role
from zhengwu.errors import ZhengwuError
from zhengwu.opendata.access.models import APPLICANT_KIND_LABELS_ZH, APPLICATION_STATUS_LABELS_ZH
from zhengwu.opendata.access.schemas import KeyIssued
from zhengwu.opendata.access.services import (
    DECISION_WORKING_DAYS,
    applicant_get,
    applicant_register,
    application_approve,
    application_create,
    application_get,
    application_inbox,
    application_list_mine,
    application_may_decide,
    application_refuse,
    key_issue,
    key_revoke,
)
from zhengwu.opendata.access.usage import usage_by_day
from zhengwu.opendata.services import dataset_get
from zhengwu.web.deps import AppSettings, CurrentActor, DbSession, SignedInActor, check_csrf
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]

PROVIDER_ROLES = frozenset({Role.DATA_ADMIN, Role.PLATFORM_ADMIN})
NAV = [
    NavItem("我的数据申请", "/opendata/access/mine", order=16, roles=frozenset({Role.PUBLIC_USER})),
    NavItem(
        "数据申请审核",
        "/opendata/access/inbox",
        order=16,
        roles=frozenset({Role.DATA_ADMIN, Role.PLATFORM_ADMIN}),
    ),
]


def _error_of(exc: ZhengwuError) -> str:
    return exc.message


@router.get("/opendata/register", response_class=HTMLResponse)
def register_page(request: Request, actor: CurrentActor) -> HTMLResponse:
    """公众/企业注册: sign up to apply for conditionally open data."""
    return _register(request, {}, None)


def _register(request: Request, form: dict[str, str], error: str | None) -> HTMLResponse:
    return render(
        request,
        "opendata/access/register.html",
        {
            "title": "注册（申请有条件开放数据）",
            "form": form,
            "kinds": APPLICANT_KIND_LABELS_ZH,
            "error": error,
        },
        status_code=400 if error else 200,
    )


@router.post("/opendata/register", response_class=HTMLResponse)
def register_post(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    kind: Text = "",
    username: Text = "",
    password: Text = "",
    name: Text = "",
    identifier: Text = "",
    phone: Text = "",
    email: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_csrf(request, csrf_token)
    form = {"kind": kind, "username": username, "name": name, "phone": phone, "email": email}
    try:
        with db.begin_nested():
            applicant_register(
                db,
                actor=actor,
                data={**form, "password": password, "identifier": identifier},
                password_min_length=settings.password_min_length,
            )
    except ZhengwuError as exc:
        return _register(request, form, _error_of(exc))
    return RedirectResponse("/login?next=/opendata/access/mine", status_code=303)


def _apply_page(
    request: Request, db: DbSession, actor: SignedInActor, name: str, form: dict[str, str], error: str | None
) -> HTMLResponse:
    pkg: dict[str, Any] = dataset_get(db, actor=actor, ref=name)
    return render(
        request,
        "opendata/access/apply.html",
        {
            "title": f"申请使用：{pkg['title']}",
            "pkg": pkg,
            "applicant": applicant_get(db, actor=actor),
            "form": form,
            "error": error,
            "working_days": DECISION_WORKING_DAYS,
        },
        status_code=400 if error else 200,
    )


@router.get("/opendata/datasets/{name}/apply", response_class=HTMLResponse)
def apply_page(request: Request, name: str, db: DbSession, actor: SignedInActor) -> HTMLResponse:
    """申请使用: the application form of a conditional dataset."""
    return _apply_page(request, db, actor, name, {}, None)


@router.post("/opendata/datasets/{name}/apply", response_class=HTMLResponse)
def apply_post(
    request: Request,
    name: str,
    db: DbSession,
    actor: SignedInActor,
    purpose: Text = "",
    use_start: Text = "",
    use_end: Text = "",
    contact_name: Text = "",
    contact_phone: Text = "",
    contact_email: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_csrf(request, csrf_token)
    form = {
        "purpose": purpose,
        "use_start": use_start,
        "use_end": use_end,
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "contact_email": contact_email,
    }
    try:
        with db.begin_nested():
            made = application_create(db, actor=actor, data={"dataset": name, **form})
    except ZhengwuError as exc:
        if exc.code.startswith(("opendata.", "auth.")) or exc.field:
            return _apply_page(request, db, actor, name, form, _error_of(exc))
        raise
    return RedirectResponse(f"/opendata/access/applications/{made.id}", status_code=303)


@router.get("/opendata/access/mine", response_class=HTMLResponse)
def mine_page(request: Request, db: DbSession, actor: SignedInActor) -> HTMLResponse:
    """我的数据申请: status, keys and usage of the caller's applications."""
    items = application_list_mine(db, actor=actor)
    return render(
        request,
        "opendata/access/mine.html",
        {"title": "我的数据申请", "items": items, "applicant": applicant_get(db, actor=actor)},
    )


@router.get("/opendata/access/inbox", response_class=HTMLResponse)
def inbox_page(
    request: Request, db: DbSession, actor: SignedInActor, status: str = Query("pending", max_length=16)
) -> HTMLResponse:
    """数据申请审核: the applications addressed to the provider's department."""
    status = status if status in {str(s) for s in APPLICATION_STATUS_LABELS_ZH} else ""
    items = application_inbox(db, actor=actor, status=status)
    return render(
        request,
        "opendata/access/inbox.html",
        {
            "title": "数据申请审核",
            "items": items,
            "status": status,
            "statuses": {str(k): v for k, v in APPLICATION_STATUS_LABELS_ZH.items()},
        },
    )


def _detail(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    application_id: int,
    *,
    issued: KeyIssued | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    item = application_get(db, actor=actor, application_id=application_id)
    return render(
        request,
        "opendata/access/application.html",
        {
            "title": f"数据申请 {item.id}",
            "item": item,
            "usage": usage_by_day(db, actor=actor, application_id=application_id),
            "is_applicant": actor.user_id == item.applicant.user_id,
            "may_decide": application_may_decide(db, actor=actor, application_id=application_id),
            "issued": issued,
            "error": error,
            "base": str(request.base_url).rstrip("/"),
        },
        status_code=status_code,
    )


@router.get("/opendata/access/applications/{application_id}", response_class=HTMLResponse)
def application_page(
    request: Request, application_id: int, db: DbSession, actor: SignedInActor
) -> HTMLResponse:
    """One application: its decision, the key, usage per day; the decision form for the provider."""
    return _detail(request, db, actor, application_id)


@router.post("/opendata/access/applications/{application_id}/approve", response_class=HTMLResponse)
def approve_post(
    request: Request,
    application_id: int,
    db: DbSession,
    actor: SignedInActor,
    conditions: Text = "",
    valid_until: Text = "",
    rate_per_minute: Text = "",
    daily_quota: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_csrf(request, csrf_token)
    data = {"conditions": conditions, "valid_until": valid_until}
    data |= {k: v for k, v in (("rate_per_minute", rate_per_minute), ("daily_quota", daily_quota)) if v}
    try:
        with db.begin_nested():
            application_approve(db, actor=actor, application_id=application_id, data=data)
    except ZhengwuError as exc:
        if exc.code.startswith("opendata."):
            return _detail(request, db, actor, application_id, error=_error_of(exc), status_code=400)
        raise
    return RedirectResponse(f"/opendata/access/applications/{application_id}", status_code=303)


@router.post("/opendata/access/applications/{application_id}/refuse", response_class=HTMLResponse)
def refuse_post(
    request: Request,
    application_id: int,
    db: DbSession,
    actor: SignedInActor,
    reason: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        with db.begin_nested():
            application_refuse(db, actor=actor, application_id=application_id, reason=reason)
    except ZhengwuError as exc:
        if exc.code.startswith("opendata."):
            return _detail(request, db, actor, application_id, error=_error_of(exc), status_code=400)
        raise
    return RedirectResponse(f"/opendata/access/applications/{application_id}", status_code=303)


@router.post("/opendata/access/applications/{application_id}/key", response_class=HTMLResponse)
def key_post(
    request: Request, application_id: int, db: DbSession, actor: SignedInActor, csrf_token: Text = ""
) -> Response:
    """Issue the key and show it on this page, once (no redirect: the secret is never stored)."""
    check_csrf(request, csrf_token)
    try:
        with db.begin_nested():
            issued = key_issue(db, actor=actor, application_id=application_id)
    except ZhengwuError as exc:
        if exc.code.startswith("opendata."):
            return _detail(request, db, actor, application_id, error=_error_of(exc), status_code=409)
        raise
    return _detail(request, db, actor, application_id, issued=issued)


@router.post("/opendata/access/keys/{key_id}/revoke")
def revoke_post(
    request: Request, key_id: int, db: DbSession, actor: SignedInActor, back: Text = "", csrf_token: Text = ""
) -> Response:
    check_csrf(request, csrf_token)
    key_revoke(db, actor=actor, key_id=key_id)
    target = back if back.startswith("/opendata/access/") and "//" not in back else "/opendata/access/mine"
    return RedirectResponse(target, status_code=303)
