"""JSON API of harvesting under ``/api/v1/opendata/harvest/``: sources, runs, jobs and their logs.

Reading is public (the provenance of harvested datasets); creating, changing and running sources needs
a platform administrator. A run started here runs in the request and answers the finished job; large
sources are better left to the schedule (``zhengwu opendata harvest run --due``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from zhengwu.errors import NotFound
from zhengwu.opendata.harvest.runner import harvest_job_run
from zhengwu.opendata.harvest.schemas import JobDetail, JobOut, Origin, SourceOut
from zhengwu.opendata.harvest.services import (
    dataset_origin,
    harvest_job_get,
    harvest_job_list,
    harvest_source_create,
    harvest_source_get,
    harvest_source_list,
    harvest_source_update,
    source_validate,
)
from zhengwu.web.deps import AppSettings, CurrentActor, DbSession, SignedInActor

router = APIRouter(prefix="/api/v1/opendata/harvest", tags=["opendata-harvest"])


@router.get("/sources")
def sources(db: DbSession, actor: CurrentActor) -> list[SourceOut]:
    """Every harvest source with its last job."""
    return harvest_source_list(db, actor=actor)


@router.post("/sources", status_code=201)
def source_create(
    db: DbSession, actor: SignedInActor, payload: Annotated[dict[str, Any], Body()]
) -> SourceOut:
    """A new source (platform administrators)."""
    return harvest_source_create(db, actor=actor, data=source_validate(payload))


@router.get("/sources/{ref}")
def source_show(ref: str, db: DbSession, actor: CurrentActor) -> SourceOut:
    """One source by id or name."""
    return harvest_source_get(db, actor=actor, ref=ref)


@router.patch("/sources/{ref}")
def source_update(
    ref: str, db: DbSession, actor: SignedInActor, payload: Annotated[dict[str, Any], Body()]
) -> SourceOut:
    """Change the fields given (platform administrators)."""
    current = harvest_source_get(db, actor=actor, ref=ref)
    merged = {
        "name": current.name,
        "title": current.title,
        "url": current.url,
        "backend": current.backend,
        "organization": current.organization,
        "organization_map": current.organization_map,
        "schedule": current.schedule,
        "active": current.active,
        **payload,
    }
    return harvest_source_update(db, actor=actor, ref=ref, data=source_validate(merged))


@router.post("/sources/{ref}/run")
def source_run(ref: str, db: DbSession, actor: SignedInActor, settings: AppSettings) -> JobOut:
    """Run a job of the source now and answer it when it is done; 409 when one is already running."""
    return harvest_job_run(
        db, actor=actor, source=ref, trigger="api", timeout=settings.opendata_harvest_timeout_seconds
    )


@router.get("/sources/{ref}/jobs")
def source_jobs(
    ref: str, db: DbSession, actor: CurrentActor, limit: int = Query(50, ge=1, le=500)
) -> list[JobOut]:
    """The newest jobs of a source."""
    return harvest_job_list(db, actor=actor, ref=ref, limit=limit)


@router.get("/jobs/{job_id}")
def job_show(
    job_id: int,
    db: DbSession,
    actor: CurrentActor,
    action: str = Query("", max_length=16),
    offset: int = Query(0, ge=0),
    limit: int = Query(200, ge=1, le=1000),
) -> JobDetail:
    """A job with a page of its log (``action``: created, updated, deleted, failed)."""
    return harvest_job_get(db, actor=actor, job_id=job_id, action=action, offset=offset, limit=limit)


@router.get("/origins/{dataset}")
def origin_show(dataset: str, db: DbSession, actor: CurrentActor) -> Origin:
    """Where a dataset (id or name) was harvested from; 404 for the portal's own datasets."""
    del actor
    origin = dataset_origin(db, dataset_ref=dataset)
    if origin is None:
        raise NotFound(
            "该数据集不是级联采集的",
            message_en="dataset was not harvested",
            code="harvest.no_origin",
            field="dataset",
        )
    return origin
