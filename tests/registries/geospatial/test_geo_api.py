"""The geospatial API and pages: 400 with field and reason, 404 for unknown codes, GeoJSON, batch POST."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from factories import login, make_token, make_user
from registries.geospatial.geo_helpers import Geo
from zhengwu.accounts.models import Role
from zhengwu.registries.geospatial.models import Address

API = "/api/v1/registries/geospatial"


def _bearer(geo: Geo) -> dict[str, str]:
    user = make_user(geo.db, roles=[Role.DEVELOPER], department_id=geo.department_id)
    return {"Authorization": f"Bearer {make_token(geo.db, user)}"}


def test_divisions_tree_division_and_boundary(geo: Geo, client: TestClient) -> None:
    headers = _bearer(geo)
    tree = client.get(f"{API}/divisions", headers=headers)
    assert tree.status_code == 200 and tree.json()[0]["code"] == "330000"
    sub = client.get(f"{API}/divisions", params={"root": "330100"}, headers=headers).json()
    assert sub[0]["code"] == "330100" and {c["code"] for c in sub[0]["children"]} >= {"330106", "330102"}
    one = client.get(f"{API}/divisions/330106", headers=headers).json()
    assert (
        one["name"] == "西湖区" and one["parent_code"] == "330100" and one["source_department"] == geo.source
    )
    boundary = client.get(f"{API}/divisions/330106/boundary", headers=headers)
    assert boundary.status_code == 200 and boundary.headers["content-type"].startswith("application/geo+json")
    assert boundary.json()["geometry"]["type"] == "MultiPolygon"
    history = client.get(f"{API}/divisions/330106/history", headers=headers).json()
    assert (
        len(history) == 1 and history[0]["valid_to"] is None and history[0]["source_department"] == geo.source
    )
    assert client.get(f"{API}/divisions/110101/history", headers=headers).status_code == 404


def test_invalid_codes_are_400_and_unknown_404(geo: Geo, client: TestClient) -> None:
    headers = _bearer(geo)
    bad = client.get(f"{API}/divisions/33A106", headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "code"
    assert client.get(f"{API}/divisions/110101", headers=headers).status_code == 404
    assert client.get(f"{API}/divisions/110101/boundary", headers=headers).status_code == 404
    assert client.get(f"{API}/addresses/330106999999999999", headers=headers).status_code == 404
    assert client.get(f"{API}/addresses/%E5%9C%B0%E5%9D%80", headers=headers).status_code == 400
    assert client.get(f"{API}/divisions").status_code == 401


def test_reverse_single_and_batch(geo: Geo, client: TestClient) -> None:
    headers = _bearer(geo)
    one = client.get(f"{API}/reverse", params={"lon": 120.13, "lat": 30.27}, headers=headers)
    assert one.status_code == 200 and one.json()["county"]["code"] == "330106"
    rows = geo.db.scalars(select(Address).order_by(Address.address_code).limit(5)).all()
    body = {"points": [{"lon": r.lon, "lat": r.lat} for r in rows] + [{"lon": -0.1276, "lat": 51.5072}]}
    batch = client.post(f"{API}/reverse", json=body, headers=headers)
    assert batch.status_code == 200
    answers = batch.json()
    assert [a["county"]["code"] for a in answers[:5]] == [r.region_code for r in rows]
    assert [a["address"]["address_code"] for a in answers[:5]] == [r.address_code for r in rows]
    assert answers[5]["county"] is None and answers[5]["in_china"] is False


def test_reverse_out_of_range_is_400_with_field_and_reason(geo: Geo, client: TestClient) -> None:
    headers = _bearer(geo)
    single = client.get(f"{API}/reverse", params={"lon": 120.1, "lat": 95}, headers=headers)
    assert single.status_code == 400
    error = single.json()["error"]
    assert error["field"] == "lat" and "纬度" in error["message"]
    body = {"points": [{"lon": 120.1, "lat": 30.2}, {"lon": 190.0, "lat": 30.2}]}
    batch = client.post(f"{API}/reverse", json=body, headers=headers)
    assert batch.status_code == 400 and batch.json()["error"]["field"] == "points[1].lon"
    not_number = client.get(f"{API}/reverse", params={"lon": "东经120", "lat": 30}, headers=headers)
    assert not_number.status_code == 400
    bad_crs = client.post(f"{API}/reverse", json={"points": [], "crs": "mercator"}, headers=headers)
    assert bad_crs.status_code == 400


def test_convert_endpoint(geo: Geo, client: TestClient) -> None:
    headers = _bearer(geo)
    body = {
        "points": [{"lon": 116.404, "lat": 39.915}, {"lon": 2.35, "lat": 48.85}],
        "source": "wgs84",
        "target": "gcj02",
    }
    out = client.post(f"{API}/convert", json=body, headers=headers).json()
    assert abs(out["points"][0]["lon"] - 116.41024449916938) < 1e-6
    assert out["points"][1] == {"lon": 2.35, "lat": 48.85}
    back = client.post(
        f"{API}/convert",
        json={"points": out["points"][:1], "source": "gcj02", "target": "cgcs2000"},
        headers=headers,
    ).json()
    assert abs(back["points"][0]["lon"] - 116.404) < 1e-6 and abs(back["points"][0]["lat"] - 39.915) < 1e-6


def test_address_search_api(geo: Geo, client: TestClient) -> None:
    headers = _bearer(geo)
    row = geo.db.scalars(
        select(Address).where(Address.region_code == "330106").order_by(Address.address_code)
    ).first()
    assert row is not None
    hits = client.get(
        f"{API}/addresses", params={"q": f"{row.road}{row.house_number}", "region": "330106"}, headers=headers
    )
    assert hits.status_code == 200 and row.address_code in [h["address_code"] for h in hits.json()]
    assert client.get(f"{API}/addresses", params={"q": ""}, headers=headers).status_code == 400
    history = client.get(f"{API}/addresses/{row.address_code}/history", headers=headers).json()
    assert history[0]["batch_id"] == row.batch_id and history[0]["valid_to"] is None


def test_quality_report(geo: Geo, client: TestClient) -> None:
    headers = _bearer(geo)
    report = client.get(f"{API}/quality", headers=headers).json()
    assert report["registry"] == "geospatial" and report["records"] == geo.counts["registry_geo_addresses"]
    assert report["sources"][0]["source_department"] == geo.source and report["stale"] == 0
    road = next(c for c in report["completeness"] if c["field"] == "road")
    assert road["filled"] == road["total"] == report["records"]
    assert client.get(f"{API}/quality", params={"stale_days": 0}, headers=headers).status_code == 400


def test_pages_in_chinese(geo: Geo, client: TestClient) -> None:
    user = make_user(geo.db, roles=[Role.REVIEWER], department_id=geo.department_id)
    login(client, user.username)
    home = client.get("/registries/geospatial", params={"q": "西湖区"})
    assert home.status_code == 200 and "行政区划" in home.text and "西湖区" in home.text
    assert "数据质量" in home.text and "入库记录" in home.text
    division = client.get("/registries/geospatial/divisions/330106")
    assert division.status_code == 200 and "<svg" in division.text and '<path d="M' in division.text
    assert "历史版本" in division.text
    reverse = client.get("/registries/geospatial/reverse", params={"lon": "120.13", "lat": "30.27"})
    assert reverse.status_code == 200 and "西湖区" in reverse.text
    row = geo.db.scalars(select(Address).order_by(Address.address_code)).first()
    assert row is not None
    page = client.get(f"/registries/geospatial/addresses/{row.address_code}")
    assert page.status_code == 200 and row.address in page.text and "历史版本" in page.text
    assert client.get("/registries/geospatial/divisions/110101").status_code == 404
    assert client.get("/registries/geospatial/reverse", params={"lon": "abc", "lat": "30"}).status_code == 400
