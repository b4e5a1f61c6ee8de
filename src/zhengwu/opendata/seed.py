"""Demo content of the open data portal: the province's open catalog entries, published as datasets.

Each published, unclassified entry whose open type is ``open`` or ``conditional`` goes through the real
publication use case and its sensitivity check, with the treatments a careful publisher would choose:
public elements as they are, internal and sensitive ones masked, confidential ones withheld.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.catalog.models import OpenType, Resource, ResourceStatus, Sensitivity
from zhengwu.catalog.queries import resource_published_content
from zhengwu.opendata.models import Treatment
from zhengwu.opendata.publication import dataset_publish_check, dataset_publish_from_catalog
from zhengwu.opendata.schemas import PublishIn, TreatmentIn

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
    return published
