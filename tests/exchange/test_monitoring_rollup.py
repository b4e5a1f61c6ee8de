"""The per-minute monitoring summary: the roll-up and queries over it equal the raw computation."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from factories import SYSTEM, actor_of, make_department, make_user
from zhengwu.accounts.models import Role
from zhengwu.cli import cli
from zhengwu.db import Database, upgrade
from zhengwu.errors import PermissionDenied, ValidationError
from zhengwu.exchange.messagelog import LogEntry, write_batch
from zhengwu.exchange.monitoring import services as monitoring_services
from zhengwu.exchange.monitoring.models import LATENCY_BOUNDS_MS, MonitoringMinute
from zhengwu.exchange.monitoring.rollup import Agg, Call, bucket_of, monitoring_rollup, rollup_step
from zhengwu.exchange.monitoring.schemas import CallStats
from zhengwu.exchange.monitoring.services import (
    department_traffic,
    error_report,
    monitoring_overview,
    monitoring_window,
    service_operational_data,
)

START = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
INSTANCE = "CN-DEV"
CALLS = 2400
EXACT = 10**9


def _traffic(db: Session, *, calls: int = CALLS, seed: int = 7) -> tuple[list[str], list[str], str]:
    """``calls`` logged calls over three hours at random seconds: three services, four clients,
    durations from 0.2 ms to 40 s, successes, Client./Server. refusals and upstream 4xx/5xx."""
    rng = random.Random(seed)
    a, b = make_department(db), make_department(db)
    services = [f"{INSTANCE}/GOV/{a.uscc}/SYS/svc{i}" for i in range(3)]
    clients = [f"{INSTANCE}/GOV/{b.uscc}/C{i}" for i in range(3)] + [f"{INSTANCE}/GOV/{a.uscc}/SELF"]
    outcomes: list[tuple[int, str | None]] = [(200, None)] * 12 + [
        (403, "Client.AccessDenied"),
        (429, "Client.QuotaExceeded"),
        (500, "Server.ServerProxy.ServiceTimeout"),
        (404, None),
        (502, None),
    ]
    written = 0
    while written < calls:
        at = START + dt.timedelta(seconds=rng.uniform(0, 3 * 3600))
        batch = []
        for _ in range(min(5, calls - written)):
            written += 1
            duration = rng.choice([rng.uniform(0.2, 30), rng.uniform(30, 400), rng.lognormvariate(3, 2)])
            duration = min(duration, 40_000.0)
            status, error = rng.choice(outcomes)
            service = None if error == "Client.AccessDenied" and rng.random() < 0.2 else rng.choice(services)
            batch.append(
                LogEntry(
                    xroad_id=f"r-{seed}-{written}",
                    request_id=f"q-{written}",
                    client_id=rng.choice(clients),
                    service_id=service,
                    started_at=at - dt.timedelta(milliseconds=duration),
                    finished_at=at,
                    http_status=status,
                    error_type=error,
                    request_body=b"x" * rng.randint(0, 50),
                    response_body=b"y" * rng.randint(0, 500),
                )
            )
        write_batch(db, batch, now=at)
    return services, clients, str(a.id)


def _same_bucket(estimate: float | None, exact: float | None) -> bool:
    if estimate is None or exact is None:
        return estimate is exact
    return bucket_of(estimate) == bucket_of(exact)


def assert_close(summary: CallStats, raw: CallStats) -> None:
    """Counts exact; percentiles in the exact value's bucket; max exact, mean to rounding."""
    for name in ("calls", "errors", "client_errors", "server_errors", "request_bytes", "response_bytes"):
        assert getattr(summary, name) == getattr(raw, name), name
    assert summary.error_rate == pytest.approx(raw.error_rate)
    s, r = summary.latency_ms, raw.latency_ms
    for p in ("p50", "p90", "p95", "p99"):
        assert _same_bucket(getattr(s, p), getattr(r, p)), (p, getattr(s, p), getattr(r, p))
    assert s.max == pytest.approx(r.max)
    assert s.mean == pytest.approx(r.mean, abs=0.002)


