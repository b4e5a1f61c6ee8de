"""Use cases of organisations and accounts. Each checks authorization first and returns plain data.

Secrets (passwords, token and session secrets) are never stored or logged: passwords are hashed with
argon2id, token and session secrets with SM3 (they are long random strings, so a fast hash suffices).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhengwu.accounts.models import (
    DEPARTMENT_ROLES,
    ApiToken,
    Department,
    DepartmentLevel,
    Role,
    User,
    UserRole,
    WebSession,
)
from zhengwu.accounts.permissions import Actor, require_authenticated, require_roles
from zhengwu.accounts.schemas import (
    DepartmentIn,
    DepartmentOut,
    TokenCreated,
    TokenOut,
    UserIn,
    UserOut,
)
from zhengwu.audit.services import audit_record
from zhengwu.crypto import sm3_hash
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationError
from zhengwu.identifiers import InvalidIdentifier, region_get, validate_uscc

TOKEN_PREFIX = "zw"  # noqa: S105 - a public marker, not a secret
_PARENT_LEVEL = {
    DepartmentLevel.PROVINCIAL: {DepartmentLevel.NATIONAL},
    DepartmentLevel.CITY: {DepartmentLevel.PROVINCIAL},
    DepartmentLevel.COUNTY: {DepartmentLevel.CITY},
}

# argon2id with the library's defaults (RFC 9106 low-memory profile) unless a test asks for speed.
_hasher = PasswordHasher()


def configure_password_hashing(*, fast: bool) -> None:
    """Use cheap argon2 parameters (tests and benchmarks only) or the production ones."""
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1) if fast else PasswordHasher()


def hash_secret(secret: str) -> str:
    """The stored form of a long random secret (token, session, dataset key): a fast hash suffices."""
    return sm3_hash(secret.encode("utf-8")).hex()


# ---------------------------------------------------------------------------------------------------
# Departments


def _department_out(dept: Department) -> DepartmentOut:
    return DepartmentOut.model_validate(dept)


def department_create(db: Session, *, actor: Actor, data: DepartmentIn) -> DepartmentOut:
    """Register a department; only platform admins may."""
    require_roles(actor, Role.PLATFORM_ADMIN)
    if region_get(data.region_code) is None:
        raise ValidationError(
            f"行政区划代码 {data.region_code} 不存在",
            message_en=f"unknown region code {data.region_code}",
            field="region_code",
            code="department.region_code",
        )
    uscc = None
    if data.uscc:
        try:
            uscc = validate_uscc(data.uscc)
        except InvalidIdentifier as exc:
            raise ValidationError(
                exc.message, message_en=exc.message_en, field="uscc", code=exc.code
            ) from exc
    if data.parent_id is not None:
        parent = db.get(Department, data.parent_id)
        if parent is None:
            raise ValidationError(
                "上级部门不存在", message_en="parent department not found", field="parent_id"
            )
        allowed = _PARENT_LEVEL.get(data.level, set())
        if parent.level not in allowed:
            raise ValidationError(
                "上级部门的层级不符",
                message_en=f"a {data.level.value} department cannot sit under a {parent.level.value} one",
                field="parent_id",
                code="department.parent_level",
            )
    dept = Department(
        code=data.code,
        name=data.name,
        short_name=data.short_name,
        level=data.level,
        region_code=data.region_code,
        uscc=uscc,
        parent_id=data.parent_id,
    )
    try:
        with db.begin_nested():
            db.add(dept)
            db.flush()
    except IntegrityError as exc:
        raise Conflict(
            "部门代码或统一社会信用代码已存在",
            message_en="department code or USCC already exists",
            field="code",
            code="department.duplicate",
        ) from exc
    audit_record(
        db,
        actor=actor,
        action="department.create",
        target_type="department",
        target_id=dept.id,
        details={"code": dept.code, "name": dept.name},
    )
    return _department_out(dept)


def department_list(db: Session, *, actor: Actor) -> list[DepartmentOut]:
    """Every department, in code order. Any signed-in user may see the organisation chart."""
    require_authenticated(actor)
    return [_department_out(d) for d in db.scalars(select(Department).order_by(Department.code))]


def department_get(db: Session, *, actor: Actor, department_id: int) -> DepartmentOut:
    require_authenticated(actor)
    dept = db.get(Department, department_id)
    if dept is None:
        raise NotFound("部门不存在", message_en="department not found", field="department_id")
    return _department_out(dept)


def department_count(db: Session) -> int:
    """Public figure for the home page."""
    return int(db.scalar(select(func.count()).select_from(Department)) or 0)


# ---------------------------------------------------------------------------------------------------
# Users


def _user_out(user: User) -> UserOut:
    now = utcnow()
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        department_id=user.department_id,
        department_name=user.department.name if user.department else None,
        roles=sorted(user.role_set),
        is_active=user.is_active,
        locked=bool(user.locked_until and user.locked_until > now),
        last_login_at=user.last_login_at,
        created_at=user.created_at,
    )


def _check_password_policy(password: str, *, min_length: int, username: str) -> None:
    if len(password) < min_length:
        raise ValidationError(
            f"密码至少 {min_length} 位",
            message_en=f"password needs at least {min_length} characters",
            field="password",
            code="password.too_short",
        )
    if password.lower() == username.lower():
        raise ValidationError(
            "密码不能与用户名相同",
            message_en="password must differ from the username",
            field="password",
            code="password.same_as_username",
        )
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if classes < 2:
        raise ValidationError(
            "密码须包含至少两类字符（大写、小写、数字、符号）",
            message_en="password needs at least two character classes",
            field="password",
            code="password.too_simple",
        )


def _check_roles_fit(roles: set[Role], department_id: int | None) -> None:
    if department_id is None and roles & DEPARTMENT_ROLES:
        raise ValidationError(
            "部门数据管理员和开发者必须隶属某个部门",
            message_en="data administrators and developers must belong to a department",
            field="department_id",
            code="user.department_required",
        )
    if department_id is not None and Role.PUBLIC_USER in roles:
        raise ValidationError(
            "公众/企业用户不隶属部门",
            message_en="public users belong to no department",
            field="roles",
            code="user.public_in_department",
        )


def user_create(db: Session, *, actor: Actor, data: UserIn, password_min_length: int = 10) -> UserOut:
    """Create an account; platform admins only (the CLI acts as the system)."""
    require_roles(actor, Role.PLATFORM_ADMIN)
    roles = set(data.roles)
    if data.department_id is not None and db.get(Department, data.department_id) is None:
        raise ValidationError("部门不存在", message_en="department not found", field="department_id")
    _check_roles_fit(roles, data.department_id)
    _check_password_policy(data.password, min_length=password_min_length, username=data.username)
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=_hasher.hash(data.password),
        department_id=data.department_id,
        email=data.email,
        phone=data.phone,
        roles=[UserRole(role=r.value) for r in sorted(roles)],
    )
    try:
        with db.begin_nested():
            db.add(user)
            db.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"用户名 {data.username} 已存在",
            message_en=f"username {data.username} is taken",
            field="username",
            code="user.duplicate",
        ) from exc
    audit_record(
        db,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=user.id,
        details={
            "username": user.username,
            "roles": sorted(r.value for r in roles),
            "department_id": user.department_id,
        },
    )
    return _user_out(user)


def user_list(db: Session, *, actor: Actor, department_id: int | None = None) -> list[UserOut]:
    """Accounts, for platform admins and auditors."""
    require_roles(actor, Role.PLATFORM_ADMIN, Role.AUDITOR)
    query = select(User).order_by(User.username)
    if department_id is not None:
        query = query.where(User.department_id == department_id)
    return [_user_out(u) for u in db.scalars(query)]


def _get_user(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在", message_en="user not found", field="user_id")
    return user


def user_get(db: Session, *, actor: Actor, user_id: int) -> UserOut:
    """One account: oneself, or anyone for admins and auditors."""
    require_authenticated(actor)
    if actor.user_id != user_id:
        require_roles(actor, Role.PLATFORM_ADMIN, Role.AUDITOR)
    return _user_out(_get_user(db, user_id))


def user_set_roles(db: Session, *, actor: Actor, user_id: int, roles: list[Role]) -> UserOut:
    """Replace a user's roles; audited with the before and after."""
    require_roles(actor, Role.PLATFORM_ADMIN)
    user = _get_user(db, user_id)
    new = set(roles)
    if actor.user_id == user_id and Role.PLATFORM_ADMIN not in new:
        raise PermissionDenied(
            "不能撤销自己的平台管理员角色",
            message_en="you cannot drop your own admin role",
            code="user.self_demotion",
        )
    _check_roles_fit(new, user.department_id)
    before = sorted(r.value for r in user.role_set)
    user.roles = [UserRole(role=r.value) for r in sorted(new)]
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="user.roles_change",
        target_type="user",
        target_id=user.id,
        details={"username": user.username, "before": before, "after": sorted(r.value for r in new)},
    )
    return _user_out(user)


