"""The account pages through the real app: sign-in, CSRF, role checks, tokens, admin forms."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import PASSWORD, csrf_of, login, make_department, make_user
from zhengwu.accounts.models import Role


def test_pages_require_sign_in(client: TestClient) -> None:
    response = client.get("/account")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/account"


def test_sign_in_shows_pages_in_chinese(client: TestClient, db: Session) -> None:
    make_user(db, username="admin1", roles=[Role.PLATFORM_ADMIN])
    login(client, "admin1")
    home = client.get("/")
    assert home.status_code == 200
    assert 'lang="zh-CN"' in home.text and "接入部门" in home.text and "退出" in home.text
    assert client.get("/admin/users").status_code == 200
    assert "新增部门" in client.get("/admin/departments").text


def test_wrong_password_keeps_the_form_and_says_why(client: TestClient, db: Session) -> None:
    make_user(db, username="user1x")
    page = client.get("/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = client.post("/login", data={"username": "user1x", "password": "nope", "login_csrf": token})
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert 'value="user1x"' in response.text


def test_login_without_csrf_cookie_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, username="user2x")
    response = client.post(
        "/login", data={"username": "user2x", "password": PASSWORD, "login_csrf": "forged"}
    )
    assert response.status_code == 403


def test_open_redirect_after_login_is_neutralised(client: TestClient, db: Session) -> None:
    make_user(db, username="user3x")
    page = client.get("/login?next=//evil.example/x")
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login",
        data={
            "username": "user3x",
            "password": PASSWORD,
            "login_csrf": token,
            "next": "https://evil.example/",
        },
    )
    assert response.headers["location"] == "/"


def test_user_without_role_gets_403_not_the_page(client: TestClient, db: Session) -> None:
    dept = make_department(db)
    make_user(db, username="dev1", roles=[Role.DEVELOPER], department_id=dept.id)
    login(client, "dev1")
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert "没有权限" in response.text


def test_token_is_shown_once_and_works_for_the_api(client: TestClient, db: Session) -> None:
    make_user(db, username="user4x")
    login(client, "user4x")
    page = client.get("/account")
    response = client.post(
        "/account/tokens", data={"name": "对接", "expires_days": "7", "csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 200
    token = re.search(r'id="new-token">([^<]+)<', response.text).group(1)  # type: ignore[union-attr]
    assert token not in client.get("/account").text  # never shown again
    api = TestClient(client.app)
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "user4x"


def test_form_post_without_csrf_is_refused(client: TestClient, db: Session) -> None:
    make_user(db, username="user5x")
    login(client, "user5x")
    response = client.post("/account/tokens", data={"name": "x", "csrf_token": "wrong"})
    assert response.status_code == 403
    assert "表单已过期" in response.text


def test_admin_creates_department_with_errors_named(client: TestClient, db: Session) -> None:
    make_user(db, username="admin2", roles=[Role.PLATFORM_ADMIN])
    login(client, "admin2")
    csrf = csrf_of(client.get("/admin/departments").text)
    bad = client.post(
        "/admin/departments",
        data={
            "code": "NEW1",
            "name": "新部门",
            "level": "provincial",
            "region_code": "12345",
            "csrf_token": csrf,
        },
    )
    assert bad.status_code == 400 and "region_code" in bad.text
    good = client.post(
        "/admin/departments",
        data={
            "code": "NEW1",
            "name": "新部门",
            "level": "provincial",
            "region_code": "330000",
            "csrf_token": csrf,
        },
    )
    assert good.status_code == 303
    assert "新部门" in client.get("/admin/departments").text


def test_admin_creates_user_and_changes_roles(client: TestClient, db: Session) -> None:
    dept = make_department(db)
    make_user(db, username="admin3", roles=[Role.PLATFORM_ADMIN])
    login(client, "admin3")
    csrf = csrf_of(client.get("/admin/users").text)
    created = client.post(
        "/admin/users",
        data={
            "username": "newbie",
            "display_name": "新人",
            "password": PASSWORD,
            "department_id": str(dept.id),
            "roles": ["developer"],
            "csrf_token": csrf,
        },
    )
    assert created.status_code == 303
    page = client.get("/admin/users")
    assert "newbie" in page.text


def test_logout_ends_the_session(client: TestClient, db: Session) -> None:
    make_user(db, username="user6x")
    login(client, "user6x")
    csrf = csrf_of(client.get("/account").text)
    cookie = client.cookies.get("zw_session")
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    client.cookies.set("zw_session", cookie or "")
    assert client.get("/account").status_code == 303  # the old cookie no longer works


def test_security_headers(client: TestClient) -> None:
    response = client.get("/login")
    assert response.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in response.headers["content-security-policy"]
