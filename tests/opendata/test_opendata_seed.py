"""The demo province's open catalog entries become open datasets, through the sensitivity check."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.catalog.models import OpenType, Resource, ResourceStatus
from zhengwu.demo.services import demo_seed
from zhengwu.opendata import services
from zhengwu.opendata.datastore.services import datastore_search
from zhengwu.opendata.models import Dataset, ElementTreatment, Treatment
from zhengwu.opendata.seed import DEMO_TABLES, demo_records


def test_demo_publishes_the_open_catalog_entries(db: Session) -> None:
    demo_seed(db, province_code="330000")
    open_entries = db.scalar(
        select(func.count())
        .select_from(Resource)
        .where(
            Resource.status == ResourceStatus.PUBLISHED,
            Resource.open_type.in_([OpenType.OPEN, OpenType.CONDITIONAL]),
        )
    )
    datasets = db.scalar(select(func.count()).select_from(Dataset))
    assert open_entries and datasets and 0 < datasets <= open_entries
    # Nothing above "public" went out as it is.
    leaked = db.scalar(
        select(func.count())
        .select_from(ElementTreatment)
        .where(ElementTreatment.treatment == Treatment.PUBLISH, ElementTreatment.sensitivity != "public")
    )
    assert leaked == 0
    every = services.dataset_search(
        db, actor=Actor.anonymous(), rows=0, facet_fields=["organization", "open_type"]
    )
    assert every["count"] == datasets
    assert sum(every["facets"]["open_type"].values()) == datasets
    one = services.dataset_search(db, actor=Actor.anonymous(), rows=1)["results"][0]
    assert one["provenance"]["catalog_code"]
    # A few datasets carry a synthetic table in the datastore: open to everyone, but for the one of a
    # conditionally open dataset (its rows need an approved application's key).
    with_table = [
        (d["open_type"], r)
        for d in services.dataset_search(db, actor=Actor.anonymous(), rows=1000)["results"]
        for r in d["resources"]
        if r["datastore_active"]
    ]
    assert len(with_table) == DEMO_TABLES
    assert sorted(kind for kind, _ in with_table) == ["conditional"] + ["open"] * (DEMO_TABLES - 1)
    tabular = [r for kind, r in with_table if kind == "open"]
    first = datastore_search(
        db, actor=Actor.anonymous(), resource_id=tabular[0]["id"], filters={"区县": "城东区"}
    )
    assert first["total"] == 24
    assert tabular[0]["url"] == f"/datastore/dump/{tabular[0]['id']}"
    assert demo_records(1) == demo_records(1)  # deterministic
