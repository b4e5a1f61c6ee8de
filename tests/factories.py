"""Factories shared by every test module: departments, users, sign-in, tokens."""

from __future__ import annotations

import itertools
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from zhengwu.accounts.models import DepartmentLevel, Role, User
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import DepartmentIn, DepartmentOut, UserIn, UserOut
from zhengwu.accounts.services import actor_for_user, department_create, token_create, user_create
from zhengwu.identifiers import org_code_check_digit, uscc_check_char

PASSWORD = "Passw0rd-for-tests"
SYSTEM = Actor.system("tests")
_seq = itertools.count(1)


def organ_uscc(region_code: str, n: int) -> str:
    body8 = f"{10_000_000 + n:08d}"
    body17 = "11" + region_code + body8 + org_code_check_digit(body8)
    return body17 + uscc_check_char(body17)


def make_department(
    db: Session,
    *,
    name: str | None = None,
    level: DepartmentLevel = DepartmentLevel.PROVINCIAL,
    region_code: str = "330000",
    parent_id: int | None = None,
    with_uscc: bool = True,
) -> DepartmentOut:
    n = next(_seq)
    return department_create(
        db,
        actor=SYSTEM,
        data=DepartmentIn(
            code=f"T{n:04d}",
            name=name or f"测试部门{n}",
            level=level,
            region_code=region_code,
            uscc=organ_uscc(region_code, n) if with_uscc else None,
            parent_id=parent_id,
        ),
    )


def make_user(
    db: Session,
    *,
    roles: list[Role] | None = None,
    department_id: int | None = None,
    username: str | None = None,
    password: str = PASSWORD,
) -> UserOut:
    n = next(_seq)
    return user_create(
        db,
        actor=SYSTEM,
        data=UserIn(
            username=username or f"user{n}",
            display_name=f"测试用户{n}",
            password=password,
            department_id=department_id,
            roles=roles or [],
        ),
    )


def actor_of(db: Session, user: UserOut) -> Actor:
    row = db.get(User, user.id)
    assert row is not None
    return actor_for_user(row)


def make_token(db: Session, user: UserOut) -> str:
    return token_create(db, actor=SYSTEM, user_id=user.id, name="tests").token


def login(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    """Sign in through the real form (login CSRF cookie included)."""
    page = client.get("/login")
    match = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
    assert match, "login form has no CSRF field"
    response = client.post(
        "/login", data={"username": username, "password": password, "login_csrf": match.group(1), "next": "/"}
    )
    assert response.status_code == 303, response.text
    return client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)
