"""Monitoring figures computed from message-log records we insert, and who may see which calls."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from factories import SYSTEM, actor_of, make_user
from factories_monitoring import INSTANCE, Traffic, make_traffic
from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor
from zhengwu.errors import NotAuthenticated, PermissionDenied, ValidationError
from zhengwu.exchange.monitoring.services import (
    department_traffic,
    error_report,
    monitoring_overview,
    monitoring_window,
    percentile,
    service_operational_data,
)

START = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
WINDOW = monitoring_window(START, START + dt.timedelta(hours=1))


@pytest.fixture
def traffic(db: Session) -> Traffic:
    return make_traffic(db, START)


def _admin_of(db: Session, department_id: int) -> Actor:
    return actor_of(db, make_user(db, roles=[Role.DATA_ADMIN], department_id=department_id))


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, p) for p in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0


def test_overview_for_the_platform(db: Session, traffic: Traffic) -> None:
    overview = monitoring_overview(db, actor=SYSTEM, instance=INSTANCE, window=WINDOW)
    assert overview.scope == "all"
    # 12 persons + 4 slow + 3 own + 1 malformed; the call before the window is left out.
    assert overview.totals.calls == 20
    assert (overview.totals.errors, overview.totals.client_errors, overview.totals.server_errors) == (4, 3, 1)
    assert overview.totals.request_bytes == 40 and overview.totals.response_bytes == 20 * 11
    by_id = {s.service_id: s for s in overview.services}
    persons = by_id[traffic.persons]
    assert persons.name == "户籍人口" and persons.provider == "甲部门（提供方）"
    # Durations 1,1,1,2,...,10 ms: nearest-rank P50 is the 6th (4 ms), P95 the 12th (10 ms).
    assert persons.stats.calls == 12 and persons.stats.errors == 2
    assert persons.stats.latency_ms.p50 == pytest.approx(4.0)
    assert persons.stats.latency_ms.p95 == pytest.approx(10.0)
    assert persons.stats.error_rate == pytest.approx(2 / 12, abs=1e-6)
    slow = by_id[traffic.slow].stats
    assert (slow.calls, slow.errors, slow.server_errors) == (4, 1, 1)
    assert slow.latency_ms.p50 == pytest.approx(200.0) and slow.latency_ms.max == pytest.approx(400.0)
    assert slow.latency_ms.mean == pytest.approx(250.0)
    assert by_id["（未识别的服务）"].stats.client_errors == 1
    # Largest first by default; slowest by P95; most errors.
    assert overview.services[0].service_id == traffic.persons
    slowest = monitoring_overview(db, actor=SYSTEM, instance=INSTANCE, window=WINDOW, sort="slowest")
    assert slowest.services[0].service_id == traffic.slow
    errors = monitoring_overview(db, actor=SYSTEM, instance=INSTANCE, window=WINDOW, sort="errors")
    assert errors.services[0].service_id == traffic.persons
    # One-minute buckets over the hour, adding up to the total.
    assert WINDOW.bucket_seconds == 60 and len(overview.series) == 60
    assert sum(p.calls for p in overview.series) == 20
    assert overview.series[1].calls == 1 and overview.series[1].p95_ms == pytest.approx(1.0)
    assert sum(p.errors for p in overview.series) == 4


def test_department_admins_see_only_calls_of_their_department(db: Session, traffic: Traffic) -> None:
    as_a = monitoring_overview(db, actor=_admin_of(db, traffic.a.id), instance=INSTANCE, window=WINDOW)
    assert as_a.scope == f"{INSTANCE}/GOV/{traffic.a.uscc}"
    assert {s.service_id for s in as_a.services} == {traffic.persons, traffic.slow}
    assert as_a.totals.calls == 16
    as_b = monitoring_overview(db, actor=_admin_of(db, traffic.b.id), instance=INSTANCE, window=WINDOW)
    assert as_b.totals.calls == 13  # 12 to persons and the malformed one
    as_c = monitoring_overview(db, actor=_admin_of(db, traffic.c.id), instance=INSTANCE, window=WINDOW)
    assert {s.service_id for s in as_c.services} == {traffic.slow, traffic.own}
    # C asking about persons sees none of B's calls to it.
    data = service_operational_data(
        db, actor=_admin_of(db, traffic.c.id), instance=INSTANCE, service_id=traffic.persons, window=WINDOW
    )
    assert data.service.stats.calls == 0 and data.by_client == []


def test_who_may_monitor(db: Session, traffic: Traffic) -> None:
    auditor = actor_of(db, make_user(db, roles=[Role.AUDITOR]))
    assert monitoring_overview(db, actor=auditor, instance=INSTANCE, window=WINDOW).totals.calls == 20
    developer = actor_of(db, make_user(db, roles=[Role.DEVELOPER], department_id=traffic.a.id))
    with pytest.raises(PermissionDenied):
        monitoring_overview(db, actor=developer, instance=INSTANCE, window=WINDOW)
    with pytest.raises(NotAuthenticated):
        error_report(db, actor=Actor.anonymous(), instance=INSTANCE, window=WINDOW)
    with pytest.raises(PermissionDenied):
        department_traffic(
            db,
            actor=_admin_of(db, traffic.b.id),
            instance=INSTANCE,
            department_id=traffic.a.id,
            window=WINDOW,
        )


def test_operational_data_of_a_service_by_client(db: Session, traffic: Traffic) -> None:
    data = service_operational_data(
        db, actor=SYSTEM, instance=INSTANCE, service_id=traffic.slow, window=WINDOW
    )
    assert data.service.stats.calls == 4
    (client,) = data.by_client
    assert client.client_id == traffic.c_client and client.consumer == "丙部门"
    assert client.stats.latency_ms.p99 == pytest.approx(400.0)
    with pytest.raises(ValidationError):
        service_operational_data(db, actor=SYSTEM, instance=INSTANCE, service_id="", window=WINDOW)


def test_department_calls_in_and_out(db: Session, traffic: Traffic) -> None:
    a = department_traffic(
        db, actor=_admin_of(db, traffic.a.id), instance=INSTANCE, department_id=traffic.a.id, window=WINDOW
    )
    assert (a.incoming.calls, a.outgoing.calls) == (16, 0)
    assert {c.client_id for c in a.incoming_by_client} == {traffic.b_client, traffic.c_client}
    c = department_traffic(db, actor=SYSTEM, instance=INSTANCE, department_id=traffic.c.id, window=WINDOW)
    # C calls A/slow (4) and its own service (3); its own service is also an incoming call.
    assert (c.incoming.calls, c.outgoing.calls) == (3, 7)
    assert [s.service_id for s in c.outgoing_by_service] == [traffic.slow, traffic.own]
    assert sum(p.calls for p in c.series_out) == 7


def test_error_report(db: Session, traffic: Traffic) -> None:
    report = error_report(db, actor=SYSTEM, instance=INSTANCE, window=WINDOW)
    assert report.by_type == {
        "Client.AccessDenied": 2,
        "Server.ServerProxy.ServiceFailed": 1,
        "Client.BadRequest": 1,
    }
    assert [e.error_type for e in report.recent] == [
        "Client.BadRequest",
        "Server.ServerProxy.ServiceFailed",
        "Client.AccessDenied",
        "Client.AccessDenied",
    ]
    assert report.recent[1].duration_ms == pytest.approx(300.0)
    as_b = error_report(db, actor=_admin_of(db, traffic.b.id), instance=INSTANCE, window=WINDOW, limit=1)
    assert as_b.by_type == {"Client.AccessDenied": 2, "Client.BadRequest": 1} and len(as_b.recent) == 1


def test_windows() -> None:
    now = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
    default = monitoring_window(now=now)
    assert (
        default.end == now
        and default.start == now - dt.timedelta(hours=24)
        and default.bucket_seconds == 3600
    )
    naive = monitoring_window(dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 31))
    assert naive.start.tzinfo is not None and naive.bucket_seconds == 86400
    with pytest.raises(ValidationError):
        monitoring_window(now, now)
    with pytest.raises(ValidationError):
        monitoring_window(now - dt.timedelta(days=400), now)
    with pytest.raises(ValidationError):
        monitoring_overview(None, actor=SYSTEM, instance=INSTANCE, window=default, sort="random")  # type: ignore[arg-type]