def user_set_active(db: Session, *, actor: Actor, user_id: int, active: bool) -> UserOut:
    """Disable or re-enable an account; disabling also ends its sessions."""
    require_roles(actor, Role.PLATFORM_ADMIN)
    user = _get_user(db, user_id)
    if actor.user_id == user_id and not active:
        raise PermissionDenied(
            "不能停用自己的账号", message_en="you cannot disable yourself", code="user.self_disable"
        )
    user.is_active = active
    if not active:
        _end_sessions(db, user_id=user.id)
    else:
        user.failed_logins = 0
        user.locked_until = None
    audit_record(
        db,
        actor=actor,
        action="user.enable" if active else "user.disable",
        target_type="user",
        target_id=user.id,
        details={"username": user.username},
    )
    return _user_out(user)


def user_change_password(
    db: Session, *, actor: Actor, old_password: str, new_password: str, password_min_length: int = 10
) -> None:
    """A user changes their own password; every other session of theirs ends."""
    require_authenticated(actor)
    if actor.user_id is None:
        raise PermissionDenied("系统账号没有密码", message_en="the system actor has no password")
    user = _get_user(db, actor.user_id)
    try:
        _hasher.verify(user.password_hash, old_password)
    except (VerifyMismatchError, VerificationError, InvalidHashError) as exc:
        audit_record(
            db,
            actor=actor,
            action="user.password_change",
            target_type="user",
            target_id=user.id,
            outcome="failure",
            details={"reason": "wrong_old_password"},
        )
        raise ValidationError(
            "原密码不正确", message_en="old password is wrong", field="old_password", code="password.wrong"
        ) from exc
    _check_password_policy(new_password, min_length=password_min_length, username=user.username)
    user.password_hash = _hasher.hash(new_password)
    user.password_changed_at = utcnow()
    audit_record(db, actor=actor, action="user.password_change", target_type="user", target_id=user.id)


