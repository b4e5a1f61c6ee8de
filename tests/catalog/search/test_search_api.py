"""GET /api/v1/catalog/resources: authentication, the {"count", "results", "facets"} shape, bad input."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import make_department, make_token, make_user
from factories_catalog import make_resource
from zhengwu.catalog.models import ShareType


def test_search_answers_count_results_and_facets_to_a_token_holder(client: TestClient, db: Session) -> None:
    dept = make_department(db, name="省公安厅")
    make_resource(db, provider_id=dept.id, name="户籍人口基本信息", share_type=ShareType.CONDITIONAL)
    make_resource(db, provider_id=dept.id, name="出入境证件信息", share_type=ShareType.UNCONDITIONAL)
    user = make_user(db, department_id=dept.id)
    headers = {"Authorization": f"Bearer {make_token(db, user)}"}

    body = client.get("/api/v1/catalog/resources", params={"q": "户籍"}, headers=headers).json()
    assert body["count"] == 1
    hit = body["results"][0]
    assert hit["name"] == "户籍人口基本信息"
    assert hit["name_html"] == "<mark>户籍</mark>人口基本信息"
    assert hit["share_type"] == "conditional" and hit["share_type_label"] == "有条件共享"
    assert hit["url"] == f"/catalog/resources/{hit['code']}"
    assert set(body["facets"]) == {
        "provider", "category", "topic", "share_type", "open_type", "delivery", "update_frequency"
    }  # fmt: skip
    assert body["facets"]["provider"] == [
        {"value": dept.code, "label": "省公安厅", "count": 1, "selected": False}
    ]

    both = client.get(
        "/api/v1/catalog/resources?share_type=conditional&share_type=unconditional&page_size=1",
        headers=headers,
    ).json()
    assert both["count"] == 2 and len(both["results"]) == 1 and both["pages"] == 2


def test_anonymous_callers_get_401(client: TestClient) -> None:
    response = client.get("/api/v1/catalog/resources", params={"q": "户籍"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.required"


def test_bad_parameters_name_the_field(client: TestClient, db: Session) -> None:
    user = make_user(db)
    headers = {"Authorization": f"Bearer {make_token(db, user)}"}
    response = client.get("/api/v1/catalog/resources", params={"share_type": "maybe"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "share_type"
    assert "有条件共享" in response.json()["error"]["message"]
    response = client.get("/api/v1/catalog/resources", params={"q": "户" * 150}, headers=headers)
    assert response.status_code == 400 and response.json()["error"]["field"] == "q"
    response = client.get("/api/v1/catalog/resources", params={"page_size": 0}, headers=headers)
    assert response.status_code == 400 and response.json()["error"]["field"] == "page_size"
    response = client.get("/api/v1/catalog/resources", params={"q": "'; DROP TABLE x; --"}, headers=headers)
    assert response.status_code == 200 and response.json()["count"] == 0


def test_the_search_is_documented_in_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/catalog/resources"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"q", "provider", "share_type", "open_type", "delivery", "update_frequency", "page"} <= names
    assert "SearchResult" in str(operation["responses"]["200"])
