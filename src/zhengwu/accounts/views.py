"""Pages: sign-in, my account (password, API tokens), departments and users administration."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from zhengwu.accounts.models import DepartmentLevel, Role
from zhengwu.accounts.schemas import DepartmentIn, DepartmentOut, UserIn
from zhengwu.accounts.services import (
    department_create,
    department_list,
    session_create,
    session_end,
    token_create,
    token_list,
    token_revoke,
    user_authenticate,
    user_change_password,
    user_create,
    user_list,
    user_set_active,
    user_set_roles,
)
from zhengwu.errors import ValidationError, ZhengwuError
from zhengwu.web.deps import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AppSettings,
    CurrentActor,
    DbSession,
    SignedInActor,
    check_csrf,
    client_ip,
)
from zhengwu.web.forms import optional_int, validate_form
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [
    NavItem("部门", "/admin/departments", order=80, signed_in=True),
    NavItem("用户", "/admin/users", order=81, roles=frozenset({Role.PLATFORM_ADMIN, Role.AUDITOR})),
]


def _safe_next(value: str | None) -> str:
    # Only same-site relative paths: an open redirect after sign-in is a phishing aid.
    if not value or not value.startswith("/") or value.startswith("//") or urlparse(value).netloc:
        return "/"
    return value


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, actor: CurrentActor, next: str | None = None) -> Response:
    if actor.is_authenticated:
        return RedirectResponse(_safe_next(next), status_code=303)
    token = secrets.token_urlsafe(24)
    response = render(
        request, "accounts/login.html", {"title": "登录", "next": _safe_next(next), "login_csrf": token}
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    login_csrf: Annotated[str, Form()] = "",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    fresh = secrets.token_urlsafe(24)

    def again(message: str, status: int) -> Response:
        resp = render(
            request,
            "accounts/login.html",
            {
                "title": "登录",
                "next": _safe_next(next),
                "login_csrf": fresh,
                "username": username,
                "flash": message,
                "flash_kind": "error",
            },
            status_code=status,
        )
        resp.set_cookie(LOGIN_CSRF_COOKIE, fresh, httponly=True, samesite="strict", max_age=3600)
        return resp

    if not cookie or not login_csrf or not secrets.compare_digest(cookie, login_csrf):
        return again("页面已过期，请重新登录", 403)
    if not username.strip() or not password:
        return again("请输入用户名和密码", 400)
    outcome = user_authenticate(
        db,
        username=username.strip(),
        password=password,
        ip=client_ip(request),
        max_failures=settings.login_max_failures,
        lock_minutes=settings.login_lock_minutes,
    )
    if outcome.actor is None:
        assert outcome.error is not None
        return again(outcome.error.message, 401)
    info = session_create(
        db,
        actor=outcome.actor,
        max_age_seconds=settings.session_max_age_seconds,
        user_agent=request.headers.get("user-agent"),
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        info.secret,
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
        max_age=settings.session_max_age_seconds,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request, db: DbSession, actor: CurrentActor, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and actor.is_authenticated:
        check_csrf(request, csrf_token)
        session_end(db, actor=actor, secret=cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- My account -------------------------------------------------------------------------------------


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    assert actor.user_id is not None
    tokens = token_list(db, actor=actor, user_id=actor.user_id)
    return render(request, "accounts/account.html", {"title": "我的账号", "tokens": tokens})


@router.post("/account/tokens", response_class=HTMLResponse)
def account_token_create(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    name: Annotated[str, Form()] = "",
    expires_days: Annotated[int | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    assert actor.user_id is not None
    created = token_create(
        db,
        actor=actor,
        user_id=actor.user_id,
        name=name,
        expires_days=expires_days or settings.token_default_days,
    )
    tokens = token_list(db, actor=actor, user_id=actor.user_id)
    return render(
        request,
        "accounts/account.html",
        {
            "title": "我的账号",
            "tokens": tokens,
            "created": created,
            "flash": "令牌已创建。它只显示这一次，请立即妥善保存。",
        },
    )


@router.post("/account/tokens/{token_id}/revoke")
def account_token_revoke(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    token_id: int,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    token_revoke(db, actor=actor, token_id=token_id)
    return RedirectResponse("/account", status_code=303)


@router.post("/account/password", response_class=HTMLResponse)
def account_password(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    old_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    new_password2: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    assert actor.user_id is not None
    tokens = token_list(db, actor=actor, user_id=actor.user_id)
    try:
        if new_password != new_password2:
            raise ValidationError(
                "两次输入的新密码不一致", message_en="passwords differ", field="new_password2"
            )
        user_change_password(
            db,
            actor=actor,
            old_password=old_password,
            new_password=new_password,
            password_min_length=settings.password_min_length,
        )
    except ValidationError as exc:
        # The failed attempt is audited; keep that record even though the change is refused.
        db.commit()
        return render(
            request,
            "accounts/account.html",
            {"title": "我的账号", "tokens": tokens, "flash": exc.message, "flash_kind": "error"},
            status_code=400,
        )
    return render(
        request, "accounts/account.html", {"title": "我的账号", "tokens": tokens, "flash": "密码已修改"}
    )


# --- Departments ------------------------------------------------------------------------------------


@dataclass
class _Node:
    dept: DepartmentOut
    children: list[_Node] = field(default_factory=list)


def _tree(depts: list[DepartmentOut]) -> list[_Node]:
    nodes = {d.id: _Node(d) for d in depts}
    roots: list[_Node] = []
    for d in depts:
        parent = nodes.get(d.parent_id) if d.parent_id else None
        (parent.children if parent else roots).append(nodes[d.id])
    return roots


@router.get("/admin/departments", response_class=HTMLResponse)
def departments_page(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    depts = department_list(db, actor=actor)
    return render(
        request,
        "accounts/departments.html",
        {
            "title": "部门",
            "tree": _tree(depts),
            "departments": depts,
            "levels": list(DepartmentLevel),
            "can_edit": actor.has(Role.PLATFORM_ADMIN),
        },
    )


@router.post("/admin/departments", response_class=HTMLResponse)
def departments_create(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    level: Annotated[str, Form()] = "",
    region_code: Annotated[str, Form()] = "",
    uscc: Annotated[str, Form()] = "",
    parent_id: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    form = {
        "code": code,
        "name": name,
        "level": level,
        "region_code": region_code,
        "uscc": uscc,
        "parent_id": parent_id,
    }
    try:
        data = validate_form(
            DepartmentIn,
            {
                "code": code.strip(),
                "name": name.strip(),
                "level": level,
                "region_code": region_code.strip(),
                "uscc": uscc.strip() or None,
                "parent_id": optional_int(parent_id),
            },
        )
        department_create(db, actor=actor, data=data)
    except ZhengwuError as exc:
        depts = department_list(db, actor=actor)
        return render(
            request,
            "accounts/departments.html",
            {
                "title": "部门",
                "tree": _tree(depts),
                "departments": depts,
                "levels": list(DepartmentLevel),
                "can_edit": True,
                "form": form,
                "flash": exc.message,
                "flash_kind": "error",
            },
            status_code=400,
        )
    return RedirectResponse("/admin/departments", status_code=303)


# --- Users ------------------------------------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    users = user_list(db, actor=actor)
    depts = department_list(db, actor=actor)
    return render(
        request,
        "accounts/users.html",
        {
            "title": "用户",
            "users": users,
            "departments": depts,
            "roles": list(Role),
            "can_edit": actor.has(Role.PLATFORM_ADMIN),
        },
    )


@router.post("/admin/users", response_class=HTMLResponse)
def users_create(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    department_id: Annotated[str, Form()] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        data = validate_form(
            UserIn,
            {
                "username": username.strip(),
                "display_name": display_name.strip(),
                "password": password,
                "department_id": optional_int(department_id),
                "roles": roles or [],
            },
        )
        user_create(db, actor=actor, data=data, password_min_length=settings.password_min_length)
    except ZhengwuError as exc:
        return render(
            request,
            "accounts/users.html",
            {
                "title": "用户",
                "users": user_list(db, actor=actor),
                "departments": department_list(db, actor=actor),
                "roles": list(Role),
                "can_edit": True,
                "flash": exc.message,
                "flash_kind": "error",
                "form": {
                    "username": username,
                    "display_name": display_name,
                    "department_id": department_id,
                    "roles": roles or [],
                },
            },
            status_code=400,
        )
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/roles")
def users_set_roles(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    user_id: int,
    roles: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        parsed = [Role(r) for r in roles or []]
    except ValueError as exc:
        raise ValidationError("未知角色", message_en="unknown role", field="roles") from exc
    user_set_roles(db, actor=actor, user_id=user_id, roles=parsed)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/active")
def users_set_active(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    user_id: int,
    active: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    user_set_active(db, actor=actor, user_id=user_id, active=active == "1")
    return RedirectResponse("/admin/users", status_code=303)