def _compare_everything(db: Session, window_start: dt.datetime, window_end: dt.datetime) -> int:
    window = monitoring_window(window_start, window_end)
    fast = monitoring_overview(db, actor=SYSTEM, instance=INSTANCE, window=window, exact_calls=0)
    raw = monitoring_overview(db, actor=SYSTEM, instance=INSTANCE, window=window, exact_calls=EXACT)
    # exact_calls=0 really took the summary: its percentiles are estimates, not the raw values.
    assert fast.totals.latency_ms != raw.totals.latency_ms
    assert_close(fast.totals, raw.totals)
    assert [s.service_id for s in fast.services] == [s.service_id for s in raw.services]
    for f, r in zip(fast.services, raw.services, strict=True):
        assert_close(f.stats, r.stats)
    assert [(p.start, p.calls, p.errors) for p in fast.series] == [
        (p.start, p.calls, p.errors) for p in raw.series
    ]
    for f_point, r_point in zip(fast.series, raw.series, strict=True):
        assert _same_bucket(f_point.p95_ms, r_point.p95_ms)
    errors_fast = error_report(db, actor=SYSTEM, instance=INSTANCE, window=window, exact_calls=0)
    errors_raw = error_report(db, actor=SYSTEM, instance=INSTANCE, window=window, exact_calls=EXACT)
    assert errors_fast.by_type == errors_raw.by_type and errors_fast.by_type
    return raw.totals.calls


def test_summary_equals_the_raw_computation(db: Session) -> None:
    services, _, dept_id = _traffic(db)
    done = monitoring_rollup(db, actor=SYSTEM)
    assert done.records == CALLS and done.remaining == 0
    assert db.scalar(select(func.sum(MonitoringMinute.calls))) == CALLS
    # The whole fixture, then a window that starts and ends inside minutes.
    assert _compare_everything(db, START, START + dt.timedelta(hours=3)) == CALLS
    partial = _compare_everything(
        db, START + dt.timedelta(minutes=13, seconds=17.5), START + dt.timedelta(hours=2, seconds=41)
    )
    assert 0 < partial < CALLS
    window = monitoring_window(START, START + dt.timedelta(hours=3))
    for service in services:
        fast = service_operational_data(
            db, actor=SYSTEM, instance=INSTANCE, service_id=service, window=window, exact_calls=0
        )
        raw = service_operational_data(
            db, actor=SYSTEM, instance=INSTANCE, service_id=service, window=window, exact_calls=EXACT
        )
        assert_close(fast.service.stats, raw.service.stats)
        assert [(c.client_id, c.stats.calls, c.stats.errors) for c in fast.by_client] == [
            (c.client_id, c.stats.calls, c.stats.errors) for c in raw.by_client
        ]
    fast_d = department_traffic(
        db, actor=SYSTEM, instance=INSTANCE, department_id=int(dept_id), window=window, exact_calls=0
    )
    raw_d = department_traffic(
        db, actor=SYSTEM, instance=INSTANCE, department_id=int(dept_id), window=window, exact_calls=EXACT
    )
    assert_close(fast_d.incoming, raw_d.incoming)
    assert_close(fast_d.outgoing, raw_d.outgoing)
    assert raw_d.outgoing.calls > 0  # the SELF client of the provider


