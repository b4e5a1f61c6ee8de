"""Pages of harvesting (级联采集): sources with their last job, a source with its jobs, a job's log.

Public to read; platform administrators see the forms to add, edit and run a source. A run started
from a page runs in the request and then shows its job.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.services import department_list
from zhengwu.errors import ZhengwuError
from zhengwu.opendata.harvest.backends import BACKENDS
from zhengwu.opendata.harvest.charts import jobs_chart
from zhengwu.opendata.harvest.models import ITEM_ACTION_LABELS_ZH, ItemAction
from zhengwu.opendata.harvest.runner import harvest_job_run
from zhengwu.opendata.harvest.schemas import SCHEDULE_LABELS_ZH
from zhengwu.opendata.harvest.services import (
    LOG_PAGE,
    harvest_job_get,
    harvest_job_list,
    harvest_source_create,
    harvest_source_get,
    harvest_source_list,
    harvest_source_update,
    harvested_datasets,
    source_validate,
)
from zhengwu.web.deps import AppSettings, CurrentActor, DbSession, SignedInActor, check_csrf
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)
NAV = [NavItem("级联采集", "/opendata/harvest", order=16, roles=frozenset({Role.PLATFORM_ADMIN}))]
Text = Annotated[str, Form()]


def _form_context(db: DbSession, actor: Actor) -> dict[str, Any]:
    return {
        "backends": {name: cls.title_zh for name, cls in sorted(BACKENDS.items())},
        "schedules": SCHEDULE_LABELS_ZH,
        "departments": department_list(db, actor=actor) if actor.has(Role.PLATFORM_ADMIN) else [],
        "may_manage": actor.has(Role.PLATFORM_ADMIN),
    }


def _payload(
    name: str, title: str, url: str, backend: str, organization: str, mapping: str, schedule: str, active: str
) -> dict[str, Any]:
    # One "远端名称=本地机构" per line: easier to type in a form than JSON.
    pairs: dict[str, str] = {}
    for line in mapping.splitlines():
        if line.strip():
            remote, _, local = line.partition("=")
            pairs[remote.strip()] = local.strip()
    return {
        "name": name,
        "title": title,
        "url": url,
        "backend": backend,
        "organization": organization,
        "organization_map": pairs,
        "schedule": schedule,
        "active": active == "on",
    }


@router.get("/opendata/harvest", response_class=HTMLResponse)
def sources_page(request: Request, db: DbSession, actor: CurrentActor) -> HTMLResponse:
    """级联采集: the sources with the status of their last job; the form to add one for operators."""
    return _sources_page(request, db, actor)


def _sources_page(
    request: Request,
    db: DbSession,
    actor: Actor,
    error: str | None = None,
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "opendata/harvest/sources.html",
        {
            "title": "级联采集",
            "sources": harvest_source_list(db, actor=actor),
            "error": error,
            "form": form or {"schedule": "daily", "active": True, "backend": "ckan"},
            **_form_context(db, actor),
        },
        status_code=400 if error else 200,
    )


@router.post("/opendata/harvest/sources")
def source_create_post(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    name: Text = "",
    title: Text = "",
    url: Text = "",
    backend: Text = "",
    organization: Text = "",
    organization_map: Text = "",
    schedule: Text = "manual",
    active: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_csrf(request, csrf_token)
    payload = _payload(name, title, url, backend, organization, organization_map, schedule, active)
    try:
        with db.begin_nested():
            made = harvest_source_create(db, actor=actor, data=source_validate(payload))
    except ZhengwuError as exc:
        if exc.code.startswith(("harvest.", "opendata.")):
            form = {**payload, "organization_map": organization_map}
            return _sources_page(request, db, actor, error=_message(exc), form=form)
        raise
    return RedirectResponse(f"/opendata/harvest/sources/{made.name}", status_code=303)


def _message(exc: ZhengwuError) -> str:
    return f"{exc.message}（{exc.field}）" if exc.field else exc.message


@router.get("/opendata/harvest/sources/{ref}", response_class=HTMLResponse)
def source_page(request: Request, ref: str, db: DbSession, actor: CurrentActor) -> HTMLResponse:
    """One source: settings, job history with a chart, its datasets; edit and run for operators."""
    return _source_page(request, db, actor, ref)


def _source_page(
    request: Request, db: DbSession, actor: Actor, ref: str, error: str | None = None
) -> HTMLResponse:
    source = harvest_source_get(db, actor=actor, ref=ref)
    jobs = harvest_job_list(db, actor=actor, ref=source.id, limit=30)
    return render(
        request,
        "opendata/harvest/source.html",
        {
            "title": source.title,
            "source": source,
            "jobs": jobs,
            "chart": jobs_chart(jobs),
            "datasets": harvested_datasets(db, ref=source.id),
            "mapping_text": "\n".join(f"{k}={v}" for k, v in source.organization_map.items()),
            "error": error,
            **_form_context(db, actor),
        },
        status_code=400 if error else 200,
    )


@router.post("/opendata/harvest/sources/{ref}/edit")
def source_edit_post(
    request: Request,
    ref: str,
    db: DbSession,
    actor: SignedInActor,
    name: Text = "",
    title: Text = "",
    url: Text = "",
    backend: Text = "",
    organization: Text = "",
    organization_map: Text = "",
    schedule: Text = "manual",
    active: Text = "",
    csrf_token: Text = "",
) -> Response:
    check_csrf(request, csrf_token)
    payload = _payload(name, title, url, backend, organization, organization_map, schedule, active)
    try:
        with db.begin_nested():
            changed = harvest_source_update(db, actor=actor, ref=ref, data=source_validate(payload))
    except ZhengwuError as exc:
        if exc.code.startswith(("harvest.", "opendata.")) and exc.code != "harvest.not_found":
            return _source_page(request, db, actor, ref, error=_message(exc))
        raise
    return RedirectResponse(f"/opendata/harvest/sources/{changed.name}", status_code=303)


@router.post("/opendata/harvest/sources/{ref}/run")
def source_run_post(
    request: Request,
    ref: str,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    csrf_token: Text = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        job = harvest_job_run(
            db, actor=actor, source=ref, trigger="manual", timeout=settings.opendata_harvest_timeout_seconds
        )
    except ZhengwuError as exc:
        if exc.code == "harvest.running":
            return _source_page(request, db, actor, ref, error=exc.message)
        raise
    return RedirectResponse(f"/opendata/harvest/jobs/{job.id}", status_code=303)


@router.get("/opendata/harvest/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    request: Request,
    job_id: int,
    db: DbSession,
    actor: CurrentActor,
    action: str = Query("", max_length=16),
    page: int = Query(1, ge=1, le=10_000),
) -> HTMLResponse:
    """One job: its counts and the log of every item that was not skipped."""
    action = action if action in {a.value for a in ItemAction} else ""
    detail = harvest_job_get(db, actor=actor, job_id=job_id, action=action, offset=(page - 1) * LOG_PAGE)
    return render(
        request,
        "opendata/harvest/job.html",
        {
            "title": f"采集任务 {detail.job.id}",
            "detail": detail,
            "action": action,
            "actions": {
                str(a): ITEM_ACTION_LABELS_ZH[a]
                for a in (ItemAction.CREATED, ItemAction.UPDATED, ItemAction.DELETED, ItemAction.FAILED)
            },
            "page": page,
            "pages": max(1, -(-detail.items_total // LOG_PAGE)),
        },
    )
