"""The topic tree (主题分类): two digits per level, e.g. 02 社会保障 › 0201 养老保险."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.catalog.models import Topic
from zhengwu.catalog.schemas import TopicIn, TopicOut
from zhengwu.errors import Conflict, ValidationError


def _topic_out(topic: Topic, by_code: dict[str, Topic]) -> TopicOut:
    parents = [by_code[topic.code[:n]] for n in range(2, len(topic.code), 2) if topic.code[:n] in by_code]
    return TopicOut(
        id=topic.id,
        code=topic.code,
        name=topic.name,
        parent_code=topic.code[:-2] or None,
        level=len(topic.code) // 2,
        path=" › ".join([p.name for p in parents] + [topic.name]),
    )


def topic_list(db: Session, *, actor: Actor) -> list[TopicOut]:
    """The topic tree in code order (parents before children). Public: a taxonomy holds no data."""
    _ = actor
    topics = list(db.scalars(select(Topic).order_by(Topic.code)))
    by_code = {t.code: t for t in topics}
    return [_topic_out(t, by_code) for t in topics]


def topic_create(db: Session, *, actor: Actor, data: TopicIn) -> TopicOut:
    """Add a node to the topic tree; platform admins only. Its parent is the code minus two digits."""
    require_roles(actor, Role.PLATFORM_ADMIN)
    parent = None
    if len(data.code) > 2:
        parent = db.scalar(select(Topic).where(Topic.code == data.code[:-2]))
        if parent is None:
            raise ValidationError(
                f"上级主题 {data.code[:-2]} 不存在",
                message_en="parent topic not found",
                field="code",
                code="topic.parent",
            )
    topic = Topic(code=data.code, name=data.name.strip(), parent_id=parent.id if parent else None)
    try:
        with db.begin_nested():
            db.add(topic)
            db.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"主题代码 {data.code} 已存在",
            message_en="topic code exists",
            field="code",
            code="topic.duplicate",
        ) from exc
    audit_record(
        db, actor=actor, action="catalog.topic.create", target_type="catalog_topic", target_id=topic.code,
        details={"name": topic.name},
    )  # fmt: skip
    by_code = {t.code: t for t in db.scalars(select(Topic).where(Topic.code.in_(_prefixes(topic.code))))}
    return _topic_out(topic, by_code)


def _prefixes(code: str) -> list[str]:
    return [code[:n] for n in range(2, len(code) + 1, 2)]
