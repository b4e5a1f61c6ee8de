"""The portal's pages: search with facets and the dataset page with its provenance."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories_catalog import make_resource
from factories_opendata import make_dataset, make_publisher
from zhengwu.catalog.models import OpenType
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
