"""A realistic demo catalog: a few hundred entries across the demo departments, deterministic per seed.

Each kind of department (公安, 市场监管, 人社, 民政, 自然资源, 卫健, 教育, 发改, 税务, 大数据局) files the
resources such a department really holds, with believable data elements. Most entries are published,
some have several versions (so diffs are there to look at), some are drafts, under review, being
revised or withdrawn. Rows are written in bulk rather than through the use cases so that seeding
stays well under a second or two; the result is what the use cases would have produced (codes from the
same sequences, snapshots in the same format, one audit record for the whole seeding).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, DepartmentLevel, Role, User, UserRole
from zhengwu.accounts.permissions import Actor
from zhengwu.audit.services import audit_record
from zhengwu.catalog.codes import code_prefix, format_code, next_sequences
from zhengwu.catalog.models import (
    DataElement,
    Delivery,
    ElementType,
    OpenType,
    Resource,
    ResourceCategory,
    ResourceStatus,
    ResourceVersion,
    Secrecy,
    Sensitivity,
    ShareType,
    Topic,
    UpdateFrequency,
)
from zhengwu.catalog.search import services as search_services
from zhengwu.catalog.snapshots import change_note, snapshot_of

DATA_FILE = Path(__file__).parent / "data" / "demo_catalog.json"


@dataclass(frozen=True)
class Template:
    """One kind of resource a kind of department holds (a line of ``data/demo_catalog.json``)."""

    name: str
    classification: str
    topic: str | None
    elements: tuple[str, ...]
    share: ShareType
    delivery: Delivery
    frequency: UpdateFrequency
    system: str
    summary: str
    conditions: str
    basis: str
    open_type: OpenType
    fmt: str


@dataclass(frozen=True)
class DemoCatalog:
    topics: list[tuple[str, str]]
    elements: dict[str, tuple[str, str, ElementType, int | None, bool, Sensitivity]]
    templates: dict[str, list[Template]]


@lru_cache(maxsize=1)
def demo_catalog() -> DemoCatalog:
    """The demo data: topic tree, reusable data elements, and the resources each kind of department files."""
    raw = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    elements = {
        key: (name, name_en, ElementType(kind), length, bool(person), Sensitivity(grade))
        for key, (name, name_en, kind, length, person, grade) in raw["elements"].items()
    }
    templates = {
        kind: [
            Template(
                name=t["name"],
                classification=t["classification"],
                topic=t.get("topic"),
                elements=tuple(t["elements"]),
                share=ShareType(t["share"]),
                delivery=Delivery(t.get("delivery", "api")),
                frequency=UpdateFrequency(t.get("frequency", "daily")),
                system=t.get("system", ""),
                summary=t.get("summary", ""),
                conditions=t.get("conditions", ""),
                basis=t.get("basis", ""),
                open_type=OpenType(t.get("open_type", "closed")),
                fmt=t.get("format", "database"),
            )
            for t in items
        ]
        for kind, items in raw["templates"].items()
    }
    return DemoCatalog([(c, n) for c, n in raw["topics"]], elements, templates)


_LEVEL_SHARE = {DepartmentLevel.PROVINCIAL: 1.0, DepartmentLevel.CITY: 0.85, DepartmentLevel.COUNTY: 0.6}
_BASE_TIME = dt.datetime(2024, 3, 1, 1, 30, tzinfo=dt.UTC)
_CATEGORY = {"1": ResourceCategory.BASE, "2": ResourceCategory.THEMATIC, "3": ResourceCategory.DEPARTMENTAL}


def _kind(dept: Department) -> str:
    return dept.code.rsplit("-", 1)[-1].upper()


def _ensure_topics(db: Session) -> dict[str, Topic]:
    existing = {t.code: t for t in db.scalars(select(Topic))}
    for code, name in demo_catalog().topics:
        if code not in existing:
            parent = existing.get(code[:-2]) if len(code) > 2 else None
            topic = Topic(code=code, name=name, parent_id=parent.id if parent else None)
            db.add(topic)
            db.flush()
            existing[code] = topic
    return existing


def _user_ids(db: Session) -> tuple[int | None, dict[int, int]]:
    """The reviewer's id and, per department, one data administrator's id (if the demo has them)."""
    rows = db.execute(
        select(User.id, User.department_id, UserRole.role).join(UserRole, UserRole.user_id == User.id)
    ).all()
    reviewer = next((uid for uid, _, role in rows if role == Role.REVIEWER.value), None)
    admins: dict[int, int] = {}
    for uid, dept_id, role in rows:
        if role == Role.DATA_ADMIN.value and dept_id is not None:
            admins.setdefault(dept_id, uid)
    return reviewer, admins


def _element_rows(keys: tuple[str, ...]) -> list[DataElement]:
    rows = []
    library = demo_catalog().elements
    for position, key in enumerate(keys):
        name, name_en, kind, length, person, sensitivity = library[key]
        rows.append(
            DataElement(
                position=position,
                name=name,
                name_en=name_en,
                data_type=kind,
                length=length,
                identifies_person=person,
                sensitivity=sensitivity,
                description="",
            )
        )
    return rows


def _older(snapshot: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A plausible earlier version: fewer elements, another frequency or shorter conditions."""
    old = dict(snapshot)
    elements = list(snapshot["elements"])
    if len(elements) > 3:
        old["elements"] = elements[: len(elements) - rng.randint(1, 2)]
    if rng.random() < 0.5:
        old["update_frequency"] = rng.choice(["weekly", "monthly", "irregular"])
    if snapshot.get("share_conditions") and rng.random() < 0.5:
        old["share_conditions"] = "依申请共享"
    if rng.random() < 0.3:
        old["summary"] = str(snapshot["summary"]).split("，")[0] + "。"
    return old


