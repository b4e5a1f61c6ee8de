"""GovStack Digital Registries API 1.3.0 over the registries: the template's request and response shapes."""

from __future__ import annotations

import csv
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient

from factories import make_token, make_user
from registries.registries_helpers import World, persons_rows
from zhengwu.accounts.models import Role

BASE = "/govstack/data/population/1.0"
CLIENT = "eGovStack/GOV/90000009/digitalregistries"


def _headers(world: World, role: Role, *, client: str | None = CLIENT, **extra: str) -> dict[str, str]:
    user = make_user(world.db, roles=[role], department_id=world.department_id)
    headers = {"Authorization": f"Bearer {make_token(world.db, user)}", **extra}
    if client is not None:
        headers["Information-Mediator-Client"] = client
    return headers


def _loaded(world: World) -> dict[str, Any]:
    assert world.ingest(world.persons_csv).status == "applied"
    return persons_rows(1)[0]


def test_read_answers_content_masked_or_404_no_record_found(world: World, client: TestClient) -> None:
    row = _loaded(world)
    headers = _headers(world, Role.DEVELOPER)
    found = client.post(
        f"{BASE}/read", json={"query": {"content": {"ID": row["resident_id"]}}}, headers=headers
    )
    assert found.status_code == 200
    content = found.json()["content"]
    assert content["masked"] is True and content["name"] != row["name"] and "*" in content["ID"]
    missing = client.post(
        f"{BASE}/read", json={"query": {"content": {"ID": "11010519491231002X"}}}, headers=headers
    )
    assert (missing.status_code, missing.json()) == (404, {"detail": "no record found"})
    wrong_name = client.post(
        f"{BASE}/read",
        json={"query": {"content": {"ID": row["resident_id"], "name": "别人"}}},
        headers=headers,
    )
    assert (wrong_name.status_code, wrong_name.json()) == (404, {"detail": "no record found"})
    admin = client.post(
        f"{BASE}/read",
        json={"query": {"content": {"ID": row["resident_id"]}}},
        headers=_headers(world, Role.PLATFORM_ADMIN),
    )
    assert (
        admin.json()["content"]["name"] == row["name"] and admin.json()["content"]["ID"] == row["resident_id"]
    )


def test_the_information_mediator_client_header_is_required(world: World, client: TestClient) -> None:
    row = _loaded(world)
    body = {"query": {"content": {"ID": row["resident_id"]}}}
    for value in (None, "not an id", "A/B", "eGovStack/GOV/9000<script>/x"):
        answer = client.post(f"{BASE}/read", json=body, headers=_headers(world, Role.DEVELOPER, client=value))
        assert answer.status_code == 400 and "Information-Mediator-Client" in answer.json()["detail"]
    no_token = client.post(f"{BASE}/read", json=body, headers={"Information-Mediator-Client": CLIENT})
    assert no_token.status_code == 401 and "detail" in no_token.json()


def test_exists_with_and_without_name_and_only_by_id_and_name(world: World, client: TestClient) -> None:
    row = _loaded(world)
    headers = _headers(world, Role.DEVELOPER)

    def exists(content: dict[str, Any]) -> Any:
        return client.post(f"{BASE}/exists", json={"query": {"content": content}}, headers=headers)

    assert exists({"ID": row["resident_id"]}).json() == {
        "answer": {"status": True, "message": "Object found from database"}
    }
    assert exists({"ID": row["resident_id"], "name": row["name"]}).json()["answer"]["status"] is True
    assert exists({"ID": row["resident_id"], "name": "别人"}).json()["answer"]["status"] is False
    assert exists({"ID": "11010519491231002X"}).json()["answer"]["status"] is False
    probe = exists({"ID": row["resident_id"], "birth_date": "1990-01-01"})
    assert probe.status_code == 400 and probe.json()["code"] == "govstack.query.field"
    invalid = exists({"ID": "110105194912310021"})
    assert invalid.status_code == 400
    bad_body = client.post(f"{BASE}/exists", json={"query": {"nope": 1}}, headers=headers)
    assert bad_body.status_code == 400


