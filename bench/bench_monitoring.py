"""Benchmark of the monitoring queries: raw message-log records vs the per-minute summary, as Markdown.

``--records`` log records (default 500,000) spread over the last ``--hours`` (default 2, about 70
calls/s) are generated inside PostgreSQL (``generate_series``: 40 services, 7 clients, 2 % server
errors, 4 % refusals, durations 0–2,000 ms skewed to fast). Then, in the same run:

1. raw: the overview computed from every record of the window (the summary empty and the lazy roll-up
   off: what monitoring did before the summary existed), once;
2. the roll-up of all records into the summary (batches of 50,000, as ``zhengwu exchange
   monitoring-rollup``);
3. summary: the overview, one service's operational data and the error report, three times each
   (median), with the usual lazy roll-up on.

    .venv/bin/python bench/bench_monitoring.py [--records 500000]

A scratch database ``bench_gwsec_monitoring`` is created and dropped. Absolute numbers depend on what
else runs on the machine; the ratios are measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import time
from collections.abc import Callable

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from zhengwu.accounts.permissions import Actor
from zhengwu.db import Database, upgrade
from zhengwu.exchange.monitoring import services as monitoring_services
from zhengwu.exchange.monitoring.models import MonitoringMinute
from zhengwu.exchange.monitoring.rollup import BATCH, rollup_step
from zhengwu.exchange.monitoring.services import (
    error_report,
    monitoring_overview,
    monitoring_window,
    service_operational_data,
)

PG_ADMIN_URL = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NAME = "bench_gwsec_monitoring"
SYSTEM = Actor.system("bench")
SERVICE = "CN-DEV/GOV/11330000MB0000001X/GA/svc"

_FILL = """
INSERT INTO exchange_log_records (
    leaf_index, logged_at, xroad_id, request_id, client_id, service_id, started_at, finished_at,
    http_status, error_type, request_size, response_size, request_hash, response_hash)
SELECT g, t, 'b-' || g, 'q-' || g,
       'CN-DEV/GOV/11330000MB000000' || (g % 7) || 'X/APP',
       :service || (g % 40),
       t - make_interval(secs => d / 1000.0), t,
       CASE WHEN g % 50 = 0 THEN 500 WHEN g % 25 = 1 THEN 403 ELSE 200 END,
       CASE WHEN g % 50 = 0 THEN 'Server.ServerProxy.ServiceTimeout'
            WHEN g % 25 = 1 THEN 'Client.AccessDenied' END,
       64, 512, repeat('0', 64), repeat('0', 64)
FROM (SELECT g, CAST(:end AS timestamptz) - make_interval(secs => random() * :span) AS t,
             power(random(), 3) * 2000 AS d
      FROM generate_series(0, :n - 1) AS g) AS s
"""


def _admin(statement: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(statement))
    admin.dispose()


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--hours", type=float, default=2.0, help="Hours the records are spread over.")
    args = parser.parse_args()
    records = int(args.records)
    span = float(args.hours) * 3600
    _admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{NAME}"')
    url = make_url(PG_ADMIN_URL).set(database=NAME).render_as_string(hide_password=False)
    database = Database.from_url(url)
    try:
        upgrade(database.engine)
        end = dt.datetime.now(dt.UTC).replace(microsecond=0)
        with database.session() as db:
            fill, _ = _timed(
                lambda: db.execute(text(_FILL), {"service": SERVICE, "end": end, "n": records, "span": span})
            )
        with database.engine.connect() as conn:
            conn.execute(text("ANALYZE exchange_log_records"))
            conn.commit()
        window = monitoring_window(end - dt.timedelta(hours=24), end + dt.timedelta(seconds=1))
        print(f"load before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
        print(f"generated {records:,} records in {fill:.1f} s")

        # 1. raw: no summary rows, no lazy roll-up: every record of the window is read and aggregated.
        lazy = monitoring_services.LAZY_BATCH
        monitoring_services.LAZY_BATCH = 0
        with database.session() as db:
            raw_s, raw = _timed(
                lambda: monitoring_overview(db, actor=SYSTEM, instance="CN-DEV", window=window, exact_calls=0)
            )
        monitoring_services.LAZY_BATCH = lazy
        assert raw.totals.calls == records  # type: ignore[attr-defined]

        # 2. the roll-up, in batches of BATCH records (one transaction each).
        t0 = time.perf_counter()
        batches = 0
        while True:
            with database.session() as db:
                step = rollup_step(db, limit=BATCH)
            batches += 1
            assert step is not None
            if step.remaining == 0:
                break
        rollup_s = time.perf_counter() - t0
        with database.session() as db:
            minute_rows = int(db.scalar(select(func.count()).select_from(MonitoringMinute)) or 0)

        # 3. the same and two more queries over the summary (median of three).
        queries: dict[str, Callable[[object], object]] = {
            "overview (all services, 24 h)": lambda db: monitoring_overview(
                db, actor=SYSTEM, instance="CN-DEV", window=window
            ),
            "operational data of one service": lambda db: service_operational_data(
                db, actor=SYSTEM, instance="CN-DEV", service_id=SERVICE + "7", window=window
            ),
            "error report": lambda db: error_report(db, actor=SYSTEM, instance="CN-DEV", window=window),
        }
        results: dict[str, float] = {}
        for name, query in queries.items():
            times = []
            for _ in range(3):
                with database.session() as db:
                    seconds, out = _timed(lambda q=query, s=db: q(s))  # type: ignore[misc]
                times.append(seconds)
            results[name] = statistics.median(times)
            if name.startswith("overview"):
                summary_totals = out.totals  # type: ignore[attr-defined]
                assert summary_totals.calls == raw.totals.calls  # type: ignore[attr-defined]
                assert summary_totals.errors == raw.totals.errors  # type: ignore[attr-defined]
        print(f"load after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
        print()
        print(f"| query over {records:,} records, 24 h window | raw records | summary | raw / summary |")
        print("|---|---:|---:|---:|")
        overview = "overview (all services, 24 h)"
        print(
            f"| {overview} | {raw_s * 1000:,.0f} ms | {results[overview] * 1000:,.1f} ms "
            f"| {raw_s / results[overview]:,.0f}× |"
        )
        for name in list(queries)[1:]:
            print(f"| {name} | – | {results[name] * 1000:,.1f} ms | – |")
        print()
        print(
            f"Roll-up of {records:,} records: {rollup_s:.1f} s in {batches} transactions "
            f"({records / rollup_s:,.0f} records/s), {minute_rows:,} summary rows. "
            f"Raw overview: {records / raw_s:,.0f} records/s."
        )
        r, s = raw.totals.latency_ms, summary_totals.latency_ms  # type: ignore[attr-defined]
        print(f"p50/p95/p99 ms: raw {r.p50:.1f}/{r.p95:.1f}/{r.p99:.1f}")
        print(f"p50/p95/p99 ms: summary {s.p50:.1f}/{s.p95:.1f}/{s.p99:.1f}")
    finally:
        database.dispose()
        _admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