def _state(roll: float) -> str:
    # Mostly published; a few of every other lifecycle state so every page has something to show.
    for limit, state in (
        (0.05, "draft"),
        (0.09, "submitted"),
        (0.10, "rejected"),
        (0.13, "withdrawn"),
        (0.17, "revising"),
        (0.19, "revision_review"),
    ):
        if roll < limit:
            return state
    return "published"


def _resource(
    dept: Department, template: Template, code: str, topics: dict[str, Topic], rng: random.Random
) -> Resource:
    created = _BASE_TIME + dt.timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 600))
    topic = topics.get(template.topic or "")
    conditional_open = template.open_type == OpenType.CONDITIONAL
    return Resource(
        code=code,
        name=template.name,
        provider_id=dept.id,
        category=_CATEGORY[template.classification[0]],
        classification=template.classification,
        topic_id=topic.id if topic else None,
        summary=template.summary
        or f"{dept.name}在履职中产生的{template.name}，按{template.system or '业务系统'}的登记口径汇总。",
        format=template.fmt,
        share_type=template.share,
        share_conditions=template.conditions if template.share == ShareType.CONDITIONAL else "",
        share_basis=template.basis if template.share == ShareType.NONE else "",
        delivery=template.delivery,
        open_type=template.open_type,
        open_conditions="经申请并签订数据使用协议后开放" if conditional_open else "",
        update_frequency=template.frequency,
        secrecy=Secrecy.UNCLASSIFIED,
        source_system=template.system,
        related_codes=[],
        keywords=[template.name.removesuffix("信息").removesuffix("名单")[:16]],
        status=ResourceStatus.DRAFT,
        has_draft_changes=True,
        created_at=created,
        updated_at=created,
        elements=_element_rows(template.elements),
    )


def _revision_element(position: int) -> DataElement:
    return DataElement(
        position=position,
        name="数据更新时间",
        name_en="data_updated_at",
        data_type=ElementType.DATETIME,
        identifies_person=False,
        sensitivity=Sensitivity.PUBLIC,
        description="本条记录在源系统中最近一次更新的时间",
    )


