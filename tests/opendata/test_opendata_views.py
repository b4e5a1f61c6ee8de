"""The portal's pages: search with facets and the dataset page with its provenance."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories_catalog import make_resource
from factories_opendata import make_dataset, make_publisher
from opendata.datastore.datastore_helpers import load_csv
from zhengwu.accounts.permissions import Actor
from zhengwu.catalog.models import OpenType
from zhengwu.opendata.directory import portal_figures
from zhengwu.opendata.publication import dataset_publish_from_catalog
from zhengwu.opendata.schemas import PublishIn


def test_search_page_with_facets(client: TestClient, db: Session) -> None:
    pub = make_publisher(db, name="省教育厅")
    make_dataset(db, pub, name="schools", title="中小学校名录", tags=[{"name": "教育"}])
    make_dataset(db, pub, name="buses", title="公交线路", tags=[{"name": "交通"}, {"name": 'a"b\\c'}])
    page = client.get("/opendata")
    assert page.status_code == 200 and "中小学校名录" in page.text and "省教育厅" in page.text
    filtered = client.get("/opendata", params={"tags": "交通"})
    assert "公交线路" in filtered.text and "中小学校名录" not in filtered.text
    odd = client.get("/opendata", params={"tags": 'a"b\\c'})
    assert odd.status_code == 200 and "公交线路" in odd.text
    searched = client.get("/opendata", params={"q": "学校"})
    assert "中小学校名录" in searched.text and "公交线路" not in searched.text
    assert client.get("/opendata", params={"q": "<script>alert(1)</script>"}).status_code == 200
    assert (
        "<script>alert(1)</script>"
        not in client.get("/opendata", params={"q": "<script>alert(1)</script>"}).text
    )


def test_dataset_page_shows_provenance_and_treatments(client: TestClient, db: Session) -> None:
    pub = make_publisher(db)
    elements = [
        {"name": "线路", "name_en": "route", "data_type": "string", "sensitivity": "public"},
        {"name": "客流", "name_en": "ridership", "data_type": "integer", "sensitivity": "internal"},
    ]
    code = make_resource(
        db, provider_id=pub.department.id, open_type=OpenType.OPEN, name="公交客流", elements=elements
    ).code
    pkg = dataset_publish_from_catalog(db, actor=pub.actor, resource=code, data=PublishIn())
    page = client.get(f"/opendata/datasets/{pkg['name']}")
    assert page.status_code == 200
    assert code in page.text and f"/catalog/resources/{code}" in page.text
    assert "不开放" in page.text and "原样开放" in page.text
    assert "package_show?id=" in page.text
    assert client.get("/opendata/datasets/no-such").status_code == 404


def test_dataset_page_previews_the_table(client: TestClient, db: Session, tmp_path: Path) -> None:
    pub = make_publisher(db, name="省交通运输厅")
    pkg = make_dataset(db, pub, name="bus-flow", title="公交客流")
    rid = pkg["resources"][0]["id"]
    rows = "站点,客流,经度,纬度\n" + "".join(
        f"站点{i},{i * 10},120.{i:02d},30.{i:02d}\n" for i in range(1, 16)
    )
    load_csv(db, tmp_path, rows.replace("站点1,", "<b>站点1</b>,"), resource_id=rid)
    page = client.get("/opendata/datasets/bus-flow")
    assert page.status_code == 200
    assert "共 15 行" in page.text and "站点9" in page.text and "站点12" not in page.text
    assert "<b>站点1</b>" not in page.text  # cell values are escaped
    assert "<svg" in page.text and "客流 条形图" in page.text
    for fmt in ("csv", "xlsx", "json", "geojson"):
        assert f"/datastore/dump/{rid}?format={fmt}" in page.text
    assert f"datastore_search?resource_id={rid}" in page.text
    assert "portal.action.datastore_search(" in page.text
    plain = make_dataset(db, pub, name="no-table")
    assert "数据预览" not in client.get(f"/opendata/datasets/{plain['name']}").text


def test_publisher_page_and_portal_figures(client: TestClient, db: Session, tmp_path: Path) -> None:
    pub = make_publisher(db, name="省气象局")
    shown = make_dataset(db, pub, name="rainfall", title="降水量观测")
    make_dataset(db, pub, name="secret", title="内部台账", private=True)
    load_csv(db, tmp_path, resource_id=shown["resources"][0]["id"])
    page = client.get(f"/opendata/publishers/{pub.org}")
    assert page.status_code == 200
    assert "省气象局" in page.text and "降水量观测" in page.text and "内部台账" not in page.text
    assert "开放数据集（1）" in page.text and "可查询数据表" in page.text
    assert client.get("/opendata/publishers/no-such-org").status_code == 404
    home = client.get("/opendata")
    assert "数据行数" in home.text and f"/opendata/publishers/{pub.org}" in home.text
    figures = portal_figures(db, actor=Actor.anonymous(), organization_id=pub.department.id)
    assert (figures.datasets, figures.publishers, figures.tables, figures.rows) == (1, 1, 1, 5)