def test_list_search_filter_and_pages(world: World, client: TestClient) -> None:
    rows = persons_rows()
    _loaded(world)
    headers = _headers(world, Role.DEVELOPER)
    surname = rows[0]["name"][0]
    first = client.get(BASE, params={"search": surname, "page_size": 2}, headers=headers).json()
    expected = sum(1 for r in rows if r["name"].startswith(surname))
    assert first["count"] == expected and len(first["results"]) == min(2, expected)
    assert set(first) == {"count", "next", "previous", "results"} and first["previous"] is None
    assert all("ID" in r and r["masked"] for r in first["results"])
    if expected > 2:
        assert first["next"] and "page=2" in first["next"]
    region = rows[0]["household_region_code"]
    by_region = client.get(BASE, params={"query.household_region_code": region}, headers=headers).json()
    assert by_region["count"] == sum(1 for r in rows if r["household_region_code"] == region)
    refused = client.get(BASE, params={"query.phone": "138"}, headers=headers)
    assert refused.status_code == 400
    unknown = client.get("/govstack/data/nothing/1.0", params={"search": "张"}, headers=headers)
    assert (
        unknown.status_code == 404
        and client.get("/govstack/data/population/9.9", params={"search": "张"}, headers=headers).status_code
        == 404
    )


def test_writes_are_for_registry_managers_and_keep_history(world: World, client: TestClient) -> None:
    row = _loaded(world)
    key = row["resident_id"]
    manager = _headers(world, Role.DATA_ADMIN)
    reader = _headers(world, Role.DEVELOPER)
    body = {
        "query": {"content": {"ID": key}},
        "write": {"content": {"current_address": "浙江省杭州市西湖区新地址1号"}},
    }
    assert client.put(f"{BASE}/update", json=body, headers=reader).status_code == 403
    updated = client.put(f"{BASE}/update", json=body, headers=manager)
    assert updated.status_code == 200, updated.text
    history = client.get(f"/api/v1/registries/population/{key}/history", headers=reader).json()
    assert len(history["versions"]) == 2
    create = client.post(
        f"{BASE}/create", json={"write": {"content": {"ID": key, "name": "重复"}}}, headers=manager
    )
    assert create.status_code == 409
    bad = client.post(
        f"{BASE}/update-or-create",
        json={"write": {"content": {"ID": key, "ethnicity": "99"}}},
        headers=manager,
    )
    assert bad.status_code == 400 and "ethnicity" in bad.json()["message"]
    gone = client.delete(f"{BASE}/{key}/delete", headers=manager)
    assert gone.status_code == 204
    read = client.post(f"{BASE}/read", json={"query": {"content": {"ID": key}}}, headers=reader)
    assert read.status_code == 404
    # The ended record is history: its versions are still there.
    assert (
        len(client.get(f"/api/v1/registries/population/{key}/history", headers=reader).json()["versions"])
        == 2
    )


def test_my_personal_data_usage_lists_who_read_and_why(world: World, client: TestClient) -> None:
    row = _loaded(world)
    key = row["resident_id"]
    reader = _headers(world, Role.DEVELOPER, **{"X-Road-Issue": quote("社保待遇资格认证")})
    client.post(f"{BASE}/read", json={"query": {"content": {"ID": key}}}, headers=reader)
    client.post(
        "/api/v1/registries/population/verify",
        json={"resident_id": key, "name": row["name"]},
        headers=reader,
    )
    answer = client.get(
        "/govstack/data/MyPersonalDataUsage/1.0",
        params={"userID": key, "DatabaseID": "population"},
        headers=reader,
    )
    assert answer.status_code == 200
    usage = answer.json()
    assert len(usage) == 2
    assert {u["ReaderApplicationName"] for u in usage} == {CLIENT, "zhengwu"}
    assert {u["Purpose"] for u in usage} == {"社保待遇资格认证", None}
    assert all(u["ReaderInstitutionID"] == world.source and u["SearchDateTime"] for u in usage)
    assert set(usage[0]) >= {"ID", "ReaderID", "ReaderInstitutionName", "SearchDateTime", "Refrences"}
    again = client.get("/govstack/data/myPersonalDataUsage", params={"userID": key}, headers=reader).json()
    assert len(again) == 2  # asking who read is not itself a read of the person's data
    invalid = client.get("/govstack/data/myPersonalDataUsage", params={"userID": "123"}, headers=reader)
    assert invalid.status_code == 400


def test_entities_are_served_too(world: World, client: TestClient) -> None:
    _loaded(world)
    assert world.ingest(world.entities_csv, registry="entities").status == "applied"
    with world.entities_csv.open(encoding="utf-8-sig", newline="") as fh:
        entity = next(csv.DictReader(fh))
    headers = _headers(world, Role.DEVELOPER)
    base = "/govstack/data/entities/1.0"
    read = client.post(f"{base}/read", json={"query": {"content": {"ID": entity["uscc"]}}}, headers=headers)
    assert read.status_code == 200 and read.json()["content"]["uscc"] == entity["uscc"]
    assert read.json()["content"]["name"] == entity["name"]  # an entity's name is not personal data
    exists = client.post(
        f"{base}/exists",
        json={"query": {"content": {"ID": entity["uscc"], "name": entity["name"]}}},
        headers=headers,
    )
    assert exists.json()["answer"]["status"] is True
