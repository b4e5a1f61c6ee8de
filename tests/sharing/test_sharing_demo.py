"""The demo seed of the sharing workflow, the statistics over it, and the daily sweep commands."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import SYSTEM, make_department
from sharing.sharing_helpers import MONDAY_MORNING, World, make_resource, request_in
from zhengwu.catalog.seed import catalog_demo_seed
from zhengwu.db import Database, upgrade
from zhengwu.demo.services import demo_organisation_seed
from zhengwu.sharing.cli import sharing_group
from zhengwu.sharing.demo import sharing_demo_seed
from zhengwu.sharing.models import (
    CorrectionRequest,
    CorrectionStatus,
    Grant,
    GrantStatus,
    RequestStatus,
    ShareRequest,
    SharingEvent,
)
from zhengwu.sharing.services import share_request_approve, share_request_create, share_request_refuse
from zhengwu.sharing.stats import bars, sharing_stats

TODAY = dt.date(2026, 11, 20)


def test_demo_seed_makes_every_state(db: Session) -> None:
    demo_organisation_seed(db, province_code="330000")
    assert catalog_demo_seed(db) > 0
    counts = sharing_demo_seed(db, today=TODAY)
    requests = list(db.scalars(select(ShareRequest)))
    assert counts["requests"] == len(requests) >= 12
    assert {r.status for r in requests} == set(RequestStatus)
    assert any(r.auto_granted for r in requests)
    assert any(r.narrowed for r in requests)
    assert any(r.escalated_at is not None and r.status == RequestStatus.PENDING for r in requests)
    assert any(r.answered_on is not None and r.answered_on > r.due_on for r in requests)  # a late answer
    assert all(r.consumer_id != r.provider_id for r in requests)
    refused = [r for r in requests if r.status == RequestStatus.REFUSED]
    assert refused and all(r.answer_reason for r in refused)
    grants = list(db.scalars(select(Grant)))
    assert {g.status for g in grants} == set(GrantStatus)
    assert {c.status for c in db.scalars(select(CorrectionRequest))} == set(CorrectionStatus)
    assert db.scalar(select(SharingEvent.id).where(SharingEvent.action == "request.escalate")) is not None
    # Idempotent.
    again = sharing_demo_seed(db, today=TODAY)
    assert again["requests"] == 0 and len(list(db.scalars(select(ShareRequest)))) == len(requests)


def test_demo_seed_without_published_resources_creates_nothing(db: Session) -> None:
    make_department(db)
    make_department(db)
    counts = sharing_demo_seed(db, today=TODAY)
    assert set(counts.values()) == {0}
    assert db.scalar(select(ShareRequest.id)) is None


def test_statistics_follow_the_definitions(db: Session, world: World) -> None:
    consumer, provider = world.actor(db, world.c_admin), world.actor(db, world.p_admin)
    d = dt.date

    def submit(system: str) -> int:
        data = request_in(world.conditional, consumer_system=system)
        return share_request_create(db, actor=consumer, data=data, now=MONDAY_MORNING).id

    # Due 2026-06-15. One answered after 3 working days, one after 12 (late), one pending and overdue.
    share_request_approve(
        db, actor=provider, request_id=submit("A"), now=dt.datetime(2026, 6, 4, 2, tzinfo=dt.UTC)
    )
    late = submit("B")
    share_request_refuse(
        db, actor=provider, request_id=late, reason="迟复", now=dt.datetime(2026, 6, 17, 2, tzinfo=dt.UTC)
    )
    submit("C")
    share_request_create(db, actor=consumer, data=request_in(world.unconditional), now=MONDAY_MORNING)

    stats = sharing_stats(db, actor=consumer, today=d(2026, 6, 20))
    p = next(x for x in stats.departments if x.department_id == world.provider.id)
    assert (p.requests_received, p.auto_granted, p.reviewed_received) == (4, 1, 3)
    assert (p.answered, p.answered_on_time, p.answered_late) == (2, 1, 1)
    assert (p.pending, p.overdue) == (1, 1)
    assert p.avg_working_days == (3 + 12) / 2
    assert p.active_grants_given == 2
    c = next(x for x in stats.departments if x.department_id == world.consumer.id)
    assert c.requests_made == 4 and c.requests_received == 0
    assert stats.totals.requests_received >= 4
    # Before the deadline nothing is overdue yet.
    early = sharing_stats(db, actor=consumer, today=d(2026, 6, 15))
    assert next(x for x in early.departments if x.department_id == world.provider.id).overdue == 0


def test_bars_scale_to_the_largest() -> None:
    out = bars([("甲", 50), ("乙", 25), ("丙", 0), ("丁", 1)])
    assert [b.share for b in out] == [100, 50, 0, 2]
    assert [b.share for b in bars([("甲", 0)])] == [0]
    assert bars([]) == []


@pytest.fixture
def cli_env(empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("ZHENGWU_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("ZHENGWU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ZHENGWU_MODE", "test")
    monkeypatch.setenv("ZHENGWU_SECRET_KEY", "cli-test-secret-0123456789abcdef0123")
    return empty_database_url


def test_cli_escalate_and_expire(cli_env: str) -> None:
    database = Database.from_url(cli_env)
    upgrade(database.engine)
    with database.session() as db:
        provider, consumer = make_department(db), make_department(db)
        resource = make_resource(db, provider_id=provider.id)
        out = share_request_create(
            db,
            actor=SYSTEM,
            data=request_in(resource, consumer_department_id=consumer.id, valid_until=dt.date(2026, 6, 30)),
            now=MONDAY_MORNING,
        )
    database.dispose()
    runner = CliRunner()
    result = runner.invoke(sharing_group, ["escalate", "--today", "2026-06-16"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["today"] == "2026-06-16" and summary["calendar_exact"] is True
    assert summary["requests_escalated"] == 1 and summary["request_ids"] == [out.id]
    again = runner.invoke(sharing_group, ["escalate", "--today", "2026-06-17"], catch_exceptions=False)
    assert json.loads(again.output)["requests_escalated"] == 0
    expired = runner.invoke(sharing_group, ["expire", "--today", "2026-07-01"], catch_exceptions=False)
    assert expired.exit_code == 0 and json.loads(expired.output)["grants_expired"] == 0  # still pending
    bad = runner.invoke(sharing_group, ["escalate", "--today", "16/06/2026"])
    assert bad.exit_code == 2 and "today" in bad.output.lower()