def user_count(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(User)) or 0)


def actor_for_user(user: User, *, ip: str | None = None, token_id: int | None = None) -> Actor:
    """The Actor a signed-in user acts as."""
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=user.role_set,
        department_id=user.department_id,
        ip=ip,
        token_id=token_id,
    )


# ---------------------------------------------------------------------------------------------------
# Sign-in and sessions


@dataclass(frozen=True)
class LoginOutcome:
    """Result of a sign-in attempt. A failure is data, not an exception, so that the failed attempt
    and the lock-out counter are committed before the caller reports the error."""

    actor: Actor | None
    error: NotAuthenticated | None


def user_authenticate(
    db: Session,
    *,
    username: str,
    password: str,
    ip: str | None = None,
    max_failures: int = 5,
    lock_minutes: int = 15,
) -> LoginOutcome:
    """Check a username and password; count failures and lock the account after ``max_failures``."""
    now = utcnow()
    user = db.scalar(select(User).where(User.username == username))
    generic = NotAuthenticated(
        "用户名或密码错误", message_en="wrong username or password", code="auth.invalid_credentials"
    )
    probe = Actor(
        user_id=user.id if user else None,
        username=username[:64],
        department_id=user.department_id if user else None,
        ip=ip,
    )
    if user is None:
        # Hash anyway so that response time does not reveal which usernames exist.
        _hasher.hash(password)
        audit_record(
            db, actor=probe, action="auth.login", outcome="failure", details={"reason": "unknown_user"}
        )
        return LoginOutcome(None, generic)
    if not user.is_active:
        audit_record(
            db,
            actor=probe,
            action="auth.login",
            outcome="failure",
            target_type="user",
            target_id=user.id,
            details={"reason": "disabled"},
        )
        return LoginOutcome(
            None, NotAuthenticated("账号已停用", message_en="account disabled", code="auth.disabled")
        )
    if user.locked_until and user.locked_until > now:
        audit_record(
            db,
            actor=probe,
            action="auth.login",
            outcome="failure",
            target_type="user",
            target_id=user.id,
            details={"reason": "locked"},
        )
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        return LoginOutcome(
            None,
            NotAuthenticated(
                f"登录失败次数过多，账号已锁定，请 {minutes} 分钟后再试",
                message_en=f"too many failed sign-ins; account locked for {minutes} more minutes",
                code="auth.locked",
            ),
        )
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        user.failed_logins += 1
        details: dict[str, object] = {"reason": "wrong_password", "failures": user.failed_logins}
        if user.failed_logins >= max_failures:
            user.locked_until = now + dt.timedelta(minutes=lock_minutes)
            user.failed_logins = 0
            details["locked_until"] = user.locked_until.isoformat()
        audit_record(
            db,
            actor=probe,
            action="auth.login",
            outcome="failure",
            target_type="user",
            target_id=user.id,
            details=details,
        )
        return LoginOutcome(None, generic)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    actor = actor_for_user(user, ip=ip)
    audit_record(db, actor=actor, action="auth.login", target_type="user", target_id=user.id)
    return LoginOutcome(actor, None)


