"""Use cases of harvest sources and their jobs: create, update, list, show; a dataset's origin.

Sources are managed by platform administrators (the portal's operator) and every change is audited;
sources, jobs and their logs are public to read, as the provenance of harvested datasets is. Running a
job is in ``runner.py``; scheduling (which sources are due, the optional in-process thread) in
``schedule.py``.
"""

from __future__ import annotations

import datetime as dt

from pydantic import ValidationError as PydanticError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotFound, ValidationError
from zhengwu.opendata.harvest.backends import backend_class
from zhengwu.opendata.harvest.models import (
    ITEM_ACTION_LABELS_ZH,
    JOB_STATUS_LABELS_ZH,
    HarvestItem,
    HarvestJob,
    HarvestRecord,
    HarvestSource,
    ItemAction,
    JobStatus,
)
from zhengwu.opendata.harvest.schemas import (
    ItemOut,
    JobDetail,
    JobOut,
    Origin,
    SourceIn,
    SourceOut,
    schedule_label,
    schedule_minutes,
)
from zhengwu.opendata.models import Dataset, DatasetState
from zhengwu.opendata.packages import org_name
from zhengwu.opendata.services import department_by_ref, pydantic_errors

# A lock not refreshed for this long belongs to a run that died: the next run may take it.
LOCK_STALE = dt.timedelta(minutes=30)
LOG_PAGE = 200


def source_validate(payload: dict[str, object]) -> SourceIn:
    """A source payload validated, errors naming the field."""
    try:
        return SourceIn.model_validate(payload)
    except PydanticError as exc:
        error = pydantic_errors(exc)
        error.code = "harvest.invalid"
        raise error from None


def _department(db: Session, ref: str, field: str) -> Department:
    try:
        return department_by_ref(db, ref)
    except NotFound:
        raise ValidationError(
            f"发布机构 {ref} 不存在",
            message_en=f"no publisher {ref!r}",
            code="harvest.organization",
            field=field,
        ) from None


def source_by_ref(db: Session, ref: str | int) -> HarvestSource:
    """A source by id or name."""
    key = str(ref).strip()
    row = db.scalar(
        select(HarvestSource).where(
            (HarvestSource.name == key) | (HarvestSource.id == (int(key) if key.isdigit() else -1))
        )
    )
    if row is None:
        raise NotFound(
            "采集来源不存在", message_en="harvest source not found", code="harvest.not_found", field="id"
        )
    return row


def job_out(job: HarvestJob, source_name: str) -> JobOut:
    """A job as plain data."""
    return JobOut(
        id=job.id,
        source_id=job.source_id,
        source_name=source_name,
        status=str(job.status),
        status_label=JOB_STATUS_LABELS_ZH[JobStatus(job.status)],
        trigger=job.trigger,
        started_at=job.started_at,
        finished_at=job.finished_at,
        gathered=job.gathered,
        created=job.created,
        updated=job.updated,
        deleted=job.deleted,
        skipped=job.skipped,
        failed=job.failed,
        error=job.error,
    )


def is_locked(source: HarvestSource, now: dt.datetime | None = None) -> bool:
    """Is a run of ``source`` under way (a lock that is not stale)?"""
    now = now or utcnow()
    return (
        source.lock_token is not None and source.locked_at is not None and source.locked_at > now - LOCK_STALE
    )


def next_run_at(source: HarvestSource) -> dt.datetime | None:
    """When the schedule wants the next run (None: by hand only, or inactive)."""
    if not source.active or source.interval_minutes <= 0:
        return None
    if source.last_job_at is None:
        return source.created_at
    return source.last_job_at + dt.timedelta(minutes=source.interval_minutes)


