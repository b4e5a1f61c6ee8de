"""JSON API of catalog entries: lifecycle over HTTP, authentication, permissions, one error format."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import login, make_department, make_token, make_user
from factories_catalog import make_resource, make_topic, resource_data
from zhengwu.accounts.models import Role
from zhengwu.catalog.models import Resource

API = "/api/v1/catalog"


@pytest.fixture
def org(db: Session) -> dict[str, Any]:
    a = make_department(db, name="甲部门")
    b = make_department(db, name="乙部门")
    users = {
        "admin_a": make_user(db, roles=[Role.DATA_ADMIN], department_id=a.id),
        "admin_b": make_user(db, roles=[Role.DATA_ADMIN], department_id=b.id),
        "reviewer": make_user(db, roles=[Role.REVIEWER], department_id=b.id),
        "platform": make_user(db, roles=[Role.PLATFORM_ADMIN], department_id=b.id),
        "public": make_user(db, roles=[Role.PUBLIC_USER]),
    }
    out: dict[str, Any] = {"a": a, "b": b, "users": users}
    for key, user in users.items():
        out[key] = {"Authorization": f"Bearer {make_token(db, user)}"}
    return out


def _body(**overrides: Any) -> dict[str, Any]:
    return resource_data(**overrides).model_dump(mode="json", exclude={"provider_id"})


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


def test_lifecycle_over_the_api(client: TestClient, org: dict[str, Any]) -> None:
    created = client.post(f"{API}/resources", json=_body(name="企业登记信息"), headers=org["admin_a"])
    assert created.status_code == 201, created.text
    entry = created.json()
    code = entry["code"]
    assert entry["status"] == "draft" and entry["provider_id"] == org["a"].id and entry["row_version"] == 1
    update = {**_body(name="企业登记信息（全量）"), "row_version": entry["row_version"]}
    saved = client.put(f"{API}/resources/{code}", json=update, headers=org["admin_a"])
    assert saved.status_code == 200 and saved.json()["name"] == "企业登记信息（全量）"
    assert (
        client.post(f"{API}/resources/{code}/submit", headers=org["admin_a"]).json()["status"] == "submitted"
    )
    queue = client.get(f"{API}/review-queue", headers=org["reviewer"]).json()
    assert [q["code"] for q in queue] == [code]
    approved = client.post(
        f"{API}/resources/{code}/approve", json={"comment": "同意"}, headers=org["reviewer"]
    )
    assert approved.status_code == 200 and approved.json()["published_version"] == 1
    # A revision, published as version 2.
    assert client.post(f"{API}/resources/{code}/revise", headers=org["admin_a"]).json()["has_draft_changes"]
    working = client.get(f"{API}/resources/{code}?view=working", headers=org["admin_a"]).json()
    update = {**_body(name="企业登记信息 v2"), "row_version": working["row_version"]}
    assert client.put(f"{API}/resources/{code}", json=update, headers=org["admin_a"]).status_code == 200
    pending = client.get(f"{API}/resources/{code}/diff", headers=org["admin_a"]).json()
    assert pending["from_version"] == 1 and pending["to_version"] is None
    assert [f["field"] for f in pending["fields"]] == ["name"]
    seen_by_b = client.get(f"{API}/resources/{code}", headers=org["admin_b"]).json()
    assert seen_by_b["name"] == "企业登记信息（全量）" and seen_by_b["view"] == "published"
    client.post(f"{API}/resources/{code}/submit", headers=org["admin_a"])
    assert (
        client.post(f"{API}/resources/{code}/approve", headers=org["reviewer"]).json()["published_version"]
        == 2
    )
    versions = client.get(f"{API}/resources/{code}/versions", headers=org["admin_b"]).json()
    assert [v["version"] for v in versions] == [2, 1]
    one = client.get(f"{API}/resources/{code}/versions/1", headers=org["admin_b"]).json()
    assert one["snapshot"]["name"] == "企业登记信息（全量）"
    diff = client.get(f"{API}/resources/{code}/diff?from=1&to=2", headers=org["admin_b"]).json()
    assert (
        diff["fields"][0]["before"] == "企业登记信息（全量）"
        and diff["fields"][0]["after"] == "企业登记信息 v2"
    )
    withdrawn = client.post(
        f"{API}/resources/{code}/withdraw", json={"reason": "停止维护"}, headers=org["admin_a"]
    )
    assert withdrawn.json()["status"] == "withdrawn"


def test_a_withdrawn_entry_comes_back_only_through_review(client: TestClient, org: dict[str, Any]) -> None:
    code = client.post(f"{API}/resources", json=_body(name="社保缴费记录"), headers=org["admin_a"]).json()[
        "code"
    ]
    client.post(f"{API}/resources/{code}/submit", headers=org["admin_a"])
    client.post(f"{API}/resources/{code}/approve", headers=org["reviewer"])
    client.post(f"{API}/resources/{code}/withdraw", json={"reason": "系统迁移"}, headers=org["admin_a"])
    # Only the provider may ask, only with a reason, only for a withdrawn entry.
    other = client.post(f"{API}/resources/{code}/reinstate", json={"reason": "x"}, headers=org["admin_b"])
    assert other.status_code == 403
    blank = client.post(f"{API}/resources/{code}/reinstate", json={"reason": "  "}, headers=org["admin_a"])
    assert blank.status_code == 400 and _error(blank)["field"] == "reason"
    asked = client.post(
        f"{API}/resources/{code}/reinstate", json={"reason": "迁移完成"}, headers=org["admin_a"]
    )
    assert asked.status_code == 200 and asked.json()["status"] == "submitted"
    again = client.post(f"{API}/resources/{code}/reinstate", json={"reason": "x"}, headers=org["admin_a"])
    assert again.status_code == 409 and _error(again)["code"] == "catalog.not_reinstatable"
    assert code in [q["code"] for q in client.get(f"{API}/review-queue", headers=org["reviewer"]).json()]
    back = client.post(f"{API}/resources/{code}/approve", headers=org["reviewer"]).json()
    assert back["status"] == "published" and back["published_version"] == 2
    assert back["withdrawn_at"] is None and back["withdraw_reason"] == ""


def test_stale_row_version_is_a_409_with_a_clear_message(client: TestClient, org: dict[str, Any]) -> None:
    entry = client.post(f"{API}/resources", json=_body(), headers=org["admin_a"]).json()
    update = {**_body(name="第一次修改"), "row_version": entry["row_version"]}
    assert (
        client.put(f"{API}/resources/{entry['code']}", json=update, headers=org["admin_a"]).status_code == 200
    )
    second = client.put(
        f"{API}/resources/{entry['code']}",
        json={**update, "name": "第二次修改"},
        headers=org["admin_a"],
    )
    assert second.status_code == 409
    error = _error(second)
    assert error["code"] == "catalog.stale" and error["field"] == "row_version"
    assert error["message"].startswith("该条目已被他人修改")


def test_reject_needs_a_reason_and_diff_needs_both_versions(
    client: TestClient, db: Session, org: dict[str, Any]
) -> None:
    entry = make_resource(db, provider_id=org["a"].id, published=False, submitted=True)
    missing = client.post(f"{API}/resources/{entry.code}/reject", json={}, headers=org["reviewer"])
    assert missing.status_code == 400 and _error(missing)["field"] == "reason"
    blank = client.post(
        f"{API}/resources/{entry.code}/reject", json={"reason": "   "}, headers=org["reviewer"]
    )
    assert blank.status_code == 400
    ok = client.post(
        f"{API}/resources/{entry.code}/reject", json={"reason": "请补充摘要"}, headers=org["reviewer"]
    )
    assert ok.json()["status"] == "rejected" and ok.json()["review_comment"] == "请补充摘要"
    published = make_resource(db, provider_id=org["a"].id)
    half = client.get(f"{API}/resources/{published.code}/diff?from=1", headers=org["admin_b"])
    assert half.status_code == 400 and _error(half)["field"] == "to"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": None}, "name"),
        ({"name": "户" * 201}, "name"),
        ({"name": "户"}, "name"),
        ({"share_type": "sometimes"}, "share_type"),
        ({"classification": "1-2-3"}, "classification"),
        ({"classification": "3-01-001-001'; DROP TABLE x"}, "classification"),
        ({"format": "excel"}, "format"),
        ({"delivery": None}, "delivery"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"keywords": ["k"] * 21}, "keywords"),
        ({"related_codes": ["not a code"]}, "related_codes.0"),
    ],
)
def test_bad_input_names_the_field(
    client: TestClient, db: Session, org: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    body = {**_body(), **change}
    body = {k: v for k, v in body.items() if v is not None}
    before = db.scalar(select(func.count()).select_from(Resource))
    response = client.post(f"{API}/resources", json=body, headers=org["admin_a"])
    assert response.status_code == 400, response.text
    error = _error(response)
    assert error["field"] == field and error["code"] == "request.invalid"
    assert db.scalar(select(func.count()).select_from(Resource)) == before


@pytest.mark.parametrize(
    ("element", "field"),
    [
        ({"name_en": "Resident ID"}, "elements.1.name_en"),
        ({"name_en": "9lives"}, "elements.1.name_en"),
        ({"data_type": "text"}, "elements.1.data_type"),
        ({"length": 0}, "elements.1.length"),
        ({"sensitivity": "secret"}, "elements.1.sensitivity"),
        ({"name": ""}, "elements.1.name"),
    ],
)
def test_bad_elements_name_the_row_and_field(
    client: TestClient, org: dict[str, Any], element: dict[str, Any], field: str
) -> None:
    body = _body(elements=2)
    body["elements"][1].update(element)
    response = client.post(f"{API}/resources", json=body, headers=org["admin_a"])
    assert response.status_code == 400
    assert _error(response)["field"] == field


def test_duplicate_english_names_are_refused_with_the_position(
    client: TestClient, org: dict[str, Any]
) -> None:
    body = _body(elements=2)
    body["elements"][1]["name_en"] = body["elements"][0]["name_en"]
    response = client.post(f"{API}/resources", json=body, headers=org["admin_a"])
    assert response.status_code == 400
    error = _error(response)
    assert error["field"] == "elements.1.name_en" and error["code"] == "catalog.invalid"
    assert "第 2 个信息项" in error["message"]


def test_injection_text_is_kept_verbatim(client: TestClient, org: dict[str, Any]) -> None:
    name = "x'; DROP TABLE catalog_resources; --"
    entry = client.post(
        f"{API}/resources", json=_body(name=name, summary="<b>粗体</b>"), headers=org["admin_a"]
    )
    assert entry.status_code == 201
    again = client.get(f"{API}/resources/{entry.json()['code']}", headers=org["admin_a"]).json()
    assert again["name"] == name and again["summary"] == "<b>粗体</b>"


def test_authentication_and_permissions(client: TestClient, db: Session, org: dict[str, Any]) -> None:
    draft = make_resource(db, provider_id=org["a"].id, published=False)
    published = make_resource(db, provider_id=org["a"].id)
    assert client.get(f"{API}/resources/{published.code}").status_code == 401
    assert client.post(f"{API}/resources", json=_body()).status_code == 401
    bad = client.get(f"{API}/resources/{published.code}", headers={"Authorization": "Bearer zw_nope_nope"})
    assert bad.status_code == 401
    assert client.get(f"{API}/resources/{published.code}", headers=org["public"]).status_code == 200
    assert client.get(f"{API}/resources/{draft.code}", headers=org["admin_b"]).status_code == 403
    assert client.get(f"{API}/resources/{draft.code}", headers=org["public"]).status_code == 403
    assert client.get(f"{API}/resources/{draft.code}", headers=org["reviewer"]).status_code == 200
    assert client.post(f"{API}/resources", json=_body(), headers=org["public"]).status_code == 403
    assert client.post(f"{API}/resources", json=_body(), headers=org["reviewer"]).status_code == 403
    update = {**_body(name="篡改"), "row_version": draft.row_version}
    assert client.put(f"{API}/resources/{draft.code}", json=update, headers=org["admin_b"]).status_code == 403
    assert client.post(f"{API}/resources/{draft.code}/submit", headers=org["admin_b"]).status_code == 403
    assert client.delete(f"{API}/resources/{draft.code}", headers=org["admin_b"]).status_code == 403
    assert client.post(f"{API}/resources/{published.code}/approve", headers=org["admin_a"]).status_code == 403
    assert client.get(f"{API}/review-queue", headers=org["admin_a"]).status_code == 403
    assert client.get(f"{API}/manage", headers=org["public"]).status_code == 403
    withdraw = client.post(
        f"{API}/resources/{published.code}/withdraw", json={"reason": "x"}, headers=org["admin_b"]
    )
    assert withdraw.status_code == 403
    assert client.get(f"{API}/resources/3-01-001-001-NOPE-00001", headers=org["public"]).status_code == 404
    # Platform admins may file for any department.
    body = {**_body(), "provider_id": org["a"].id}
    assert (
        client.post(f"{API}/resources", json=body, headers=org["platform"]).json()["provider_id"]
        == org["a"].id
    )


def test_manage_list_and_delete_draft(client: TestClient, db: Session, org: dict[str, Any]) -> None:
    draft = make_resource(db, provider_id=org["a"].id, published=False)
    make_resource(db, provider_id=org["b"].id, published=False)
    listing = client.get(f"{API}/manage", headers=org["admin_a"]).json()
    assert [i["code"] for i in listing["items"]] == [draft.code] and listing["counts"] == {"draft": 1}
    assert client.get(f"{API}/manage?status=bogus", headers=org["admin_a"]).status_code == 400
    assert client.delete(f"{API}/resources/{draft.code}", headers=org["admin_a"]).status_code == 204
    assert client.get(f"{API}/resources/{draft.code}", headers=org["admin_a"]).status_code == 404


def test_session_cookie_works_like_a_token(client: TestClient, db: Session, org: dict[str, Any]) -> None:
    published = make_resource(db, provider_id=org["a"].id)
    login(client, org["users"]["admin_b"].username)
    response = client.get(f"{API}/resources/{published.code}")
    assert response.status_code == 200 and response.json()["code"] == published.code


def test_topics(client: TestClient, db: Session, org: dict[str, Any]) -> None:
    make_topic(db, code="66", name="交通运输")
    listed = client.get(f"{API}/topics").json()
    assert {"code": "66", "name": "交通运输"}.items() <= next(t for t in listed if t["code"] == "66").items()
    created = client.post(f"{API}/topics", json={"code": "6601", "name": "道路运输"}, headers=org["platform"])
    assert created.status_code == 201 and created.json()["path"] == "交通运输 › 道路运输"
    assert (
        client.post(f"{API}/topics", json={"code": "6602", "name": "x"}, headers=org["admin_a"]).status_code
        == 403
    )
    bad = client.post(f"{API}/topics", json={"code": "6", "name": "x"}, headers=org["platform"])
    assert bad.status_code == 400 and _error(bad)["field"] == "code"


def test_openapi_documents_the_catalog_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/catalog/resources/{code}",
        "/api/v1/catalog/resources/{code}/submit",
        "/api/v1/catalog/resources/{code}/approve",
        "/api/v1/catalog/resources/{code}/reject",
        "/api/v1/catalog/resources/{code}/withdraw",
        "/api/v1/catalog/resources/{code}/revise",
        "/api/v1/catalog/resources/{code}/versions",
        "/api/v1/catalog/resources/{code}/diff",
        "/api/v1/catalog/topics",
        "/api/v1/catalog/review-queue",
    ):
        assert path in paths, path
    assert "post" in paths["/api/v1/catalog/resources"]