@dataclass(frozen=True)
class SessionInfo:
    secret: str
    csrf_token: str
    expires_at: dt.datetime


def session_create(
    db: Session, *, actor: Actor, max_age_seconds: int, user_agent: str | None = None
) -> SessionInfo:
    """Start a browser session for a signed-in actor; the secret goes into the cookie only."""
    require_authenticated(actor)
    if actor.user_id is None:
        raise PermissionDenied("系统账号不能登录网页", message_en="the system actor cannot sign in")
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    expires = utcnow() + dt.timedelta(seconds=max_age_seconds)
    db.add(
        WebSession(
            secret_hash=hash_secret(secret),
            user_id=actor.user_id,
            csrf_token=csrf,
            expires_at=expires,
            ip=actor.ip,
            user_agent=(user_agent or "")[:255],
        )
    )
    db.flush()
    return SessionInfo(secret=secret, csrf_token=csrf, expires_at=expires)


@dataclass(frozen=True)
class ResolvedSession:
    actor: Actor
    csrf_token: str


def session_resolve(db: Session, *, secret: str, ip: str | None = None) -> ResolvedSession | None:
    """The actor behind a session cookie, or None if the session is unknown, ended or expired."""
    row = db.scalar(select(WebSession).where(WebSession.secret_hash == hash_secret(secret)))
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    user = db.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    return ResolvedSession(actor=actor_for_user(user, ip=ip), csrf_token=row.csrf_token)


def session_end(db: Session, *, actor: Actor, secret: str) -> None:
    """Sign out: the session can never be used again."""
    row = db.scalar(select(WebSession).where(WebSession.secret_hash == hash_secret(secret)))
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        audit_record(db, actor=actor, action="auth.logout", target_type="user", target_id=row.user_id)


def _end_sessions(db: Session, *, user_id: int) -> None:
    now = utcnow()
    for row in db.scalars(
        select(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))
    ):
        row.ended_at = now


# ---------------------------------------------------------------------------------------------------
# API tokens


def _token_out(token: ApiToken) -> TokenOut:
    now = utcnow()
    return TokenOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
        active=token.revoked_at is None and token.expires_at > now,
    )


def token_create(
    db: Session,
    *,
    actor: Actor,
    user_id: int,
    name: str,
    expires_days: int = 90,
    scopes: list[str] | None = None,
) -> TokenCreated:
    """Issue a token for ``user_id``: for oneself, or for anyone by a platform admin (and the CLI).

    The returned ``token`` is ``zw_<prefix>_<secret>``; it is never shown again.
    """
    require_authenticated(actor)
    if actor.user_id != user_id:
        require_roles(actor, Role.PLATFORM_ADMIN)
    user = _get_user(db, user_id)
    if not user.is_active:
        raise Conflict("账号已停用，不能签发令牌", message_en="account disabled", code="token.user_disabled")
    if not name.strip():
        raise ValidationError("令牌名称不能为空", message_en="token name is required", field="name")
    if not 1 <= expires_days <= 3650:
        raise ValidationError(
            "有效期须在 1 至 3650 天之间", message_en="expires_days must be 1..3650", field="expires_days"
        )
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name.strip()[:100],
        prefix=prefix,
        secret_hash=hash_secret(secret),
        scopes=scopes or [],
        expires_at=utcnow() + dt.timedelta(days=expires_days),
    )
    db.add(token)
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="token.create",
        target_type="api_token",
        target_id=token.id,
        details={
            "user": user.username,
            "name": token.name,
            "prefix": prefix,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    out = _token_out(token)
    return TokenCreated(**out.model_dump(), token=f"{TOKEN_PREFIX}_{prefix}_{secret}")


def token_list(db: Session, *, actor: Actor, user_id: int) -> list[TokenOut]:
    """A user's tokens (never their secrets)."""
    require_authenticated(actor)
    if actor.user_id != user_id:
        require_roles(actor, Role.PLATFORM_ADMIN, Role.AUDITOR)
    rows = db.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc()))
    return [_token_out(t) for t in rows]