def test_queries_are_exact_while_the_roll_up_lags(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    _traffic(db, calls=900, seed=11)
    monkeypatch.setattr(monitoring_services, "LAZY_BATCH", 100)
    # Only part rolled up: the rest is read raw (leaves after the watermark), nothing counted twice.
    first = rollup_step(db, limit=400)
    assert first is not None and first.records == 400 and first.remaining == 500
    window = monitoring_window(START, START + dt.timedelta(hours=3))
    fast = monitoring_overview(db, actor=SYSTEM, instance=INSTANCE, window=window, exact_calls=0)
    # The query rolled up 100 more (bounded lazy work) and read the other 400 raw: still exact.
    assert fast.totals.calls == 900
    lagging = rollup_step(db, limit=1)
    assert lagging is not None and lagging.remaining == 399
    raw = monitoring_overview(db, actor=SYSTEM, instance=INSTANCE, window=window, exact_calls=EXACT)
    assert_close(fast.totals, raw.totals)
    for f, r in zip(fast.services, raw.services, strict=True):
        assert_close(f.stats, r.stats)
    rest = rollup_step(db, limit=1000)
    assert rest is not None and rest.remaining == 0
    again = rollup_step(db, limit=1000)
    assert again is not None and again.records == 0 and again.remaining == 0  # idempotent
    assert db.scalar(select(func.sum(MonitoringMinute.calls))) == 900


def test_histogram_estimates_stay_in_the_bucket() -> None:
    agg = Agg()
    values = [0.0, 0.5, 1.0, 1.5, 7.5, 7.6, 99.0, 100.0, 29_999.0, 31_000.0, 45_000.0]
    for i, value in enumerate(values):
        agg.add_call(Call(i, "c", "s", 200, None, START, value, 0, 0))
    assert agg.calls == len(values) and sum(agg.hist) == len(values)
    ordered = sorted(values)
    for p in (1, 10, 50, 90, 99, 100):
        rank = max(1, -(-p * len(values) // 100))
        exact = ordered[rank - 1]
        estimate = agg.percentile(p)
        assert estimate is not None and bucket_of(estimate) == bucket_of(exact), (p, estimate, exact)
    assert agg.percentile(100) == 45_000.0
    assert bucket_of(LATENCY_BOUNDS_MS[0]) == 0 and bucket_of(LATENCY_BOUNDS_MS[-1] + 1) == len(
        LATENCY_BOUNDS_MS
    )
    assert Agg().percentile(50) is None


def test_who_may_roll_up(db: Session) -> None:
    dept = make_department(db)
    admin = actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id))
    with pytest.raises(PermissionDenied):
        monitoring_rollup(db, actor=admin)
    with pytest.raises(ValidationError) as err:
        monitoring_rollup(db, actor=SYSTEM, limit=0)
    assert err.value.field == "limit"


def test_concurrent_roll_ups_count_each_record_once(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    try:
        with database.session() as db:
            _traffic(db, calls=1500, seed=3)
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                while True:
                    try:
                        with database.session() as db:
                            done = rollup_step(db, limit=100, wait=True)
                    except OperationalError:  # SQLite: "database is locked" while another writes
                        continue
                    assert done is not None
                    if done.remaining == 0 and done.records == 0:
                        return
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        with database.session() as db:
            assert db.scalar(select(func.sum(MonitoringMinute.calls))) == 1500
            if db.get_bind().dialect.name == "postgresql":
                _lazy_skips_a_held_lock(database, db)
    finally:
        database.dispose()


def _lazy_skips_a_held_lock(database: Database, db: Session) -> None:
    """PostgreSQL: while one roll-up holds the watermark, the lazy one skips instead of waiting."""
    held = rollup_step(db, limit=10, wait=True)  # db holds FOR UPDATE until its transaction ends
    assert held is not None
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(_try_lazy(database)))
    thread.start()
    thread.join(30)
    assert outcome == [None]


def _try_lazy(database: Database) -> object:
    with database.session() as other:
        return rollup_step(other, limit=10, wait=False)


def test_rollup_command(empty_database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZHENGWU_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("ZHENGWU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ZHENGWU_MODE", "test")
    monkeypatch.setenv("ZHENGWU_SECRET_KEY", "cli-test-secret-0123456789abcdef0123")
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    with database.session() as db:
        _traffic(db, calls=250, seed=5)
    runner = CliRunner()
    first = runner.invoke(cli, ["exchange", "monitoring-rollup", "--batch", "100", "--max-batches", "2"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"records": 200, "batches": 2, "rolled_up_to": 199, "remaining": 50}
    rest = runner.invoke(cli, ["exchange", "monitoring-rollup"])
    assert rest.exit_code == 0 and json.loads(rest.stdout)["remaining"] == 0
    bad = runner.invoke(cli, ["exchange", "monitoring-rollup", "--max-batches", "0"])
    assert bad.exit_code != 0 and "--max-batches" in bad.output
    with database.session() as db:
        assert db.scalar(select(func.sum(MonitoringMinute.calls))) == 250
    database.dispose()
