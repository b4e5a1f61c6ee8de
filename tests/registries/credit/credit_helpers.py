"""Helpers of the credit registry tests: registries loaded, two departments, a red and a black list."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import SYSTEM, actor_of, make_department, make_user
from registries.registries_helpers import World
from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor
from zhengwu.registries.credit.ingest import Kind, ingest_credit
from zhengwu.registries.credit.lists import entry_add, list_create, measure_create
from zhengwu.registries.credit.models import ListType, MeasureKind
from zhengwu.registries.credit.schemas import EntryIn, ListIn, MeasureIn, MeasureItemOut
from zhengwu.registries.ingest import IngestResult
from zhengwu.registries.models import Entity, Person

RECORD_COLUMNS = [
    "decision_number",
    "kind",
    "subject_id",
    "subject_name",
    "category",
    "content",
    "basis",
    "decision_date",
    "validity_from",
    "validity_to",
    "amount_yuan",
]
TODAY = dt.date.today()


@dataclass
class Credit:
    """The registries loaded, the delivering department (with its admin), another department, lists."""

    world: World
    entities: list[Entity]
    persons: list[Person]
    admin: Actor
    other_code: str
    other_id: int
    other_admin: Actor
    public: Actor
    developer: Actor

    @property
    def db(self) -> Session:
        session: Session = self.world.db
        return session

    @property
    def source(self) -> str:
        return str(self.world.source)

    def ingest(self, path: Path, kind: Kind = "records", **kwargs: Any) -> IngestResult:
        kwargs.setdefault("actor", SYSTEM)
        kwargs.setdefault("source", self.source)
        return ingest_credit(
            self.db,
            kind=kind,
            path=path,
            error_dir=self.world.tmp / "errors",
            **kwargs,
        )

    def record_row(self, n: int, **overrides: Any) -> dict[str, Any]:
        entity = self.entities[n]
        row: dict[str, Any] = {
            "decision_number": f"测市监罚〔2026〕{n + 1}号",
            "kind": "行政处罚",
            "subject_id": entity.uscc,
            "subject_name": entity.name,
            "category": "罚款",
            "content": "未按规定公示年度报告，罚款",
            "basis": "《市场主体登记管理条例》第四十八条",
            "decision_date": (TODAY - dt.timedelta(days=30 + n)).isoformat(),
            "validity_from": "",
            "validity_to": "",
            "amount_yuan": str(1000 * (n + 1)),
        }
        row.update(overrides)
        return row

    def records_file(
        self, name: str, rows: list[dict[str, Any]], encoding: str = "utf-8", columns: list[str] | None = None
    ) -> Path:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        cols = columns or RECORD_COLUMNS
        writer.writerow(cols)
        for row in rows:
            writer.writerow([row.get(c, "") for c in cols])
        return Path(self.world.file(name, out.getvalue(), encoding=encoding))

    def black_list(self, code: str = "BLK-1", items: tuple[str, ...] = ("FGW-001", "*")) -> None:
        list_create(
            self.db,
            actor=self.admin,
            data=ListIn(
                code=code,
                name="严重违法失信主体名单",
                list_type=ListType.BLACK,
                issuing_department=self.source,
                basis="管理办法第五条",
            ),
        )
        for n, item in enumerate(items):
            measure_create(
                self.db,
                actor=self.admin,
                list_code=code,
                data=MeasureIn(
                    code=f"{code}-M{n}",
                    kind=MeasureKind.PUNISHMENT,
                    implementing_department=self.other_code,
                    content=f"限制措施{n}",
                    basis="备忘录第二条",
                    items=[MeasureItemOut(code=item, name="全部事项" if item == "*" else "政府投资项目审批")],
                ),
            )

    def red_list(self, code: str = "RED-1", item: str = "SW-001") -> None:
        list_create(
            self.db,
            actor=self.admin,
            data=ListIn(
                code=code,
                name="纳税信用A级纳税人名单",
                list_type=ListType.RED,
                issuing_department=self.source,
                basis="纳税信用管理办法",
            ),
        )
        measure_create(
            self.db,
            actor=self.admin,
            list_code=code,
            data=MeasureIn(
                code=f"{code}-M0",
                kind=MeasureKind.REWARD,
                implementing_department=self.source,
                content="绿色通道",
                basis="备忘录第三条",
                items=[MeasureItemOut(code=item, name="发票领用")],
            ),
        )

    def put_on(
        self,
        list_code: str,
        subject: Entity | Person,
        number: str = "认定-1",
        days: int = 10,
        until: dt.date | None = None,
    ) -> int:
        key = subject.uscc if isinstance(subject, Entity) else subject.resident_id
        out = entry_add(
            self.db,
            actor=self.admin,
            list_code=list_code,
            data=EntryIn(
                decision_number=number,
                subject_id=key,
                subject_name=subject.name,
                reason="提交虚假材料",
                basis="管理办法第五条",
                period_from=TODAY - dt.timedelta(days=days),
                period_to=until,
            ),
        )
        return out.id


@pytest.fixture
def credit(world: World) -> Credit:
    assert world.ingest(world.persons_csv).status == "applied"
    assert world.ingest(world.entities_csv, registry="entities").status == "applied"
    db = world.db
    entities = list(db.scalars(select(Entity).where(Entity.status == "存续").order_by(Entity.uscc)))
    persons = list(db.scalars(select(Person).where(Person.status == "living").order_by(Person.resident_id)))
    admin = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=world.department_id))
    other = make_department(db, name="省发展和改革委员会")
    other_admin = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=other.id))
    public = actor_of(db, make_user(db, roles=[Role.PUBLIC_USER]))
    developer = actor_of(db, make_user(db, roles=[Role.DEVELOPER], department_id=other.id))
    return Credit(world, entities, persons, admin, other.code, other.id, other_admin, public, developer)