def source_out(db: Session, source: HarvestSource) -> SourceOut:
    """A source as plain data, with its last job and how many active datasets it gave."""
    dept = db.get(Department, source.organization_id)
    assert dept is not None  # FK RESTRICT
    last = db.scalar(
        select(HarvestJob)
        .where(HarvestJob.source_id == source.id)
        .order_by(HarvestJob.started_at.desc(), HarvestJob.id.desc())
        .limit(1)
    )
    datasets = db.scalar(
        select(func.count())
        .select_from(HarvestRecord)
        .where(HarvestRecord.source_id == source.id, HarvestRecord.withdrawn.is_(False))
    )
    return SourceOut(
        id=source.id,
        name=source.name,
        title=source.title,
        url=source.url,
        backend=source.backend,
        organization=org_name(dept),
        organization_title=dept.name,
        organization_map=dict(source.organization_map or {}),
        schedule=source.schedule,
        schedule_label=schedule_label(source.schedule),
        interval_minutes=source.interval_minutes,
        active=source.active,
        created_at=source.created_at,
        updated_at=source.updated_at,
        last_job=job_out(last, source.name) if last else None,
        datasets=datasets or 0,
        running=is_locked(source),
        next_run_at=next_run_at(source),
    )


def _apply(db: Session, source: HarvestSource, data: SourceIn) -> None:
    backend_class(data.backend)
    dept = _department(db, data.organization, "organization")
    for remote, local in data.organization_map.items():
        if not remote.strip():
            raise ValidationError(
                "机构映射的远端名称不能为空",
                message_en="empty remote name in the organization map",
                code="harvest.organization_map",
                field="organization_map",
            )
        _department(db, local, "organization_map")
    taken = db.scalar(
        select(HarvestSource.id).where(HarvestSource.name == data.name, HarvestSource.id != source.id)
    )
    if taken is not None:
        raise Conflict(
            "该名称已被使用", message_en="name already in use", code="harvest.name_taken", field="name"
        )
    source.name = data.name
    source.title = data.title
    source.url = data.url
    source.backend = data.backend
    source.organization_id = dept.id
    source.organization_map = dict(data.organization_map)
    source.schedule = data.schedule
    source.interval_minutes = schedule_minutes(data.schedule)
    source.active = data.active
    source.updated_at = utcnow()


def harvest_source_create(db: Session, *, actor: Actor, data: SourceIn) -> SourceOut:
    """A new harvest source (platform administrators)."""
    require_roles(actor, Role.PLATFORM_ADMIN)
    source = HarvestSource(created_by=actor.user_id, created_at=utcnow(), organization_map={})
    _apply(db, source, data)
    db.add(source)
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="opendata.harvest.source.create",
        target_type="opendata_harvest_source",
        target_id=source.id,
        details={"name": source.name, "url": source.url, "backend": source.backend},
    )
    return source_out(db, source)


def harvest_source_update(db: Session, *, actor: Actor, ref: str | int, data: SourceIn) -> SourceOut:
    """Change a harvest source (platform administrators); its datasets stay until the next run."""
    require_roles(actor, Role.PLATFORM_ADMIN)
    source = source_by_ref(db, ref)
    before = {
        "url": source.url,
        "backend": source.backend,
        "active": source.active,
        "schedule": source.schedule,
    }
    _apply(db, source, data)
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="opendata.harvest.source.update",
        target_type="opendata_harvest_source",
        target_id=source.id,
        details={
            "name": source.name,
            "before": before,
            "after": {
                "url": source.url,
                "backend": source.backend,
                "active": source.active,
                "schedule": source.schedule,
            },
        },
    )
    return source_out(db, source)


def harvest_source_list(db: Session, *, actor: Actor) -> list[SourceOut]:
    """Every source with its last job (public: the provenance of harvested datasets)."""
    del actor
    return [source_out(db, s) for s in db.scalars(select(HarvestSource).order_by(HarvestSource.name))]


def harvest_source_get(db: Session, *, actor: Actor, ref: str | int) -> SourceOut:
    """One source by id or name (public)."""
    del actor
    return source_out(db, source_by_ref(db, ref))