def token_revoke(db: Session, *, actor: Actor, token_id: int) -> TokenOut:
    """Revoke a token at once; its owner or a platform admin may."""
    require_authenticated(actor)
    token = db.get(ApiToken, token_id)
    if token is None:
        raise NotFound("令牌不存在", message_en="token not found", field="token_id")
    if actor.user_id != token.user_id:
        require_roles(actor, Role.PLATFORM_ADMIN)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit_record(
            db,
            actor=actor,
            action="token.revoke",
            target_type="api_token",
            target_id=token.id,
            details={"prefix": token.prefix, "name": token.name},
        )
    return _token_out(token)


TokenResolver = Callable[[Session, str, str | None], Actor]
# Credentials of other kinds, by their first part (``zwk`` for a conditional dataset's access key):
# issued and checked by the part that owns them, accepted wherever an API token is.
_TOKEN_KINDS: dict[str, TokenResolver] = {}


def register_token_kind(prefix: str, resolver: TokenResolver) -> None:
    """Let ``resolver(db, raw, ip)`` turn credentials ``<prefix>_...`` into an Actor (or raise)."""
    if prefix == TOKEN_PREFIX:
        raise ValueError("the API token prefix is taken")
    _TOKEN_KINDS[prefix] = resolver


def token_parse(raw: str) -> tuple[str, str]:
    """The public prefix and the secret of a raw API token; raises NotAuthenticated if malformed."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        raise NotAuthenticated("令牌格式错误", message_en="malformed API token", code="auth.token_malformed")
    return parts[1], parts[2]


def token_check(
    *,
    secret: str,
    secret_hash: str | None,
    revoked_at: dt.datetime | None,
    expires_at: dt.datetime | None,
    user_active: bool | None,
    now: dt.datetime,
) -> None:
    """Refuse a token whose stored state (``secret_hash`` None: no such token; ``user_active`` None: no
    such user) does not admit ``secret`` at ``now``, with the reason. Shared by :func:`token_authenticate`
    and the registries' lean HTTP path, so both answer the same errors."""
    if secret_hash is None or not secrets.compare_digest(secret_hash, hash_secret(secret)):
        raise NotAuthenticated("令牌无效", message_en="invalid API token", code="auth.token_invalid")
    if revoked_at is not None:
        raise NotAuthenticated("令牌已撤销", message_en="API token revoked", code="auth.token_revoked")
    if expires_at is None or expires_at <= now:
        raise NotAuthenticated("令牌已过期", message_en="API token expired", code="auth.token_expired")
    if not user_active:
        raise NotAuthenticated("账号已停用", message_en="account disabled", code="auth.disabled")


def token_authenticate(db: Session, *, raw: str, ip: str | None = None) -> Actor:
    """The actor behind an API token; raises NotAuthenticated with the reason otherwise."""
    kind = _TOKEN_KINDS.get(raw.strip().split("_", 1)[0])
    if kind is not None:
        return kind(db, raw.strip(), ip)
    prefix, secret = token_parse(raw)
    token = db.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    now = utcnow()
    user = db.get(User, token.user_id) if token is not None else None
    token_check(
        secret=secret,
        secret_hash=None if token is None else token.secret_hash,
        revoked_at=None if token is None else token.revoked_at,
        expires_at=None if token is None else token.expires_at,
        user_active=None if user is None else user.is_active,
        now=now,
    )
    assert token is not None and user is not None  # token_check refused every other case
    # Avoid a write per request: last-use is accurate to the minute.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        token.last_used_at = now
    return actor_for_user(user, ip=ip, token_id=token.id)


def user_by_username(db: Session, *, actor: Actor, username: str) -> UserOut:
    """Find an account by name (CLI and admins)."""
    require_roles(actor, Role.PLATFORM_ADMIN, Role.AUDITOR)
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户 {username} 不存在", message_en=f"user {username} not found", field="username")
    return _user_out(user)
