"""Use cases of the reuse showcase (应用展示): submit, moderate, list, show, link datasets.

Any registered user submits a showcase with the datasets it uses; it waits in the moderation queue
until the platform's open-data operator (a platform administrator or reviewer) approves or rejects it.
The public sees approved showcases only; the submitter and the operators also see pending ones.
Results are CKAN's ckanext-showcase dictionaries (a showcase is a package of type ``showcase``), so the
same data serves the pages and the ``ckanext_showcase_*`` actions.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Final
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role, User
from zhengwu.accounts.permissions import Actor, require_authenticated, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotFound, ValidationError
from zhengwu.opendata.models import Dataset
from zhengwu.opendata.packages import ckan_time, org_name
from zhengwu.opendata.services import dataset_by_ref, is_visible
from zhengwu.opendata.showcase.models import STATUS_LABELS_ZH, Showcase, ShowcaseDataset, ShowcaseStatus

MODERATORS: Final = (Role.PLATFORM_ADMIN, Role.REVIEWER)
MAX_TITLE: Final = 200
MAX_TEXT: Final = 5_000
MAX_URL: Final = 500
MAX_DATASETS: Final = 50
PAGE_SIZE: Final = 20
NAME_RE: Final = re.compile(r"^[a-z0-9_-]{2,100}$")


def _invalid(field: str, message: str, message_en: str) -> ValidationError:
    return ValidationError(
        message,
        message_en=message_en,
        code="opendata.showcase",
        field=field,
        errors=[{"field": field, "reason": message_en}],
    )


def _text(value: Any, field: str, limit: int, *, required: bool = False) -> str:
    if value is not None and not isinstance(value, str):
        raise _invalid(field, f"{field} 应为文本", "Must be a string")
    text = (value or "").strip()
    if required and not text:
        raise _invalid(field, f"{field} 不能为空", "Missing value")
    if len(text) > limit:
        raise _invalid(field, f"{field} 过长（最多 {limit} 字）", f"Longer than {limit} characters")
    return text


def _dataset_not_found() -> NotFound:
    return NotFound("数据集不存在", message_en="Dataset not found", code="opendata.not_found", field="id")


def _url(value: Any, field: str) -> str:
    text = _text(value, field, MAX_URL)
    if text:
        parts = urlsplit(text)
        # Only web links: a javascript: or data: link would run in the reader's browser.
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _invalid(field, f"{field} 须为 http:// 或 https:// 开头的网址", "Must be an http(s) URL")
    return text


def is_moderator(actor: Actor) -> bool:
    """Whether ``actor`` moderates showcases."""
    return actor.is_authenticated and actor.has(*MODERATORS)


def _visible(actor: Actor, row: Showcase) -> bool:
    if row.status == ShowcaseStatus.APPROVED:
        return True
    return is_moderator(actor) or (actor.user_id is not None and actor.user_id == row.submitted_by)


def _load(db: Session, ref: str) -> Showcase:
    ref = (ref or "").strip() if isinstance(ref, str) else ""
    if not ref:
        raise _invalid("id", "缺少 id", "Missing value")
    row = db.scalar(select(Showcase).where((Showcase.uuid == ref) | (Showcase.name == ref)))
    if row is None:
        raise NotFound("应用不存在", message_en="Showcase not found", code="opendata.showcase", field="id")
    return row


def _load_visible(db: Session, actor: Actor, ref: str) -> Showcase:
    row = _load(db, ref)
    if not _visible(actor, row):
        # A showcase waiting for moderation does not exist for the public.
        raise NotFound("应用不存在", message_en="Showcase not found", code="opendata.showcase", field="id")
    return row


def _dataset_rows(db: Session, actor: Actor, showcase_id: int) -> list[Dataset]:
    rows = db.scalars(
        select(Dataset)
        .join(ShowcaseDataset, ShowcaseDataset.dataset_id == Dataset.id)
        .where(ShowcaseDataset.showcase_id == showcase_id)
        .order_by(Dataset.title, Dataset.name)
    )
    return [d for d in rows if is_visible(actor, d)]


def _dataset_brief(db: Session, dataset: Dataset) -> dict[str, Any]:
    dept = db.get(Department, dataset.organization_id)
    return {
        "id": dataset.uuid,
        "name": dataset.name,
        "title": dataset.title,
        "type": "dataset",
        "owner_org": org_name(dept) if dept else "",
        "organization": {"name": org_name(dept), "title": dept.name} if dept else None,
    }


def showcase_dict(db: Session, actor: Actor, row: Showcase) -> dict[str, Any]:
    """A showcase as ckanext-showcase returns it: a package of type ``showcase`` (plus its moderation)."""
    submitter = db.get(User, row.submitted_by) if row.submitted_by else None
    datasets = _dataset_rows(db, actor, row.id)
    return {
        "id": row.uuid,
        "name": row.name,
        "title": row.title,
        "notes": row.notes,
        "type": "showcase",
        "url": row.url,
        "image_url": row.image_url,
        "image_display_url": row.image_url,
        "author": row.author,
        "state": "active",
        "private": row.status != ShowcaseStatus.APPROVED,
        "approval_status": str(row.status),
        "approval_status_label": STATUS_LABELS_ZH[ShowcaseStatus(row.status)],
        "moderation_note": row.moderation_note if _visible(actor, row) and row.status != "approved" else "",
        "creator_user_id": str(submitter.id) if submitter and is_moderator(actor) else None,
        "metadata_created": ckan_time(row.created_at),
        "metadata_modified": ckan_time(row.moderated_at or row.created_at),
        "num_datasets": len(datasets),
        "datasets": [_dataset_brief(db, d) for d in datasets],
        "tags": [],
        "extras": [],
    }


def _unique_name(db: Session, name: str) -> str:
    if name:
        if not NAME_RE.match(name):
            raise _invalid("name", "名称只能包含小写字母、数字、- 和 _（2 到 100 个）", "Must be a-z 0-9 - _")
        if db.scalar(select(func.count()).select_from(Showcase).where(Showcase.name == name)):
            raise _invalid("name", "该名称已被使用", "That URL is already in use.")
        return name
    return f"showcase-{uuid.uuid4().hex[:12]}"


def _link_datasets(db: Session, actor: Actor, showcase: Showcase, refs: list[str]) -> None:
    if len(refs) > MAX_DATASETS:
        raise _invalid("datasets", f"最多关联 {MAX_DATASETS} 个数据集", f"At most {MAX_DATASETS} datasets")
    linked = set(
        db.scalars(select(ShowcaseDataset.dataset_id).where(ShowcaseDataset.showcase_id == showcase.id))
    )
    for ref in refs:
        dataset = dataset_by_ref(db, ref)
        if not is_visible(actor, dataset):
            raise _dataset_not_found()
        if dataset.id not in linked:
            db.add(ShowcaseDataset(showcase_id=showcase.id, dataset_id=dataset.id))
            linked.add(dataset.id)


def _dataset_refs(value: Any) -> list[str]:
    """Datasets as CKAN clients send them: names/ids, or dictionaries with ``name`` or ``id``."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[\s,，]+", value) if v]
    if not isinstance(value, list):
        raise _invalid("datasets", "datasets 应为数据集名称的列表", "Must be a list of dataset names or ids")
    refs = []
    for item in value:
        ref = item.get("name") or item.get("id") if isinstance(item, dict) else item
        if not isinstance(ref, str) or not ref.strip():
            raise _invalid("datasets", "datasets 应为数据集名称的列表", "Must be a list of names or ids")
        refs.append(ref.strip())
    return refs


