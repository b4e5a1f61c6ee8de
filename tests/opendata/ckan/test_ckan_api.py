"""The CKAN Action API over HTTP: envelope, GET and POST, error shapes and status codes."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories_opendata import make_dataset, make_publisher
from zhengwu.opendata.ckan.actions import ACTIONS, register_action


def test_read_actions_answer_get_and_post_in_the_envelope(client: TestClient, db: Session) -> None:
    pub = make_publisher(db)
    make_dataset(db, pub, name="bus-stops", title="公交站点", tags=[{"name": "交通"}])
    for prefix in ("/api/3/action", "/api/action"):
        got = client.get(f"{prefix}/package_show", params={"id": "bus-stops"})
        assert got.status_code == 200
        body = got.json()
        assert body["success"] is True and body["help"].endswith("help_show?name=package_show")
        assert body["result"]["name"] == "bus-stops"
        posted = client.post(f"{prefix}/package_show", json={"id": "bus-stops"}).json()
        assert posted["result"] == body["result"]
    listed = client.get("/api/3/action/package_list").json()["result"]
    assert "bus-stops" in listed
    found = client.get(
        "/api/3/action/package_search",
        params={"q": "公交", "facet.field": json.dumps(["tags", "organization"]), "rows": "5"},
    ).json()["result"]
    assert found["count"] == 1 and found["facets"]["tags"] == {"交通": 1}
    assert set(found) >= {"count", "results", "facets", "search_facets", "sort"}
    assert client.get("/api/3").json() == {"version": 3}
    status = client.get("/api/3/action/status_show").json()["result"]
    assert "ckan_version" in status
    assert client.post("/api/3/action/site_read").json()["result"] is True


def test_write_actions_need_a_token_with_the_role(client: TestClient, db: Session) -> None:
    pub = make_publisher(db)
    other = make_publisher(db)
    body = {"name": "new-data", "title": "新数据", "owner_org": pub.org}
    anon = client.post("/api/3/action/package_create", json=body)
    assert anon.status_code == 403
    assert anon.json()["error"]["__type"] == "Authorization Error"
    assert anon.json()["success"] is False
    wrong = client.post("/api/3/action/package_create", json=body, headers={"Authorization": other.token})
    assert wrong.status_code == 403
    bad_token = client.post("/api/3/action/package_create", json=body, headers={"Authorization": "zw_x_y"})
    assert bad_token.status_code == 403
    made = client.post("/api/3/action/package_create", json=body, headers={"Authorization": pub.token})
    assert made.status_code == 200, made.text
    # ckanapi also sends the key as X-CKAN-API-Key; a Bearer prefix is accepted too.
    patched = client.post(
        "/api/3/action/package_patch",
        json={"id": "new-data", "notes": "说明"},
        headers={"X-CKAN-API-Key": pub.token},
    )
    assert patched.json()["result"]["notes"] == "说明"
    res = client.post(
        "/api/3/action/resource_create",
        json={"package_id": "new-data", "url": "https://example.org/a.csv", "format": "CSV"},
        headers={"Authorization": f"Bearer {pub.token}"},
    ).json()["result"]
    assert (
        client.get("/api/3/action/resource_show", params={"id": res["id"]}).json()["result"]["format"]
        == "CSV"
    )
    deleted = client.post(
        "/api/3/action/package_delete", json={"id": "new-data"}, headers={"Authorization": pub.token}
    )
    assert deleted.json() == {"help": deleted.json()["help"], "success": True, "result": None}
    assert client.get("/api/3/action/package_show", params={"id": "new-data"}).status_code == 404


def test_error_shapes_and_status_codes(client: TestClient, db: Session) -> None:
    pub = make_publisher(db)
    make_dataset(db, pub, name="taken")
    missing = client.get("/api/3/action/package_show", params={"id": "nope"})
    assert missing.status_code == 404
    assert missing.json()["error"]["__type"] == "Not Found Error"
    dup = client.post(
        "/api/3/action/package_create",
        json={"name": "taken", "owner_org": pub.org},
        headers={"Authorization": pub.token},
    )
    assert dup.status_code == 409
    assert dup.json()["error"]["__type"] == "Validation Error"
    assert dup.json()["error"]["name"] == ["That URL is already in use."]
    bad_name = client.post(
        "/api/3/action/package_create",
        json={"name": "Bad Name!", "owner_org": pub.org},
        headers={"Authorization": pub.token},
    )
    assert bad_name.status_code == 409 and "name" in bad_name.json()["error"]
    unknown = client.post("/api/3/action/no_such_action", json={})
    assert unknown.status_code == 400
    assert unknown.json() == "Bad request - Action name not known: no_such_action"
    not_json = client.post(
        "/api/3/action/package_show", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and not_json.json().startswith("Bad request - JSON Error")
    a_list = client.post("/api/3/action/package_show", json=[1, 2])
    assert a_list.status_code == 400
    get_write = client.get("/api/3/action/package_create", params={"name": "x"})
    assert get_write.status_code == 400
    bad_fq = client.get("/api/3/action/package_search", params={"fq": "secret_field:1"})
    assert bad_fq.status_code == 409 and bad_fq.json()["error"]["__type"] == "Search Query Error"
    bad_rows = client.get("/api/3/action/package_search", params={"rows": "many"})
    assert bad_rows.status_code == 409 and bad_rows.json()["error"]["rows"] == ["Invalid integer"]
    bad_facets = client.get("/api/3/action/package_search", params={"facet.field": "[not json"})
    assert bad_facets.status_code == 409


@pytest.mark.parametrize(
    "params",
    [
        {"q": "' OR 1=1 --"},
        {"q": "公交\x00"},
        {"q": "x" * 5000},
        {"fq": 'organization:"a\\" OR \\"1\\"=\\"1"'},
        {"sort": "name; DROP TABLE opendata_datasets"},
        {"rows": "-1"},
        {"start": "99999999999999999999"},
        {"q": "ｂｕｓ　公交"},
        {"facet.limit": "abc"},
    ],
)
def test_nasty_search_input_never_500(client: TestClient, db: Session, params: dict[str, str]) -> None:
    pub = make_publisher(db)
    make_dataset(db, pub, name="bus-c", title="BUS 公交")
    answer = client.get("/api/3/action/package_search", params=params)
    assert answer.status_code in (200, 409), answer.text
    assert answer.json()["success"] is (answer.status_code == 200)
    assert client.get("/api/3/action/package_show", params={"id": "bus-c"}).status_code == 200


def test_form_post_and_unknown_parameters_are_accepted(client: TestClient, db: Session) -> None:
    pub = make_publisher(db)
    make_dataset(db, pub, name="form-data", title="表单")
    answer = client.post(
        "/api/3/action/package_search",
        data={"q": "表单", "include_drafts": "true", "include_deleted": "false", "whatever": "1"},
    )
    assert answer.status_code == 200 and answer.json()["result"]["count"] == 1


def test_other_modules_can_register_actions(client: TestClient) -> None:
    def echo(db: object, actor: object, params: dict[str, object]) -> dict[str, object]:
        return {"echo": params.get("x")}

    register_action("zz_test_echo", echo, read_only=True)
    try:
        assert client.get("/api/3/action/zz_test_echo", params={"x": "1"}).json()["result"] == {"echo": "1"}
        assert client.get("/api/3/action/help_show", params={"name": "package_search"}).json()["success"]
    finally:
        ACTIONS.pop("zz_test_echo")
