"""Publishing catalog entries as open datasets: the sensitivity check, provenance, republication."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories_catalog import make_resource, publish_revision
from factories_opendata import make_publisher
from zhengwu.accounts.permissions import Actor
from zhengwu.audit.models import AuditEvent
from zhengwu.catalog.models import OpenType, Sensitivity
from zhengwu.errors import PermissionDenied, ValidationError
from zhengwu.opendata import services
from zhengwu.opendata.models import Treatment
from zhengwu.opendata.publication import dataset_publish_check, dataset_publish_from_catalog
from zhengwu.opendata.schemas import PublishIn, TreatmentIn

ANON = Actor.anonymous()
ELEMENTS = [
    {"name": "线路名称", "name_en": "route_name", "data_type": "string", "sensitivity": Sensitivity.PUBLIC},
    {"name": "站点数", "name_en": "stop_count", "data_type": "integer", "sensitivity": Sensitivity.PUBLIC},
    {"name": "司机姓名", "name_en": "driver_name", "data_type": "string", "identifies_person": True,
     "sensitivity": Sensitivity.SENSITIVE},
    {"name": "客流量", "name_en": "ridership", "data_type": "integer", "sensitivity": Sensitivity.INTERNAL},
    {"name": "调度密钥", "name_en": "dispatch_key", "data_type": "string",
     "sensitivity": Sensitivity.CONFIDENTIAL},
]  # fmt: skip


def _open_entry(db: Session, provider_id: int, **kw: object) -> str:
    return make_resource(
        db,
        provider_id=provider_id,
        open_type=OpenType.CONDITIONAL,
        elements=ELEMENTS,
        name="公交线路信息",
        **kw,
    ).code


def test_default_check_withholds_everything_above_public(db: Session) -> None:
    pub = make_publisher(db)
    code = _open_entry(db, pub.department.id)
    check = dataset_publish_check(db, actor=pub.actor, resource=code, data=PublishIn())
    assert check.ok, check.problems
    treatments = {e.name_en: e.treatment for e in check.elements}
    assert treatments == {
        "route_name": Treatment.PUBLISH,
        "stop_count": Treatment.PUBLISH,
        "driver_name": Treatment.WITHHOLD,
        "ridership": Treatment.WITHHOLD,
        "dispatch_key": Treatment.WITHHOLD,
    }


@pytest.mark.parametrize(
    ("name_en", "treatment"),
    [
        ("driver_name", Treatment.PUBLISH),
        ("ridership", Treatment.PUBLISH),
        ("dispatch_key", Treatment.MASK),
        ("dispatch_key", Treatment.PUBLISH),
    ],
)
def test_check_refuses_sensitive_elements_as_they_are(
    db: Session, name_en: str, treatment: Treatment
) -> None:
    pub = make_publisher(db)
    code = _open_entry(db, pub.department.id)
    data = PublishIn(treatments=[TreatmentIn(name_en=name_en, treatment=treatment)])
    check = dataset_publish_check(db, actor=pub.actor, resource=code, data=data)
    assert not check.ok
    bad = [e for e in check.elements if not e.ok]
    assert [e.name_en for e in bad] == [name_en] and bad[0].reason
    with pytest.raises(ValidationError) as err:
        dataset_publish_from_catalog(db, actor=pub.actor, resource=code, data=data)
    assert err.value.details["check"]["ok"] is False
    assert services.dataset_search(db, actor=ANON, q="公交线路")["count"] == 0


def test_publish_with_masking_and_aggregation_keeps_provenance(db: Session) -> None:
    pub = make_publisher(db)
    code = _open_entry(db, pub.department.id)
    data = PublishIn(
        treatments=[
            TreatmentIn(name_en="driver_name", treatment=Treatment.MASK),
            TreatmentIn(name_en="ridership", treatment=Treatment.AGGREGATE),
        ],
        temporal_start="2024-01-01",
        temporal_end="2024-12-31",
    )
    out = dataset_publish_from_catalog(db, actor=pub.actor, resource=code, data=data)
    assert out["provenance"] == {
        "catalog_code": code,
        "catalog_version": 1,
        "catalog_url": f"/catalog/resources/{code}",
    }
    assert {t["name_en"]: t["treatment"] for t in out["element_treatments"]}["ridership"] == "aggregate"
    assert out["temporal_start"] == "2024-01-01" and out["spatial"] == pub.department.region_code
    assert out["title"] == "公交线路信息" and out["open_type"] == "conditional"
    assert services.dataset_search(db, actor=ANON, q="公交线路")["count"] == 1
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "opendata.dataset.publish"))
    assert event is not None and event.details["treatments"]["driver_name"] == "mask"
    # A new catalog version republishes the same dataset at that version.
    publish_revision(db, code=code, summary="新版摘要")
    again = dataset_publish_from_catalog(db, actor=pub.actor, resource=code, data=data)
    assert again["id"] == out["id"] and again["provenance"]["catalog_version"] == 2
    assert again["notes"] == "新版摘要"


def test_closed_unpublished_and_foreign_entries_are_refused(db: Session) -> None:
    pub = make_publisher(db)
    other = make_publisher(db)
    closed = make_resource(db, provider_id=pub.department.id, open_type=OpenType.CLOSED).code
    draft = make_resource(db, provider_id=pub.department.id, open_type=OpenType.OPEN, published=False).code
    for code in (closed, draft):
        check = dataset_publish_check(db, actor=pub.actor, resource=code, data=PublishIn())
        assert not check.ok and check.problems
        with pytest.raises(ValidationError):
            dataset_publish_from_catalog(db, actor=pub.actor, resource=code)
    with pytest.raises(PermissionDenied):
        dataset_publish_check(db, actor=other.actor, resource=closed, data=PublishIn())
    unknown = PublishIn(treatments=[TreatmentIn(name_en="nope", treatment=Treatment.MASK)])
    code = _open_entry(db, pub.department.id)
    assert not dataset_publish_check(db, actor=pub.actor, resource=code, data=unknown).ok


def test_publication_api_shows_the_check(client: TestClient, db: Session) -> None:
    pub = make_publisher(db)
    code = _open_entry(db, pub.department.id)
    headers = {"Authorization": f"Bearer {pub.token}"}
    body = {"treatments": [{"name_en": "driver_name", "treatment": "publish"}]}
    check = client.post(f"/api/v1/opendata/publications/{code}/check", json=body, headers=headers)
    assert check.status_code == 200 and check.json()["ok"] is False
    refused = client.post(f"/api/v1/opendata/publications/{code}", json=body, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["error"]["details"]["check"]["elements"][2]["ok"] is False
    done = client.post(f"/api/v1/opendata/publications/{code}", json={}, headers=headers)
    assert done.status_code == 200, done.text
    assert client.post(f"/api/v1/opendata/publications/{code}", json={}).status_code == 401
