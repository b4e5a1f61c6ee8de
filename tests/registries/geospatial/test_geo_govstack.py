"""Standard addresses through the GovStack data API: forward search, read by code, read-only, audited."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import make_token, make_user
from registries.geospatial.geo_helpers import Geo
from zhengwu.accounts.models import Role
from zhengwu.audit.models import AuditEvent
from zhengwu.registries.geospatial.models import Address

BASE = "/govstack/data/addresses/1.0"
CLIENT = "eGovStack/GOV/90000009/wuye"


def _headers(
    geo: Geo, role: Role = Role.PUBLIC_USER, *, client: str | None = CLIENT, **extra: str
) -> dict[str, str]:
    department_id = None if role is Role.PUBLIC_USER else geo.department_id
    user = make_user(geo.db, roles=[role], department_id=department_id)
    headers = {"Authorization": f"Bearer {make_token(geo.db, user)}", **extra}
    if client is not None:
        headers["Information-Mediator-Client"] = client
    return headers


def _first(geo: Geo, region: str = "330106") -> Address:
    row = geo.db.scalars(
        select(Address).where(Address.region_code == region).order_by(Address.address_code)
    ).first()
    assert row is not None
    return row


def _post(client: TestClient, op: str, headers: dict[str, str], content: dict[str, Any]) -> Any:
    return client.post(f"{BASE}/{op}", json={"query": {"content": content}}, headers=headers)


def test_read_and_exists_by_address_code(geo: Geo, client: TestClient) -> None:
    row = _first(geo)
    headers = _headers(geo, **{"X-Road-Issue": quote("物业登记")})
    read = _post(client, "read", headers, {"ID": row.address_code})
    assert read.status_code == 200, read.text
    content = read.json()["content"]
    assert content["ID"] == content["address_code"] == row.address_code and content["address"] == row.address
    assert content["source_department"] == geo.source and "gcj02_lon" in content
    assert _post(client, "read", headers, {"address_code": row.address_code.lower()}).status_code == 200
    assert _post(client, "exists", headers, {"ID": row.address_code}).json() == {
        "answer": {"status": True, "message": "Object found from database"}
    }
    assert _post(client, "exists", headers, {"ID": "330106999999999999"}).json()["answer"]["status"] is False
    unknown = _post(client, "read", headers, {"ID": "330106999999999999"})
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "no record found"})
    malformed = _post(client, "read", headers, {"ID": "地址"})
    assert malformed.status_code == 400 and malformed.json()["code"] == "registries.geo.address_code"
    assert _post(client, "exists", headers, {"ID": "12"}).status_code == 400
    probe = _post(client, "read", headers, {"ID": row.address_code, "road": row.road})
    assert probe.status_code == 400 and probe.json()["code"] == "govstack.query.field"
    assert _post(client, "read", headers, {}).json()["code"] == "govstack.query.id"
    events = geo.db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "registries.address.lookup", AuditEvent.target_type == "address"
        )
    ).all()
    assert len(events) == 3
    assert all((e.details or {}).get("client") == CLIENT for e in events)
    assert {(e.details or {}).get("purpose") for e in events} == {"物业登记"}


def test_list_search_region_and_pages(geo: Geo, client: TestClient) -> None:
    row = _first(geo)
    headers = _headers(geo)
    found = client.get(BASE, params={"search": f"{row.road}{row.house_number}"}, headers=headers)
    assert found.status_code == 200, found.text
    body = found.json()
    assert set(body) == {"count", "next", "previous", "results"} and 1 <= body["count"] <= 100
    assert row.address_code in [r["ID"] for r in body["results"]]
    assert body["results"][0]["score"] >= body["results"][-1]["score"]
    in_region = client.get(
        BASE,
        params={"query.address": f"{row.road}{row.house_number}", "query.region_code": "330106"},
        headers=headers,
    ).json()
    assert in_region["results"] and all(r["region_code"] == "330106" for r in in_region["results"])
    everything = client.get(BASE, params={"page_size": 5}, headers=headers).json()
    assert everything["count"] == geo.counts["registry_geo_addresses"] and len(everything["results"]) == 5
    codes = [r["ID"] for r in everything["results"]]
    assert codes == sorted(codes) and "page=2" in everything["next"]
    second = client.get(BASE, params={"page_size": 5, "page": 2}, headers=headers).json()
    assert second["results"][0]["ID"] > codes[-1] and "page=1" in second["previous"]
    county = client.get(
        BASE, params={"query.region_code": "330106", "page_size": 100}, headers=headers
    ).json()
    expected = geo.db.scalars(select(Address.address_code).where(Address.region_code == "330106")).all()
    assert county["count"] == len(expected) and {r["ID"] for r in county["results"]} == set(expected)
    for params, code in (
        ({"query.region_code": "33010"}, "registries.geo.region_code"),
        ({"query.road": "文三路"}, "govstack.filter"),
        ({"ordering": "descending"}, "govstack.ordering"),
        ({"search": "路" * 200}, "registries.geo.query"),
    ):
        answer = client.get(BASE, params=params, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == code, (params, answer.text)
    search_events = geo.db.scalars(
        select(AuditEvent).where(AuditEvent.action == "registries.address.search")
    ).all()
    assert search_events and all((e.details or {}).get("via") == "govstack" for e in search_events)


def test_header_auth_version_and_read_only(geo: Geo, client: TestClient) -> None:
    row = _first(geo)
    body = {"query": {"content": {"ID": row.address_code}}}
    assert client.post(f"{BASE}/read", json=body, headers=_headers(geo, client=None)).status_code == 400
    assert client.get(BASE, headers=_headers(geo, client="x")).status_code == 400
    assert (
        client.post(f"{BASE}/read", json=body, headers={"Information-Mediator-Client": CLIENT}).status_code
        == 401
    )
    assert (
        client.post("/govstack/data/addresses/2.0/read", json=body, headers=_headers(geo)).status_code == 404
    )
    manager = _headers(geo, Role.PLATFORM_ADMIN)
    write = {"write": {"content": {"ID": row.address_code, "address": "别处"}}}
    for answer in (
        client.post(f"{BASE}/create", json=write, headers=manager),
        client.put(f"{BASE}/update", json={**body, **write}, headers=manager),
        client.post(f"{BASE}/update-or-create", json=write, headers=manager),
        client.delete(f"{BASE}/{row.address_code}/delete", headers=manager),
    ):
        assert answer.status_code == 403 and answer.json()["code"] == "govstack.read_only", answer.text
    geo.db.expire_all()
    assert geo.db.get(Address, row.address_code) is not None
