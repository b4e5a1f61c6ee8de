"""Request dependencies: settings, a database session per request, the caller, CSRF."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.services import session_resolve, token_authenticate
from zhengwu.config import Settings
from zhengwu.db import Database
from zhengwu.errors import NotAuthenticated, PermissionDenied

SESSION_COOKIE = "zw_session"
LOGIN_CSRF_COOKIE = "zw_login_csrf"


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_db(request: Request) -> Iterator[Session]:
    """One unit of work per request: committed if the endpoint returns, rolled back if it raises.

    Used with ``scope="function"`` so the commit happens before the response is sent: a client never
    sees success for a write that then failed to commit.
    """
    database: Database = request.app.state.database
    with database.session() as session:
        yield session


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    raise NotAuthenticated(
        "Authorization 头格式应为 Bearer <令牌>",
        message_en="Authorization header must be 'Bearer <token>'",
        code="auth.header",
    )


def get_actor(request: Request, db: Annotated[Session, Depends(get_db, scope="function")]) -> Actor:
    """The caller: a token holder, a signed-in browser, or anonymous."""
    ip = client_ip(request)
    raw = _bearer(request)
    if raw is not None:
        actor = token_authenticate(db, raw=raw, ip=ip)
        request.state.csrf_token = None
        request.state.actor = actor
        return actor
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        resolved = session_resolve(db, secret=cookie, ip=ip)
        if resolved is not None:
            request.state.csrf_token = resolved.csrf_token
            request.state.actor = resolved.actor
            return resolved.actor
    anon = Actor.anonymous(ip=ip)
    request.state.csrf_token = None
    request.state.actor = anon
    return anon


def require_user(actor: Annotated[Actor, Depends(get_actor)]) -> Actor:
    """Like :func:`get_actor` but refuses anonymous callers (pages redirect to sign-in)."""
    if not actor.is_authenticated:
        raise NotAuthenticated("请先登录", message_en="authentication required")
    return actor


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a cookie-authenticated form post whose CSRF token does not match the session's."""
    expected: str | None = getattr(request.state, "csrf_token", None)
    if expected is None:
        return  # token-authenticated or anonymous: no ambient credentials to abuse
    if not submitted or not secrets.compare_digest(expected, submitted):
        raise PermissionDenied(
            "表单已过期，请刷新页面后重试", message_en="CSRF token missing or wrong", code="auth.csrf"
        )


DbSession = Annotated[Session, Depends(get_db, scope="function")]
CurrentActor = Annotated[Actor, Depends(get_actor)]
SignedInActor = Annotated[Actor, Depends(require_user)]
AppSettings = Annotated[Settings, Depends(get_settings)]