def showcase_create(db: Session, *, actor: Actor, payload: dict[str, Any]) -> dict[str, Any]:
    """Submit a showcase (title, notes, url, image_url, author, name, datasets); it waits for moderation."""
    require_authenticated(actor)
    title = _text(payload.get("title"), "title", MAX_TITLE, required=True)
    row = Showcase(
        uuid=str(uuid.uuid4()),
        name=_unique_name(db, _text(payload.get("name"), "name", 100)),
        title=title,
        notes=_text(payload.get("notes"), "notes", MAX_TEXT),
        url=_url(payload.get("url"), "url"),
        image_url=_url(payload.get("image_url"), "image_url"),
        author=_text(payload.get("author"), "author", 200) or (actor.display_name or actor.username),
        status=ShowcaseStatus.PENDING,
        submitted_by=actor.user_id,
        created_at=utcnow(),
    )
    refs = _dataset_refs(payload.get("datasets"))
    db.add(row)
    db.flush()
    _link_datasets(db, actor, row, refs)
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="opendata.showcase.create",
        target_type="opendata_showcase",
        target_id=row.uuid,
    )
    return showcase_dict(db, actor, row)


def showcase_get(db: Session, *, actor: Actor, ref: str) -> dict[str, Any]:
    """``ckanext_showcase_show``: one showcase by id or name (pending ones: submitter and operators)."""
    return showcase_dict(db, actor, _load_visible(db, actor, ref))


