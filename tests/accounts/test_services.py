"""Accounts use cases: authorization first, audit of every sensitive action, secrets never stored."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import PASSWORD, SYSTEM, actor_of, make_department, make_user, organ_uscc
from zhengwu.accounts.models import ApiToken, DepartmentLevel, Role, User
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import DepartmentIn, UserIn
from zhengwu.accounts.services import (
    department_create,
    department_list,
    token_authenticate,
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
from zhengwu.audit.models import AuditEvent
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotAuthenticated, PermissionDenied, ValidationError


def _events(db: Session, action: str) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_department_tree_levels_are_enforced(db: Session) -> None:
    province = make_department(db, region_code="330000")
    city = make_department(db, level=DepartmentLevel.CITY, region_code="330100", parent_id=province.id)
    with pytest.raises(ValidationError) as info:
        make_department(db, level=DepartmentLevel.PROVINCIAL, region_code="330000", parent_id=city.id)
    assert info.value.field == "parent_id"
    assert {d.id for d in department_list(db, actor=SYSTEM)} >= {province.id, city.id}


def test_department_rejects_bad_uscc_and_unknown_region(db: Session) -> None:
    good = organ_uscc("330000", 1)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(ValidationError) as info:
        department_create(
            db,
            actor=SYSTEM,
            data=DepartmentIn(
                code="X1", name="某部门", level=DepartmentLevel.PROVINCIAL, region_code="330000", uscc=bad
            ),
        )
    assert info.value.field == "uscc"
    with pytest.raises(ValidationError) as info:
        department_create(
            db,
            actor=SYSTEM,
            data=DepartmentIn(
                code="X2", name="某部门", level=DepartmentLevel.PROVINCIAL, region_code="999999"
            ),
        )
    assert info.value.field == "region_code"


def test_duplicate_department_code_is_a_conflict_and_nothing_half_written(db: Session) -> None:
    data = DepartmentIn(code="DUP", name="重复部门", level=DepartmentLevel.PROVINCIAL, region_code="330000")
    department_create(db, actor=SYSTEM, data=data)
    with pytest.raises(Conflict):
        department_create(db, actor=SYSTEM, data=data)
    assert len([d for d in department_list(db, actor=SYSTEM) if d.code == "DUP"]) == 1


def test_only_platform_admins_create_departments_and_users(db: Session) -> None:
    dept = make_department(db)
    data_admin = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id))
    with pytest.raises(PermissionDenied) as info:
        department_create(
            db,
            actor=data_admin,
            data=DepartmentIn(code="NO", name="无权", level="provincial", region_code="330000"),
        )
    assert "平台管理员" in info.value.message
    with pytest.raises(PermissionDenied):
        user_create(db, actor=data_admin, data=UserIn(username="xx1", display_name="x", password=PASSWORD))
    with pytest.raises(PermissionDenied):
        user_list(db, actor=data_admin)
    with pytest.raises(NotAuthenticated):
        department_list(db, actor=Actor.anonymous())


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short1A", "password.too_short"),
        ("alllowercaseletters", "password.too_simple"),
        ("sameasname", "password.too_short"),
    ],
)
def test_password_policy(db: Session, password: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        user_create(
            db,
            actor=SYSTEM,
            data=UserIn(username="policy1", display_name="p", password=password),
            password_min_length=10 if password != "sameasname" else 20,
        )
    assert info.value.code == code
    assert info.value.field == "password"


def test_staff_roles_need_a_department(db: Session) -> None:
    with pytest.raises(ValidationError) as info:
        make_user(db, roles=[Role.DATA_ADMIN])
    assert info.value.field == "department_id"


def test_passwords_are_argon2_hashed_and_login_is_audited(db: Session) -> None:
    user = make_user(db, username="alice")
    row = db.get(User, user.id)
    assert (
        row is not None and row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    )
    ok = user_authenticate(db, username="alice", password=PASSWORD, ip="10.0.0.1")
    assert ok.actor is not None and ok.actor.username == "alice"
    bad = user_authenticate(db, username="alice", password="wrong", ip="10.0.0.1")
    assert bad.actor is None and bad.error is not None and bad.error.code == "auth.invalid_credentials"
    unknown = user_authenticate(db, username="nobody", password="x")
    assert unknown.error is not None and unknown.error.message == bad.error.message  # no user enumeration
    outcomes = [(e.outcome, e.details.get("reason")) for e in _events(db, "auth.login")]
    assert outcomes[-3:] == [("success", None), ("failure", "wrong_password"), ("failure", "unknown_user")]
    assert all(PASSWORD not in str(e.details) for e in _events(db, "auth.login"))


def test_account_locks_after_repeated_failures(db: Session) -> None:
    make_user(db, username="bob")
    for _ in range(3):
        assert user_authenticate(db, username="bob", password="bad", max_failures=3).actor is None
    locked = user_authenticate(db, username="bob", password=PASSWORD, max_failures=3)
    assert locked.actor is None and locked.error is not None and locked.error.code == "auth.locked"
    row = db.scalar(select(User).where(User.username == "bob"))
    assert row is not None and row.locked_until is not None
    row.locked_until = utcnow() - dt.timedelta(seconds=1)
    assert user_authenticate(db, username="bob", password=PASSWORD, max_failures=3).actor is not None


def test_role_changes_are_audited_with_before_and_after(db: Session) -> None:
    dept = make_department(db)
    admin = actor_of(db, make_user(db, roles=[Role.PLATFORM_ADMIN]))
    target = make_user(db, roles=[Role.DEVELOPER], department_id=dept.id)
    user_set_roles(db, actor=admin, user_id=target.id, roles=[Role.DATA_ADMIN, Role.DEVELOPER])
    event = _events(db, "user.roles_change")[-1]
    assert event.details["before"] == ["developer"]
    assert event.details["after"] == ["data_admin", "developer"]
    assert event.actor_user_id == admin.user_id
    with pytest.raises(PermissionDenied):
        user_set_roles(db, actor=admin, user_id=admin.user_id or 0, roles=[])


def test_token_lifecycle(db: Session) -> None:
    user = make_user(db, username="carol")
    created = token_create(db, actor=SYSTEM, user_id=user.id, name="脚本", expires_days=30)
    assert created.token.startswith(f"zw_{created.prefix}_")
    stored = db.get(ApiToken, created.id)
    assert stored is not None and created.token.split("_", 2)[2] not in stored.secret_hash
    actor = token_authenticate(db, raw=created.token)
    assert actor.username == "carol" and actor.token_id == created.id
    assert [t.id for t in token_list(db, actor=actor, user_id=user.id)] == [created.id]
    with pytest.raises(NotAuthenticated) as info:
        token_authenticate(db, raw=created.token[:-1] + ("A" if created.token[-1] != "A" else "B"))
    assert info.value.code == "auth.token_invalid"
    token_revoke(db, actor=actor, token_id=created.id)
    with pytest.raises(NotAuthenticated) as info:
        token_authenticate(db, raw=created.token)
    assert info.value.code == "auth.token_revoked"
    actions = [
        e.action
        for e in db.scalars(
            select(AuditEvent).where(AuditEvent.target_type == "api_token").order_by(AuditEvent.id)
        )
    ]
    assert actions == ["token.create", "token.revoke"]


@pytest.mark.parametrize("raw", ["", "garbage", "zw__", "zw_abc", "Bearer zw_a_b", "zw_" + "x" * 500])
def test_malformed_tokens_are_refused_cleanly(db: Session, raw: str) -> None:
    with pytest.raises(NotAuthenticated):
        token_authenticate(db, raw=raw)


def test_expired_token_is_refused(db: Session) -> None:
    user = make_user(db)
    created = token_create(db, actor=SYSTEM, user_id=user.id, name="old", expires_days=1)
    row = db.get(ApiToken, created.id)
    assert row is not None
    row.expires_at = utcnow() - dt.timedelta(minutes=1)
    with pytest.raises(NotAuthenticated) as info:
        token_authenticate(db, raw=created.token)
    assert info.value.code == "auth.token_expired"


def test_users_cannot_issue_tokens_for_others(db: Session) -> None:
    alice = make_user(db)
    bob = make_user(db)
    with pytest.raises(PermissionDenied):
        token_create(db, actor=actor_of(db, alice), user_id=bob.id, name="steal")


def test_disabling_a_user_blocks_sign_in_and_tokens(db: Session) -> None:
    admin = actor_of(db, make_user(db, roles=[Role.PLATFORM_ADMIN]))
    user = make_user(db, username="dave")
    token = token_create(db, actor=SYSTEM, user_id=user.id, name="t").token
    user_set_active(db, actor=admin, user_id=user.id, active=False)
    assert user_authenticate(db, username="dave", password=PASSWORD).error is not None
    with pytest.raises(NotAuthenticated):
        token_authenticate(db, raw=token)


def test_change_password(db: Session) -> None:
    user = make_user(db, username="erin")
    actor = actor_of(db, user)
    with pytest.raises(ValidationError) as info:
        user_change_password(db, actor=actor, old_password="wrong", new_password="NewPassw0rd!")
    assert info.value.field == "old_password"
    user_change_password(db, actor=actor, old_password=PASSWORD, new_password="NewPassw0rd!")
    assert user_authenticate(db, username="erin", password="NewPassw0rd!").actor is not None
