"""Use cases of data requests (数据需求): ask (signed in), list and read (public), answer (publisher).

Anyone signed in may ask; the answer comes from a data administrator of the publisher the request is
addressed to, or from a platform administrator (who also answers requests addressed to nobody).
Requester names are shown masked (``mask_name``) on every public output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_authenticated, require_department_admin, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.db import utcnow
from zhengwu.errors import NotFound, ValidationError
from zhengwu.identifiers.masking import mask_name
from zhengwu.opendata.packages import org_name
from zhengwu.opendata.requests.models import STATUS_LABELS_ZH, DataRequest, RequestStatus
from zhengwu.opendata.services import dataset_by_ref, department_by_ref

MAX_TITLE: Final = 200
MAX_TEXT: Final = 5_000
PAGE_SIZE: Final = 20


@dataclass
class DataRequestOut:
    """A data request as the public sees it."""

    id: int
    title: str
    description: str
    purpose: str
    organization: str
    organization_name: str
    requester: str
    status: str
    status_label: str
    answer: str
    dataset_name: str
    created_at: str
    answered_at: str | None


def _text(value: str, field: str, limit: int, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(
            f"{field} 不能为空", message_en=f"{field} is required", code="opendata.request", field=field
        )
    if len(text) > limit:
        raise ValidationError(
            f"{field} 过长（最多 {limit} 字）",
            message_en=f"{field} is longer than {limit} characters",
            code="opendata.request",
            field=field,
        )
    return text


def _out(db: Session, row: DataRequest) -> DataRequestOut:
    dept = db.get(Department, row.organization_id) if row.organization_id else None
    return DataRequestOut(
        id=row.id,
        title=row.title,
        description=row.description,
        purpose=row.purpose,
        organization=dept.name if dept else "",
        organization_name=org_name(dept) if dept else "",
        requester=mask_name(row.requester_name) if row.requester_name else "",
        status=str(row.status),
        status_label=STATUS_LABELS_ZH[RequestStatus(row.status)],
        answer=row.answer,
        dataset_name=row.dataset_name,
        created_at=row.created_at.isoformat(timespec="seconds"),
        answered_at=row.answered_at.isoformat(timespec="seconds") if row.answered_at else None,
    )


def data_request_create(
    db: Session, *, actor: Actor, title: str, description: str = "", purpose: str = "", organization: str = ""
) -> DataRequestOut:
    """Ask for data to be opened; ``organization`` is a publisher's CKAN name (or empty)."""
    require_authenticated(actor)
    row = DataRequest(
        title=_text(title, "title", MAX_TITLE, required=True),
        description=_text(description, "description", MAX_TEXT),
        purpose=_text(purpose, "purpose", MAX_TEXT),
        organization_id=department_by_ref(db, organization).id if organization.strip() else None,
        requester_id=actor.user_id,
        requester_name=actor.display_name or actor.username,
        status=RequestStatus.OPEN,
        created_at=utcnow(),
    )
    db.add(row)
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="opendata.request.create",
        target_type="opendata_request",
        target_id=str(row.id),
    )
    return _out(db, row)


def data_request_list(
    db: Session, *, actor: Actor, status: str = "", limit: int = PAGE_SIZE, offset: int = 0
) -> tuple[int, list[DataRequestOut]]:
    """Public list of requests, newest first: (total, page)."""
    del actor  # public
    stmt = select(DataRequest)
    if status:
        if status not in {s.value for s in RequestStatus}:
            raise ValidationError(
                "状态无效", message_en="unknown status", code="opendata.request", field="status"
            )
        stmt = stmt.where(DataRequest.status == RequestStatus(status))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.order_by(DataRequest.created_at.desc(), DataRequest.id.desc()).limit(limit).offset(offset)
    )
    return int(total), [_out(db, r) for r in rows]


def _load(db: Session, request_id: int) -> DataRequest:
    row = db.get(DataRequest, request_id)
    if row is None:
        raise NotFound(
            "数据需求不存在", message_en="data request not found", code="opendata.request", field="id"
        )
    return row


def data_request_get(db: Session, *, actor: Actor, request_id: int) -> DataRequestOut:
    """One request and its answer (public)."""
    del actor
    return _out(db, _load(db, request_id))


def can_answer(actor: Actor, organization_id: int | None) -> bool:
    """May ``actor`` answer this request (for showing the answer form)?"""
    if actor.has(Role.PLATFORM_ADMIN):
        return True
    return (
        organization_id is not None and actor.has(Role.DATA_ADMIN) and actor.department_id == organization_id
    )


def data_request_answerer(db: Session, *, actor: Actor, request_id: int) -> bool:
    """Whether ``actor`` may answer request ``request_id``."""
    row = _load(db, request_id)
    return can_answer(actor, row.organization_id)


def data_request_answer(
    db: Session, *, actor: Actor, request_id: int, status: str, answer: str, dataset: str = ""
) -> DataRequestOut:
    """Answer a request: planned, published (naming the dataset) or refused (with the reason)."""
    row = _load(db, request_id)
    if row.organization_id is None:
        require_roles(actor, Role.PLATFORM_ADMIN)
    else:
        require_department_admin(actor, row.organization_id)
    if status not in (RequestStatus.PLANNED, RequestStatus.PUBLISHED, RequestStatus.REFUSED):
        raise ValidationError(
            "答复状态无效", message_en="unknown answer status", code="opendata.request", field="status"
        )
    text = _text(answer, "answer", MAX_TEXT, required=True)
    name = ""
    if status == RequestStatus.PUBLISHED:
        if not dataset.strip():
            raise ValidationError(
                "已开放的答复须注明数据集",
                message_en="name the published dataset",
                code="opendata.request",
                field="dataset",
            )
        name = dataset_by_ref(db, dataset).name
    row.status = RequestStatus(status)
    row.answer = text
    row.dataset_name = name
    row.answered_by = actor.user_id
    row.answered_at = utcnow()
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="opendata.request.answer",
        target_type="opendata_request",
        target_id=str(row.id),
        details={"status": status},
    )
    return _out(db, row)
