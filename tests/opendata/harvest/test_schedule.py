"""Locks, schedules, the CLI and the in-process scheduler, on committed databases of each backend."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import make_department
from factories_harvest import FaultServer
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import DepartmentOut
from zhengwu.cli_support import CliState
from zhengwu.db import Database, make_engine, upgrade, utcnow
from zhengwu.errors import Conflict, PermissionDenied, ValidationError
from zhengwu.opendata.cli import opendata_group
from zhengwu.opendata.harvest.models import HarvestJob
from zhengwu.opendata.harvest.runner import harvest_job_run
from zhengwu.opendata.harvest.schedule import HarvestScheduler
from zhengwu.opendata.harvest.schemas import JobOut, schedule_minutes
from zhengwu.opendata.harvest.services import (
    harvest_source_create,
    harvest_sources_due,
    source_by_ref,
    source_validate,
)

SYSTEM = Actor.system("tests")
SEARCH = "/api/3/action/package_search"
EMPTY = json.dumps({"help": "", "success": True, "result": {"count": 0, "results": []}})


def _database(url: str) -> Database:
    database = Database(make_engine(url))
    upgrade(database.engine)
    return database


def _add(db: Session, code: str, url: str, name: str = "prov", schedule: str = "manual") -> None:
    data = {"name": name, "title": "省级门户", "url": url, "backend": "ckan", "organization": code}
    harvest_source_create(db, actor=SYSTEM, data=source_validate({**data, "schedule": schedule}))


def test_a_second_run_of_the_same_source_is_refused(empty_database_url: str, faults: FaultServer) -> None:
    database = _database(empty_database_url)
    with database.session() as db:
        _add(db, make_department(db).code, faults.url)
    faults.route(SEARCH, 200, "application/json", EMPTY, delay=1.5)
    done: list[JobOut] = []

    def first() -> None:
        with database.session() as db:
            done.append(harvest_job_run(db, actor=SYSTEM, source="prov", timeout=10))

    runner = threading.Thread(target=first)
    runner.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with database.session() as db:
            if source_by_ref(db, "prov").lock_token:
                break
        time.sleep(0.05)
    with pytest.raises(Conflict) as refused, database.session() as db:
        harvest_job_run(db, actor=SYSTEM, source="prov", timeout=10)
    assert refused.value.code == "harvest.running" and "正在采集" in refused.value.message
    runner.join(20)
    assert [j.status for j in done] == ["finished"]
    with database.session() as db:
        assert source_by_ref(db, "prov").lock_token is None
        assert len(db.scalars(select(HarvestJob)).all()) == 1  # the refused run left no job behind
        assert harvest_job_run(db, actor=SYSTEM, source="prov", timeout=10).status == "finished"
    database.dispose()


def test_a_stale_lock_expires(db: Session, faults: FaultServer, target: DepartmentOut) -> None:
    faults.route(SEARCH, 200, "application/json", EMPTY)
    _add(db, target.code, faults.url)
    source = source_by_ref(db, "prov")
    source.lock_token, source.locked_at = "someone-else", utcnow()
    db.flush()
    with pytest.raises(Conflict):
        harvest_job_run(db, actor=SYSTEM, source="prov")
    source = source_by_ref(db, "prov")
    source.lock_token, source.locked_at = "crashed-run", utcnow() - dt.timedelta(hours=2)
    db.flush()
    assert harvest_job_run(db, actor=SYSTEM, source="prov").status == "finished"


def test_only_operators_manage_and_run_sources(db: Session, target: DepartmentOut) -> None:
    data = source_validate(
        {
            "name": "x1",
            "title": "X",
            "url": "http://a.example",
            "backend": "ckan",
            "organization": target.code,
        }
    )
    someone = Actor(user_id=1, username="u", roles=frozenset())
    with pytest.raises(PermissionDenied):
        harvest_source_create(db, actor=someone, data=data)
    harvest_source_create(db, actor=SYSTEM, data=data)
    with pytest.raises(PermissionDenied):
        harvest_job_run(db, actor=someone, source="x1")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"backend": "ftp"}, "backend"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"name": "Bad Name"}, "name"),
        ({"schedule": "sometimes"}, "schedule"),
        ({"schedule": "*/1"}, "schedule"),
        ({"organization": "no-such-org"}, "organization"),
        ({"organization_map": {"remote-org": "no-such-org"}}, "organization_map"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_sources_name_the_field(
    db: Session, target: DepartmentOut, change: dict[str, object], field: str
) -> None:
    data = {
        "name": "ok",
        "title": "X",
        "url": "http://a.example",
        "backend": "ckan",
        "organization": target.code,
    }
    with pytest.raises(ValidationError) as bad:
        harvest_source_create(db, actor=SYSTEM, data=source_validate({**data, **change}))
    assert bad.value.field == field, bad.value.details if hasattr(bad.value, "details") else bad.value


def test_schedules() -> None:
    assert [schedule_minutes(s) for s in ("manual", "hourly", "daily", "weekly", "*/30", "45")] == [
        0,
        60,
        1440,
        10080,
        30,
        45,
    ]
    with pytest.raises(ValueError, match="调度"):
        schedule_minutes("0 3 * * *")


def test_due_sources(db: Session, faults: FaultServer, target: DepartmentOut) -> None:
    faults.route(SEARCH, 200, "application/json", EMPTY)
    _add(db, target.code, faults.url, name="hourly-src", schedule="hourly")
    _add(db, target.code, faults.url, name="manual-src")
    assert "hourly-src" in harvest_sources_due(db) and "manual-src" not in harvest_sources_due(db)
    harvest_job_run(db, actor=SYSTEM, source="hourly-src")
    assert "hourly-src" not in harvest_sources_due(db)
    assert "hourly-src" in harvest_sources_due(db, now=utcnow() + dt.timedelta(minutes=61))


def test_cli_add_run_and_due(empty_database_url: str, tmp_path: Path, faults: FaultServer) -> None:
    faults.route(SEARCH, 200, "application/json", EMPTY)
    database = _database(empty_database_url)
    with database.session() as db:
        code = make_department(db).code
    state = CliState(overrides={"database_url": empty_database_url, "data_dir": tmp_path})
    cli = CliRunner()
    added = cli.invoke(
        opendata_group,
        [
            *("harvest", "add", "--name", "city", "--title", "市门户", "--url", faults.url),
            *("--backend", "ckan", "--organization", code, "--schedule", "daily"),
        ],
        obj=state,
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["interval_minutes"] == 1440
    due = cli.invoke(opendata_group, ["harvest", "run", "--due"], obj=state)
    assert due.exit_code == 0, due.output
    assert [json.loads(line)["status"] for line in due.output.splitlines()] == ["finished"]
    again = cli.invoke(opendata_group, ["harvest", "run", "--due"], obj=state)
    assert again.exit_code == 0 and again.output == ""  # ran a moment ago: not due
    named = cli.invoke(opendata_group, ["harvest", "run", "--source", "city"], obj=state)
    assert json.loads(named.output)["trigger"] == "cli"
    listed = cli.invoke(opendata_group, ["harvest", "sources"], obj=state)
    assert json.loads(listed.output)["last_job"]["id"] == json.loads(named.output)["id"]
    neither = cli.invoke(opendata_group, ["harvest", "run"], obj=state)
    assert neither.exit_code != 0 and "--source" in neither.output
    database.dispose()


def test_in_process_scheduler_runs_due_sources(empty_database_url: str, faults: FaultServer) -> None:
    faults.route(SEARCH, 200, "application/json", EMPTY)
    database = _database(empty_database_url)
    with database.session() as db:
        _add(db, make_department(db).code, faults.url, schedule="*/5")
    scheduler = HarvestScheduler(database, tick_seconds=0.2, timeout=5).start()
    try:
        deadline = time.monotonic() + 20
        jobs: list[HarvestJob] = []
        while time.monotonic() < deadline and not (jobs and jobs[0].finished_at):
            time.sleep(0.2)
            with database.session() as db:
                jobs = list(db.scalars(select(HarvestJob)))
    finally:
        scheduler.stop()
    assert [(j.trigger, j.status) for j in jobs] == [("schedule", "finished")]
    database.dispose()