def harvest_job_list(db: Session, *, actor: Actor, ref: str | int, limit: int = 50) -> list[JobOut]:
    """The newest jobs of a source (public)."""
    del actor
    source = source_by_ref(db, ref)
    jobs = db.scalars(
        select(HarvestJob)
        .where(HarvestJob.source_id == source.id)
        .order_by(HarvestJob.started_at.desc(), HarvestJob.id.desc())
        .limit(max(1, min(limit, 500)))
    )
    return [job_out(j, source.name) for j in jobs]


def harvest_job_get(
    db: Session, *, actor: Actor, job_id: int, action: str = "", offset: int = 0, limit: int = LOG_PAGE
) -> JobDetail:
    """A job with one page of its log, optionally only the lines of one action (public)."""
    del actor
    job = db.get(HarvestJob, job_id)
    if job is None:
        raise NotFound(
            "采集任务不存在", message_en="harvest job not found", code="harvest.job_not_found", field="id"
        )
    source = db.get(HarvestSource, job.source_id)
    assert source is not None
    stmt = select(HarvestItem).where(HarvestItem.job_id == job.id)
    if action:
        if action not in {a.value for a in ItemAction}:
            raise ValidationError(
                f"未知的处理结果 {action}",
                message_en=f"unknown action {action!r}",
                code="harvest.action",
                field="action",
            )
        stmt = stmt.where(HarvestItem.action == ItemAction(action))
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(stmt.order_by(HarvestItem.id).offset(max(offset, 0)).limit(max(1, min(limit, 1000))))
    items = [
        ItemOut(
            remote_id=r.remote_id,
            action=str(r.action),
            action_label=ITEM_ACTION_LABELS_ZH[ItemAction(r.action)],
            dataset_name=r.dataset_name,
            message=r.message,
            at=r.at,
        )
        for r in rows
    ]
    return JobDetail(job=job_out(job, source.name), items=items, items_total=total)


def dataset_origin(db: Session, *, dataset_ref: str) -> Origin | None:
    """Where a dataset (by CKAN id or name) was harvested from; None for the portal's own datasets."""
    row = db.execute(
        select(HarvestRecord, HarvestSource)
        .join(HarvestSource, HarvestSource.id == HarvestRecord.source_id)
        .join(Dataset, Dataset.id == HarvestRecord.dataset_id)
        .where((Dataset.uuid == dataset_ref) | (Dataset.name == dataset_ref))
    ).first()
    if row is None:
        return None
    record, source = row
    return Origin(
        source_id=source.id,
        source_name=source.name,
        source_title=source.title,
        remote_id=record.remote_id,
        remote_url=record.remote_url,
        remote_modified=record.remote_modified,
        harvested_at=record.harvested_at,
        withdrawn=record.withdrawn,
    )


def harvest_sources_due(db: Session, *, now: dt.datetime | None = None) -> list[str]:
    """Names of the active scheduled sources whose next run is due and that are not running."""
    now = now or utcnow()
    due = []
    for source in db.scalars(
        select(HarvestSource).where(HarvestSource.active.is_(True), HarvestSource.interval_minutes > 0)
    ):
        when = next_run_at(source)
        if when is not None and when <= now and not is_locked(source, now):
            due.append(source.name)
    return sorted(due)


def harvested_datasets(db: Session, *, ref: str | int, limit: int = 100) -> list[tuple[str, str, bool]]:
    """(name, title, withdrawn) of a source's datasets, newest harvest first (public)."""
    source = source_by_ref(db, ref)
    rows = db.execute(
        select(Dataset.name, Dataset.title, Dataset.state)
        .join(HarvestRecord, HarvestRecord.dataset_id == Dataset.id)
        .where(HarvestRecord.source_id == source.id)
        .order_by(HarvestRecord.harvested_at.desc(), Dataset.name)
        .limit(limit)
    )
    return [(name, title, state != DatasetState.ACTIVE) for name, title, state in rows]
