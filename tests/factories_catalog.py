"""Factories of catalog entries, shared by the catalog, search and sharing tests.

``make_resource`` creates a complete, valid entry through the real use cases (so codes, versions and the
audit trail are what production makes) and, by default, takes it through review to publication.
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.catalog.models import (
    Delivery,
    ElementType,
    OpenType,
    ResourceCategory,
    Secrecy,
    Sensitivity,
    ShareType,
    UpdateFrequency,
)
from zhengwu.catalog.schemas import ElementIn, ResourceCreate, ResourceOut, ResourceUpdate, TopicIn, TopicOut
from zhengwu.catalog.services import (
    resource_approve,
    resource_create,
    resource_get,
    resource_revise,
    resource_submit,
    resource_update,
    topic_create,
)

CATALOG_SYSTEM = Actor.system("catalog-tests")
_seq = itertools.count(1)

# A believable default set of data elements; ``elements=N`` takes the first N (then generic ones).
DEFAULT_ELEMENTS: list[dict[str, Any]] = [
    {"name": "统一社会信用代码", "name_en": "uscc", "data_type": ElementType.STRING, "length": 18},
    {"name": "单位名称", "name_en": "org_name", "data_type": ElementType.STRING, "length": 200},
    {"name": "登记日期", "name_en": "registered_on", "data_type": ElementType.DATE},
    {
        "name": "法定代表人姓名",
        "name_en": "legal_rep_name",
        "data_type": ElementType.STRING,
        "length": 50,
        "identifies_person": True,
        "sensitivity": Sensitivity.SENSITIVE,
    },
    {"name": "注册资本", "name_en": "registered_capital", "data_type": ElementType.DECIMAL, "length": 18},
]


def element_data(n: int) -> list[ElementIn]:
    """``n`` valid data elements with distinct names."""
    out = [ElementIn.model_validate(e) for e in DEFAULT_ELEMENTS[:n]]
    for i in range(len(out), n):
        out.append(
            ElementIn(
                name=f"信息项{i + 1}", name_en=f"field_{i + 1}", data_type=ElementType.STRING, length=64
            )
        )
    return out


def resource_data(
    *,
    name: str | None = None,
    share_type: ShareType = ShareType.CONDITIONAL,
    open_type: OpenType = OpenType.CLOSED,
    elements: int | list[Any] = 3,
    provider_id: int | None = None,
    classification: str = "3-01-001-001",
    category: ResourceCategory | None = None,
    **overrides: Any,
) -> ResourceCreate:
    """Valid, complete content for a new entry (conditions and basis filled in to match the types).

    ``elements``: how many default data elements, or the elements themselves (ElementIn or dicts).
    """
    n = next(_seq)
    digit_category = {
        "1": ResourceCategory.BASE,
        "2": ResourceCategory.THEMATIC,
        "3": ResourceCategory.DEPARTMENTAL,
    }[classification[0]]
    values: dict[str, Any] = {
        "name": name or f"测试信息资源{n}",
        "category": category or digit_category,
        "classification": classification,
        "summary": "用于测试的信息资源摘要。",
        "format": "database",
        "share_type": share_type,
        "share_conditions": "仅限履行法定职责使用" if share_type == ShareType.CONDITIONAL else "",
        "share_basis": "《中华人民共和国个人信息保护法》第十三条" if share_type == ShareType.NONE else "",
        "delivery": Delivery.API,
        "open_type": open_type,
        "open_conditions": "经申请审核后开放" if open_type == OpenType.CONDITIONAL else "",
        "update_frequency": UpdateFrequency.DAILY,
        "secrecy": Secrecy.UNCLASSIFIED,
        "source_system": "测试业务系统",
        "keywords": ["测试"],
        "elements": element_data(elements) if isinstance(elements, int) else elements,
        "provider_id": provider_id,
    }
    values.update(overrides)
    return ResourceCreate.model_validate(values)


def make_resource(
    db: Session,
    *,
    provider_id: int,
    actor: Actor | None = None,
    reviewer: Actor | None = None,
    share_type: ShareType = ShareType.CONDITIONAL,
    open_type: OpenType = OpenType.CLOSED,
    published: bool = True,
    submitted: bool = False,
    elements: int | list[Any] = 3,
    name: str | None = None,
    zone: str = "extranet",
    **overrides: Any,
) -> ResourceOut:
    """A catalog entry of ``provider_id``: published (default), only submitted, or a draft.

    ``actor`` creates and submits (default: the system); ``reviewer`` approves (default: the system).
    Extra keyword arguments override fields of :func:`resource_data`.
    """
    creator = actor or CATALOG_SYSTEM
    data = resource_data(
        name=name,
        share_type=share_type,
        open_type=open_type,
        elements=elements,
        provider_id=provider_id,
        **overrides,
    )
    out = resource_create(db, actor=creator, data=data, zone=zone)
    if published or submitted:
        out = resource_submit(db, actor=creator, code=out.code, zone=zone)
    if published:
        out = resource_approve(db, actor=reviewer or CATALOG_SYSTEM, code=out.code, zone=zone)
    return out


def update_data(current: ResourceOut, **changes: Any) -> ResourceUpdate:
    """An update of ``current`` (its content and row_version) with ``changes`` applied."""
    values: dict[str, Any] = {f: getattr(current, f) for f in ResourceUpdate.model_fields if f != "elements"}
    values["elements"] = [e.model_dump(include=set(ElementIn.model_fields)) for e in current.elements]
    values.update(changes)
    return ResourceUpdate.model_validate(values)


def publish_revision(
    db: Session, *, code: str, actor: Actor | None = None, reviewer: Actor | None = None, **changes: Any
) -> ResourceOut:
    """Revise a published entry with ``changes`` and publish the result as the next version."""
    who = actor or CATALOG_SYSTEM
    current = resource_revise(db, actor=who, code=code)
    current = resource_get(db, actor=who, code=code, working=True)
    resource_update(db, actor=who, code=code, data=update_data(current, **changes))
    resource_submit(db, actor=who, code=code)
    return resource_approve(db, actor=reviewer or CATALOG_SYSTEM, code=code)


def make_topic(db: Session, *, code: str, name: str) -> TopicOut:
    """A topic node (its parent, code minus two digits, must exist)."""
    return topic_create(db, actor=CATALOG_SYSTEM, data=TopicIn(code=code, name=name))