def showcase_list(
    db: Session, *, actor: Actor, status: str = "approved", limit: int = PAGE_SIZE, offset: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """Showcases of one status, newest first: (total, page). Only operators list other than approved."""
    if status not in {s.value for s in ShowcaseStatus}:
        raise _invalid("status", "状态无效", "Unknown status")
    if status != ShowcaseStatus.APPROVED:
        require_roles(actor, *MODERATORS)
    where = Showcase.status == ShowcaseStatus(status)
    total = db.scalar(select(func.count()).select_from(Showcase).where(where)) or 0
    order = Showcase.created_at.asc() if status == ShowcaseStatus.PENDING else Showcase.created_at.desc()
    rows = db.scalars(select(Showcase).where(where).order_by(order, Showcase.id).limit(limit).offset(offset))
    return int(total), [showcase_dict(db, actor, r) for r in rows]


def showcase_moderate(
    db: Session, *, actor: Actor, ref: str, decision: str, note: str = ""
) -> dict[str, Any]:
    """Approve or reject a showcase (operators only); a rejection says why."""
    require_roles(actor, *MODERATORS)
    row = _load(db, ref)
    if decision not in (ShowcaseStatus.APPROVED, ShowcaseStatus.REJECTED):
        raise _invalid("decision", "审核结果须为通过或不通过", "Must be approved or rejected")
    text = _text(note, "note", MAX_TEXT, required=decision == ShowcaseStatus.REJECTED)
    if row.status != ShowcaseStatus.PENDING and row.status == decision:
        raise Conflict("该应用已是此审核结果", message_en="already " + decision, code="opendata.showcase")
    row.status = ShowcaseStatus(decision)
    row.moderation_note = text
    row.moderated_by = actor.user_id
    row.moderated_at = utcnow()
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="opendata.showcase.moderate",
        target_type="opendata_showcase",
        target_id=row.uuid,
        details={"decision": decision},
    )
    return showcase_dict(db, actor, row)


def showcase_dataset_add(db: Session, *, actor: Actor, showcase: str, dataset: str) -> dict[str, str]:
    """``ckanext_showcase_package_association_create``: the submitter or an operator links a dataset."""
    require_authenticated(actor)
    row = _load_visible(db, actor, showcase)
    if not is_moderator(actor) and actor.user_id != row.submitted_by:
        require_roles(actor, *MODERATORS)
    target = dataset_by_ref(db, dataset)
    _link_datasets(db, actor, row, [target.uuid])
    db.flush()
    return {"showcase_id": row.uuid, "package_id": target.uuid}


def showcase_datasets(db: Session, *, actor: Actor, showcase: str) -> list[dict[str, Any]]:
    """``ckanext_showcase_package_list``: the datasets a showcase uses."""
    row = _load_visible(db, actor, showcase)
    return [_dataset_brief(db, d) for d in _dataset_rows(db, actor, row.id)]


def dataset_showcases(db: Session, *, actor: Actor, dataset: str) -> list[dict[str, Any]]:
    """``ckanext_package_showcase_list``: the approved showcases that use a dataset."""
    target = dataset_by_ref(db, dataset)
    if not is_visible(actor, target):
        raise _dataset_not_found()
    rows = db.scalars(
        select(Showcase)
        .join(ShowcaseDataset, ShowcaseDataset.showcase_id == Showcase.id)
        .where(ShowcaseDataset.dataset_id == target.id, Showcase.status == ShowcaseStatus.APPROVED)
        .order_by(Showcase.created_at.desc(), Showcase.id)
    )
    return [showcase_dict(db, actor, r) for r in rows]


def showcase_count(db: Session) -> int:
    """How many showcases the public sees (a figure of the portal)."""
    approved = Showcase.status == ShowcaseStatus.APPROVED
    return int(db.scalar(select(func.count()).select_from(Showcase).where(approved)) or 0)
