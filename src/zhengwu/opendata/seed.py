"""Demo content of the open data portal: the province's open catalog entries, published as datasets.

Each published, unclassified entry whose open type is ``open`` or ``conditional`` goes through the real
publication use case and its sensitivity check, with the treatments a careful publisher would choose:
public elements as they are, internal and sensitive ones masked, confidential ones withheld.
"""

from __future__ import annotations

import random
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.catalog.models import OpenType, Resource, ResourceStatus, Sensitivity
from zhengwu.catalog.queries import resource_published_content
from zhengwu.opendata import services
from zhengwu.opendata.access.models import ApplicantKind
from zhengwu.opendata.access.services import applicant_demo_profiles
from zhengwu.opendata.datastore.services import datastore_create
from zhengwu.opendata.models import Dataset, DatasetState, Treatment
from zhengwu.opendata.publication import dataset_publish_check, dataset_publish_from_catalog
from zhengwu.opendata.schemas import PublishIn, TreatmentIn
from zhengwu.opendata.tabular import distribution_point_to_datastore

DEMO_TABLES: Final = 3
_DISTRICTS: Final = [
    ("城东区", 120.21, 30.28), ("城西区", 120.10, 30.27), ("城南区", 120.17, 30.21),
    ("城北区", 120.16, 30.33), ("高新区", 120.20, 30.19), ("开发区", 120.32, 30.30),
    ("临江县", 120.45, 30.15), ("青山县", 119.72, 30.23), ("白云县", 119.95, 29.80),
    ("东湖县", 120.52, 30.40), ("西山县", 119.60, 30.05), ("南溪县", 120.05, 29.70),
]  # fmt: skip

DEMO_APPLICANTS: Final = {
    "citizen": (ApplicantKind.PERSON, "张三", "330106199003071236"),
    "company": (ApplicantKind.COMPANY, "某科技有限公司", "91330106MA2CFXLJ2E"),
}

_DEMO_TREATMENT = {
    Sensitivity.PUBLIC: Treatment.PUBLISH,
    Sensitivity.INTERNAL: Treatment.MASK,
    Sensitivity.SENSITIVE: Treatment.MASK,
    Sensitivity.CONFIDENTIAL: Treatment.WITHHOLD,
}


def opendata_demo_seed(db: Session, *, actor: Actor | None = None) -> int:
    """Publish every open or conditionally open catalog entry as a dataset; returns how many."""
    actor = actor or Actor.system("demo")
    entries = db.scalars(
        select(Resource)
        .where(
            Resource.status == ResourceStatus.PUBLISHED,
            Resource.open_type.in_([OpenType.OPEN, OpenType.CONDITIONAL]),
        )
        .order_by(Resource.code)
    ).all()
    published = 0
    for entry in entries:
        snap = resource_published_content(db, resource_id=entry.id) or {}
        treatments = [
            TreatmentIn(
                name_en=str(e["name_en"]),
                treatment=_DEMO_TREATMENT.get(
                    Sensitivity(e.get("sensitivity") or "internal"), Treatment.WITHHOLD
                ),
            )
            for e in snap.get("elements", [])
        ]
        data = PublishIn(treatments=treatments)
        if not dataset_publish_check(db, actor=actor, resource=entry.id, data=data).ok:
            continue  # the check's refusal is the answer: nothing is published for this entry
        dataset_publish_from_catalog(db, actor=actor, resource=entry.id, data=data)
        published += 1
    opendata_demo_tables(db, actor=actor)
    # The demo's public users may apply for conditional datasets (synthetic, valid identifiers).
    applicant_demo_profiles(db, profiles=DEMO_APPLICANTS)
    return published


def demo_records(seed: int) -> list[dict[str, Any]]:
    """A deterministic monthly table: 12 districts × 24 months (288 rows) with figures and coordinates."""
    rng = random.Random(seed)
    records = []
    for month in range(24):
        year, mon = 2024 + month // 12, month % 12 + 1
        for district, lon, lat in _DISTRICTS:
            count = rng.randint(80, 1200)
            records.append(
                {
                    "区县": district,
                    "月份": f"{year}-{mon:02d}-01",
                    "数量": count,
                    "金额（万元）": round(count * rng.uniform(0.8, 3.5), 2),
                    "经度": lon,
                    "纬度": lat,
                }
            )
    return records


def _table_kind(dataset: Dataset) -> str:
    # The conditional one is named apart: a search for the open monthly tables finds those only.
    return "逐月汇总" if dataset.open_type == "conditional" else "月度统计"


def opendata_demo_tables(db: Session, *, actor: Actor, count: int = DEMO_TABLES) -> int:
    """Give ``count`` public demo datasets a CSV distribution loaded into the datastore.

    All but one are open to all; the last is conditionally open, so the demo shows an application for
    data (its table is closed: its rows need the key of an approved application).
    """

    def first(open_type: str, n: int) -> list[Dataset]:
        return list(
            db.scalars(
                select(Dataset)
                .where(
                    Dataset.state == DatasetState.ACTIVE,
                    Dataset.private.is_(False),
                    Dataset.open_type == open_type,
                )
                .order_by(Dataset.name)
                .limit(n)
            )
        )

    datasets = first("open", count - 1) + first("conditional", 1)
    for n, dataset in enumerate(datasets):
        made = services.distribution_create(
            db,
            actor=actor,
            payload={
                "package_id": dataset.uuid,
                "name": f"{dataset.title}（按区县{_table_kind(dataset)}）",
                "description": "演示用合成数据：各区县月度数量与金额。",
                "format": "CSV",
            },
        )
        table = datastore_create(
            db,
            actor=actor,
            resource_id=str(made["id"]),
            records=demo_records(seed=n + 1),
            types={"月份": "date"},
            indexes=["区县"],
            is_open=services.is_public(dataset),
        )
        distribution_point_to_datastore(db, resource_id=table.resource_id, fmt="CSV", size=None)
    return len(datasets)
