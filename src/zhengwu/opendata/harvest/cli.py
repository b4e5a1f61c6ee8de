"""``zhengwu opendata harvest``: add and list sources, run jobs (by name, or every due one for cron)."""

from __future__ import annotations

import json

import click

from zhengwu.accounts.permissions import Actor
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state
from zhengwu.errors import ValidationError
from zhengwu.opendata.harvest.runner import harvest_job_run
from zhengwu.opendata.harvest.schedule import harvest_run_due
from zhengwu.opendata.harvest.services import (
    harvest_source_create,
    harvest_source_list,
    source_validate,
)

ACTOR_NAME = "cli"


@click.group("harvest")
def harvest_group() -> None:
    """级联采集 (harvest other portals)."""


@harvest_group.command("add")
@click.option("--name", required=True, help="Short name: a-z 0-9 - _.")
@click.option("--title", required=True, help="Title shown on the pages.")
@click.option("--url", required=True, help="CKAN base URL, or the DCAT endpoint (e.g. .../catalog.ttl).")
@click.option("--backend", required=True, help="ckan or dcat.")
@click.option("--organization", required=True, help="Local publisher (department code or CKAN name).")
@click.option("--organization-map", default="{}", help="JSON: remote publisher name → local code.")
@click.option("--schedule", default="manual", show_default=True, help="manual, hourly, daily, weekly or */N.")
@pass_state
@handle_errors
def add_command(
    state: CliState,
    name: str,
    title: str,
    url: str,
    backend: str,
    organization: str,
    organization_map: str,
    schedule: str,
) -> None:
    """Add a harvest source."""
    try:
        mapping = json.loads(organization_map)
    except json.JSONDecodeError:
        raise ValidationError(
            "机构映射须为 JSON 对象",
            message_en="organization map must be a JSON object",
            field="organization_map",
        ) from None
    data = source_validate(
        {
            "name": name,
            "title": title,
            "url": url,
            "backend": backend,
            "organization": organization,
            "organization_map": mapping,
            "schedule": schedule,
        }
    )
    with state.database(migrate=True).session() as db:
        echo_json(
            harvest_source_create(db, actor=Actor.system(ACTOR_NAME), data=data).model_dump(mode="json")
        )


@harvest_group.command("sources")
@pass_state
@handle_errors
def sources_command(state: CliState) -> None:
    """List the sources with their last job, one JSON object a line."""
    with state.database(migrate=True).session() as db:
        for source in harvest_source_list(db, actor=Actor.system(ACTOR_NAME)):
            echo_json(source.model_dump(mode="json"))


@harvest_group.command("run")
@click.option("--source", "sources", multiple=True, help="Source name or id (repeatable).")
@click.option("--due", is_flag=True, help="Run every active source whose schedule is due (for cron/timers).")
@pass_state
@handle_errors
def run_command(state: CliState, sources: tuple[str, ...], due: bool) -> None:
    """Run harvest jobs now; prints each finished job as a JSON line."""
    if not sources and not due:
        raise ValidationError("请指定 --source 或 --due", message_en="give --source or --due", field="source")
    database = state.database(migrate=True)
    timeout = state.settings().opendata_harvest_timeout_seconds
    actor = Actor.system(ACTOR_NAME)
    for ref in sources:
        with database.session() as db:
            echo_json(
                harvest_job_run(db, actor=actor, source=ref, trigger="cli", timeout=timeout).model_dump(
                    mode="json"
                )
            )
    if due:
        for run in harvest_run_due(database, actor=actor, timeout=timeout):
            if run.job is not None:
                echo_json(run.job.model_dump(mode="json"))
            else:
                echo_json({"source": run.source, "skipped": run.skipped_reason})
