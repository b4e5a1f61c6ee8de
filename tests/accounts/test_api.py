"""The accounts JSON API: bearer tokens, one error format, OpenAPI."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import make_department, make_token, make_user
from zhengwu.accounts.models import Role


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_api_requires_a_token_with_a_clear_error(client: TestClient) -> None:
    response = client.get("/api/v1/departments")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.required"
    bad = client.get("/api/v1/departments", headers={"Authorization": "Basic abc"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "auth.header"


def test_admin_creates_department_via_api(client: TestClient, db: Session) -> None:
    admin = make_user(db, roles=[Role.PLATFORM_ADMIN])
    token = make_token(db, admin)
    response = client.post(
        "/api/v1/departments",
        headers=_auth(token),
        json={"code": "API1", "name": "接口部门", "level": "provincial", "region_code": "330000"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "接口部门"
    dup = client.post(
        "/api/v1/departments",
        headers=_auth(token),
        json={"code": "API1", "name": "接口部门", "level": "provincial", "region_code": "330000"},
    )
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "department.duplicate"


def test_validation_errors_name_the_field(client: TestClient, db: Session) -> None:
    token = make_token(db, make_user(db, roles=[Role.PLATFORM_ADMIN]))
    response = client.post(
        "/api/v1/departments",
        headers=_auth(token),
        json={"code": "API2", "name": "x" * 300, "level": "galactic", "region_code": "330000"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "request.invalid"
    assert {e["field"] for e in error["details"]["errors"]} == {"name", "level"}
    garbage = client.post(
        "/api/v1/departments",
        headers={**_auth(token), "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert garbage.status_code == 400


def test_forbidden_is_403_with_roles_named(client: TestClient, db: Session) -> None:
    dept = make_department(db)
    token = make_token(db, make_user(db, roles=[Role.DEVELOPER], department_id=dept.id))
    response = client.get("/api/v1/users", headers=_auth(token))
    assert response.status_code == 403
    assert response.json()["error"]["details"]["required_roles"] == ["platform_admin", "auditor"]


def test_token_api_create_list_revoke(client: TestClient, db: Session) -> None:
    token = make_token(db, make_user(db))
    created = client.post("/api/v1/tokens", headers=_auth(token), json={"name": "第二个", "expires_days": 10})
    assert created.status_code == 201
    body = created.json()
    listed = client.get("/api/v1/tokens", headers=_auth(token)).json()
    assert {t["id"] for t in listed} >= {body["id"]}
    assert all("token" not in t for t in listed)
    revoked = client.delete(f"/api/v1/tokens/{body['id']}", headers=_auth(body["token"]))
    assert revoked.status_code == 200 and revoked.json()["active"] is False


def test_unknown_route_and_method(client: TestClient) -> None:
    assert client.get("/api/v1/nope").json()["error"]["code"] == "not_found"
    response = client.delete("/healthz")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


def test_openapi_and_health(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/departments" in spec["paths"]
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
