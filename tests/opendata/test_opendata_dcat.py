"""The portal as DCAT-AP 3: Turtle and JSON-LD, paged, valid against the official SHACL shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyshacl import validate
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS
from sqlalchemy.orm import Session

from factories import SYSTEM
from factories_catalog import make_resource
from factories_opendata import make_dataset, make_publisher
from zhengwu.catalog.models import OpenType
from zhengwu.opendata import directory
from zhengwu.opendata.publication import dataset_publish_from_catalog
from zhengwu.opendata.schemas import PublishIn

SHAPES = Path(__file__).parent / "data" / "dcat-ap-SHACL.ttl"
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return Graph().parse(SHAPES, format="turtle")


def _portal(db: Session) -> None:
    pub = make_publisher(db, name="省交通运输厅")
    directory.group_create(db, actor=SYSTEM, name="transport", title="交通出行")
    make_dataset(
        db,
        pub,
        name="bus-stops",
        title="公交站点",
        tags=[{"name": "交通"}],
        groups=[{"name": "transport"}],
        license_id="cc-by-4.0",
        spatial="330100",
        temporal_start="2024-01-01",
        temporal_end="2024-12-31",
        update_frequency="monthly",
        resources=[
            {"name": "站点表", "url": "https://example.org/stops.csv", "format": "CSV", "size": 1024},
            {"name": "接口", "url": "/api/3/action/package_show?id=bus-stops", "format": "JSON"},
        ],
    )
    make_dataset(db, pub, name="no-extras", title="最简数据集", notes="", tags=[], resources=[])
    make_dataset(db, pub, name="secret", title="私有", private=True)
    elements = [{"name": "路段", "name_en": "segment", "data_type": "string", "sensitivity": "public"}]
    code = make_resource(
        db, provider_id=pub.department.id, open_type=OpenType.OPEN, name="道路里程", elements=elements
    ).code
    dataset_publish_from_catalog(db, actor=pub.actor, resource=code, data=PublishIn())


def test_catalog_ttl_validates_against_dcat_ap_3(client: TestClient, db: Session, shapes: Graph) -> None:
    _portal(db)
    answer = client.get("/catalog.ttl")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/turtle")
    g = Graph().parse(data=answer.text, format="turtle")
    conforms, _, report = validate(g, shacl_graph=shapes, inference="none", advanced=True)
    assert conforms, report
    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    assert len(datasets) == 3  # the private one is not in the public catalog
    titles = {str(g.value(d, DCTERMS.title)) for d in datasets}
    assert titles == {"公交站点", "最简数据集", "道路里程"}
    bus = next(d for d in datasets if str(g.value(d, DCTERMS.title)) == "公交站点")
    assert (bus, DCAT.keyword, Literal("交通", lang="zh")) in g
    period = g.value(bus, DCTERMS.temporal)
    assert str(g.value(period, DCAT.startDate)) == "2024-01-01"
    assert len(list(g.objects(bus, DCAT.distribution))) == 2


def test_catalog_jsonld_and_paging(client: TestClient, db: Session, shapes: Graph) -> None:
    _portal(db)
    first = Graph().parse(data=client.get("/catalog.jsonld", params={"page_size": 2}).text, format="json-ld")
    conforms, _, report = validate(first, shacl_graph=shapes, inference="none")
    assert conforms, report
    paging = next(first.subjects(RDF.type, HYDRA.PagedCollection))
    assert int(first.value(paging, HYDRA.totalItems)) == 3
    assert int(first.value(paging, HYDRA.itemsPerPage)) == 2
    next_page = first.value(paging, HYDRA.nextPage)
    assert isinstance(next_page, URIRef) and str(next_page).endswith("page=2")
    second = Graph().parse(
        data=client.get("/catalog.ttl", params={"page": 2, "page_size": 2}).text, format="turtle"
    )
    assert len(set(second.subjects(RDF.type, DCAT.Dataset))) == 1
    assert second.value(next(second.subjects(RDF.type, HYDRA.PagedCollection)), HYDRA.nextPage) is None
    assert client.get("/catalog.ttl", params={"page": 0}).status_code == 400
    assert client.get("/catalog.ttl", params={"page": "x"}).status_code == 400
