"""Deterministic synthetic credit data for the demo province: lists, measures, 双公示 records, entries.

Built on what the demo already holds: its provincial departments (市场监督管理局, 税务局, 人社厅,
发改委, 公安厅) and the persons and entities the demo delivered to the base registries. Lists, measures
and entries go through the same use cases as the pages (as the platform itself); records are written
with their first version as a delivery would. Dates are relative to today so that the demo always has
published records, lists in force and one credit repair with its history.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, DepartmentLevel
from zhengwu.accounts.permissions import Actor
from zhengwu.db import utcnow
from zhengwu.registries.credit.history import record_changed
from zhengwu.registries.credit.lists import entry_add, list_create, measure_create
from zhengwu.registries.credit.models import (
    CreditList,
    CreditRecord,
    ListType,
    MeasureKind,
    RecordKind,
    Status,
)
from zhengwu.registries.credit.schemas import EntryIn, ListIn, MeasureIn, MeasureItemOut, RepairIn
from zhengwu.registries.credit.services import repair_apply, today_cn
from zhengwu.registries.models import Entity, Person
from zhengwu.registries.validation import row_hash

#: Service items (政务服务事项) the demo measures apply to: (code, name).
DEMO_ITEMS: Final = {
    "SCJG-001": "企业变更登记",
    "SCJG-002": "食品经营许可",
    "FGW-001": "政府投资项目审批",
    "SW-001": "发票领用",
    "RS-001": "人力资源服务许可",
}
_LICENCES: Final = (
    ("登记", "企业变更登记", "《中华人民共和国市场主体登记管理条例》第二十四条"),
    ("普通", "食品经营许可", "《中华人民共和国食品安全法》第三十五条"),
    ("普通", "公共场所卫生许可", "《公共场所卫生管理条例》第八条"),
)
_PENALTIES: Final = (
    ("罚款", "未按规定公示年度报告，罚款", "《中华人民共和国市场主体登记管理条例》第四十八条"),
    ("警告", "未按规定办理变更登记，警告", "《中华人民共和国市场主体登记管理条例》第四十六条"),
    ("罚款", "销售不符合食品安全标准的食品，罚款", "《中华人民共和国食品安全法》第一百二十四条"),
)


def _departments(db: Session) -> dict[str, str]:
    """Provincial department codes by suffix (SCJG, SW, RS, FGW, GA)."""
    rows = db.scalars(
        select(Department.code)
        .where(Department.level == DepartmentLevel.PROVINCIAL)
        .order_by(Department.code)
    )
    found: dict[str, str] = {}
    for code in rows:
        suffix = code.rsplit("-", 1)[-1]
        found.setdefault(suffix, code)
    return found


def credit_demo_seed(db: Session, *, seed: int) -> dict[str, int]:
    """Seed the credit registry once (nothing if it holds lists or the demo lacks departments/entities)."""
    depts = _departments(db)
    if db.scalars(select(CreditList.id).limit(1)).first() is not None:
        return {}
    if not all(k in depts for k in ("SCJG", "SW", "RS", "FGW")):
        return {}
    entities = list(db.scalars(select(Entity).where(Entity.status == "存续").order_by(Entity.uscc).limit(80)))
    persons = list(
        db.scalars(select(Person).where(Person.status == "living").order_by(Person.resident_id).limit(10))
    )
    if len(entities) < 20:
        return {}
    rng = random.Random(seed)
    actor = Actor.system("demo-seed")
    today = today_cn()
    scjg, sw, rs, fgw = depts["SCJG"], depts["SW"], depts["RS"], depts["FGW"]
    province = scjg.split("-", 1)[0]

    lists = [
        (f"{province}-RED-TAXA", "纳税信用A级纳税人名单", ListType.RED, sw, "《纳税信用管理办法（试行）》"),
        (
            f"{province}-BLK-SERIOUS",
            "严重违法失信主体名单",
            ListType.BLACK,
            scjg,
            "《市场监督管理严重违法失信名单管理办法》",
        ),
        (
            f"{province}-BLK-WAGE",
            "拖欠农民工工资失信联合惩戒对象名单",
            ListType.BLACK,
            rs,
            "《拖欠农民工工资失信联合惩戒对象名单管理暂行办法》",
        ),
    ]
    for code, name, list_type, issuer, basis in lists:
        list_create(
            db,
            actor=actor,
            data=ListIn(code=code, name=name, list_type=list_type, issuing_department=issuer, basis=basis),
        )
    measures = [
        (
            lists[0][0],
            "M-TAXA-1",
            MeasureKind.REWARD,
            sw,
            "办理涉税事项开通绿色通道，按需领用发票",
            ["SW-001"],
        ),
        (
            lists[0][0],
            "M-TAXA-2",
            MeasureKind.REWARD,
            scjg,
            "办理登记、许可事项容缺受理",
            ["SCJG-001", "SCJG-002"],
        ),
        (
            lists[1][0],
            "M-SER-1",
            MeasureKind.PUNISHMENT,
            fgw,
            "限制参与政府投资项目，依法从严审核",
            ["FGW-001"],
        ),
        (lists[1][0], "M-SER-2", MeasureKind.PUNISHMENT, scjg, "列为重点监管对象，不适用告知承诺制", ["*"]),
        (lists[2][0], "M-WAGE-1", MeasureKind.PUNISHMENT, rs, "限制取得人力资源服务许可", ["RS-001"]),
    ]
    for list_code, code, measure_kind, implementer, content, items in measures:
        measure_create(
            db,
            actor=actor,
            list_code=list_code,
            data=MeasureIn(
                code=f"{province}-{code}",
                kind=measure_kind,
                implementing_department=implementer,
                content=content,
                basis="《关于建立完善守信联合激励和失信联合惩戒制度加快推进社会诚信建设的指导意见》（国发〔2016〕33号）",
                items=[MeasureItemOut(code=i, name=DEMO_ITEMS.get(i, "全部事项")) for i in items],
            ),
        )
    now = utcnow()
    records = 0
    penalties: list[CreditRecord] = []
    for n, entity in enumerate(entities):
        kinds = [RecordKind.LICENSING] + ([RecordKind.PENALTY] if n % 3 == 0 else [])
        for kind in kinds:
            category, content, basis = rng.choice(_LICENCES if kind is RecordKind.LICENSING else _PENALTIES)
            decided = today - dt.timedelta(days=rng.randrange(10, 700))
            amount = rng.randrange(1, 50) * 1000 if category == "罚款" else None
            prefix = "许" if kind is RecordKind.LICENSING else "罚"
            record = CreditRecord(
                kind=kind.value,
                issuing_department=scjg,
                decision_number=f"{province}市监{prefix}〔{decided.year}〕{1000 + n}号",
                subject_type="entity",
                subject_id=entity.uscc,
                subject_name=entity.name,
                decision_name=f"{content}决定书",
                category=category,
                content=content,
                basis=basis,
                amount_yuan=amount,
                decision_date=decided,
                validity_from=decided if kind is RecordKind.LICENSING else None,
                validity_to=decided + dt.timedelta(days=5 * 365) if kind is RecordKind.LICENSING else None,
                publication_to=decided + dt.timedelta(days=3 * 365) if kind is RecordKind.PENALTY else None,
                status=Status.ACTIVE.value,
                row_hash=row_hash([entity.uscc, kind.value, decided, content]),
                source_department=scjg,
                batch_id=None,
                valid_from=now,
            )
            db.add(record)
            record_changed(db, record, now)
            records += 1
            if kind is RecordKind.PENALTY:
                penalties.append(record)
    entries = 0
    placements: list[tuple[str, Entity | Person, str]] = [
        (lists[0][0], e, "连续三年纳税信用评价为A级") for e in entities[1:11]
    ]
    placements += [(lists[1][0], e, "提交虚假材料取得登记，情节严重") for e in entities[12:16]]
    placements += [(lists[2][0], p, "拒不支付农民工工资，经责令仍不支付") for p in persons[:3]]
    for n, (list_code, subject, reason) in enumerate(placements):
        key = subject.uscc if isinstance(subject, Entity) else subject.resident_id
        entry_add(
            db,
            actor=actor,
            list_code=list_code,
            data=EntryIn(
                decision_number=f"{list_code}-{today.year}-{n + 1:04d}",
                subject_id=key,
                subject_name=subject.name,
                reason=reason,
                basis=next(b for c, _, _, _, b in lists if c == list_code),
                period_from=today - dt.timedelta(days=rng.randrange(5, 300)),
                period_to=today + dt.timedelta(days=rng.randrange(100, 900)),
            ),
        )
        entries += 1
    if penalties:
        target = penalties[0]
        repair_apply(
            db,
            actor=actor,
            data=RepairIn(
                target_type="record",
                target_id=target.id,
                decision_number=f"{province}市监修〔{today.year}〕1号",
                decision_date=today,
                rectification="已按期补报年度报告并缴清罚款，作出信用承诺，经核查整改到位",
            ),
        )
    return {"credit_records": records, "credit_list_entries": entries}
