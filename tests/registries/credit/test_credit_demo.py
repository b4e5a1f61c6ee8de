"""The demo seed of the credit registry: built on the demo's departments and registries, run once."""

from __future__ import annotations

from sqlalchemy import func, select

from factories import SYSTEM
from registries.registries_helpers import World
from zhengwu.demo.services import demo_organisation_seed
from zhengwu.registries.credit.demo import credit_demo_seed
from zhengwu.registries.credit.models import CreditList, CreditListEntry, CreditRepair
from zhengwu.registries.credit.services import credit_check, subject_credit
from zhengwu.registries.models import Entity


def test_credit_demo_seed_runs_once_on_the_demo_organisation(world: World) -> None:
    db = world.db
    assert credit_demo_seed(db, seed=7) == {}  # no demo departments yet: nothing seeded
    demo_organisation_seed(db, province_code="330000", seed=7)
    assert world.ingest(world.persons_csv, source="330000-GA").status == "applied"
    assert world.ingest(world.entities_csv, registry="entities", source="330000-SCJG").status == "applied"
    counts = credit_demo_seed(db, seed=7)
    alive = db.scalar(select(func.count()).select_from(Entity).where(Entity.status == "存续")) or 0
    n = min(alive, 80)
    assert (
        counts
        == {
            "credit_records": n + (n + 2) // 3,  # a licence each, a penalty for every third entity
            "credit_list_entries": len(range(n)[1:11]) + len(range(n)[12:16]) + 3,
        }
    )
    assert db.scalar(select(func.count()).select_from(CreditList)) == 3
    assert db.scalar(select(func.count()).select_from(CreditRepair)) == 1
    assert credit_demo_seed(db, seed=7) == {}
    black = db.scalars(
        select(CreditListEntry)
        .join(CreditList, CreditList.id == CreditListEntry.list_id)
        .where(CreditList.code == "330000-BLK-SERIOUS")
    ).first()
    assert black is not None
    check = credit_check(db, actor=SYSTEM, subject_id=black.subject_id, item_code="FGW-001")
    assert check.punishment and {m.implementing_department for m in check.measures} == {
        "330000-FGW",
        "330000-SCJG",
    }
    assert subject_credit(db, actor=SYSTEM, subject_id=black.subject_id).entries[0].list_type == "black"