def catalog_demo_seed(db: Session, *, seed: int = 2026) -> int:
    """Fill an empty catalog with the demo entries of every demo department; returns how many.

    Idempotent: does nothing (returns 0) when the catalog already holds entries.
    """
    if db.scalar(select(func.count()).select_from(Resource)):
        return 0
    rng = random.Random(seed)
    topics = _ensure_topics(db)
    reviewer, admins = _user_ids(db)
    departments = list(
        db.scalars(select(Department).where(Department.is_active.is_(True)).order_by(Department.code))
    )
    planned: list[tuple[Department, Template]] = []
    for dept in departments:
        templates = demo_catalog().templates.get(_kind(dept), [])
        share = _LEVEL_SHARE.get(dept.level, 0.5)
        for template in templates:
            if share >= 1.0 or rng.random() < share:
                planned.append((dept, template))
    # One statement advances every counter: same codes as one by one, a fraction of the round trips.
    counts = Counter(code_prefix(t.classification, d.code) for d, t in planned)
    next_number = {p: last - counts[p] + 1 for p, last in next_sequences(db, dict(counts)).items()}
    versions: list[tuple[Resource, list[dict[str, Any]], dt.datetime, int | None]] = []
    for dept, template in planned:
        prefix = code_prefix(template.classification, dept.code)
        next_number[prefix] += 1
        resource = _resource(dept, template, format_code(prefix, next_number[prefix] - 1), topics, rng)
        resource.created_by = admins.get(dept.id)
        db.add(resource)
        state = _state(rng.random())
        when = resource.created_at + dt.timedelta(days=rng.randint(3, 20))
        if state in ("draft", "submitted", "rejected"):
            resource.status = ResourceStatus(state)
            resource.submitted_at = when if state == "submitted" else None
            if state == "rejected":
                resource.review_comment = "信息项缺少长度和敏感级别说明，请补充后重新提交"
            resource.updated_at = when
            continue
        topic = topics.get(template.topic or "")
        snap = snapshot_of(
            resource,
            provider_code=dept.code,
            provider_name=dept.name,
            topic_code=topic.code if topic else None,
            topic_name=topic.name if topic else None,
        )
        contents = [snap] if rng.random() < 0.75 else [_older(snap, rng), snap]
        versions.append((resource, contents, when, admins.get(dept.id)))
        resource.first_published_at = when
        for _ in contents[1:]:
            when += dt.timedelta(days=rng.randint(20, 200))
        resource.status = ResourceStatus.PUBLISHED
        resource.published_at = when
        resource.published_version = len(contents)
        resource.has_draft_changes = False
        resource.updated_at = when
        if state == "withdrawn":
            resource.status = ResourceStatus.WITHDRAWN
            resource.withdrawn_at = resource.updated_at = when + dt.timedelta(days=rng.randint(20, 90))
            resource.withdraw_reason = "该信息资源已并入新的统一资源，原条目停止维护"
        elif state in ("revising", "revision_review"):
            resource.has_draft_changes = True
            resource.elements.append(_revision_element(len(resource.elements)))
            resource.updated_at = when + dt.timedelta(days=rng.randint(5, 60))
            resource.submitted_at = resource.updated_at if state == "revision_review" else None
    db.flush()
    rows: list[dict[str, Any]] = []
    for resource, contents, first, author in versions:
        previous = None
        when = first
        for number, content in enumerate(contents, start=1):
            rows.append(
                {
                    "resource_id": resource.id,
                    "version": number,
                    "snapshot": content,
                    "change_note": change_note(previous, content),
                    "published_at": when if number < len(contents) else resource.published_at,
                    "published_by": author,
                    "reviewed_by": reviewer,
                }
            )
            previous = content
            when += dt.timedelta(days=30)
    if rows:
        db.execute(insert(ResourceVersion), rows)
    count = len(planned)
    db.flush()
    audit_record(
        db,
        actor=Actor.system("demo-seed"),
        action="catalog.demo_seed",
        target_type="catalog",
        details={"resources": count, "seed": seed},
    )
    search_services.search_index_rebuild(db)
    return count
