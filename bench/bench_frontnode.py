"""Benchmark of the front node and of monitoring, printed as Markdown.

1. Front node over a PostgreSQL legacy table of ``--rows`` rows (default 100,000): pages of 100 rows
   with an equality filter, a range filter and a keyset cursor, over HTTP from ``--threads`` client
   threads to a real ``zhengwu node serve`` process (one uvicorn worker), against the baseline of the
   same SELECT sent directly with SQLAlchemy from the same threads, same run.
2. Monitoring: the overview (per-service percentiles) over ``--records`` message-log records
   (default 100,000) on PostgreSQL.

    .venv/bin/python bench/bench_frontnode.py [--rows 100000] [--seconds 5] [--threads 4]

Keep it short: the machine's two cores are shared. Scratch databases ``zhengwu_bench_node`` and
``zhengwu_bench_monitoring`` are created and dropped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from zhengwu.accounts.permissions import Actor
from zhengwu.db import Database, upgrade
from zhengwu.exchange.messagelog import LogEntry, write_batch
from zhengwu.exchange.monitoring.services import monitoring_overview, monitoring_window
from zhengwu.exchange.node.schemas import node_config_build
from zhengwu.exchange.node.services import node_engine, published_reflect, rows_list

PG_ADMIN_URL = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TOKEN = "bench-node-token-0123456789abcdef"  # noqa: S105 - a scratch node's token


def _scratch(name: str) -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _drop(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fill(engine: Engine, rows: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE legacy_person (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL, "
                "region CHAR(6) NOT NULL, amount NUMERIC(12,2), updated_at TIMESTAMP NOT NULL)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO legacy_person SELECT g, '姓名' || g, (330100 + g % 50)::text, g / 100.0, "
                "timestamp '2026-01-01' + g * interval '1 second' FROM generate_series(1, :n) g"
            ),
            {"n": rows},
        )
        conn.execute(text("CREATE INDEX ix_region ON legacy_person (region, id)"))
        conn.execute(text("ANALYZE legacy_person"))


def _run(seconds: float, threads: int, call: Callable[[random.Random], None]) -> tuple[float, list[float]]:
    latencies: list[list[float]] = [[] for _ in range(threads)]
    stop = time.perf_counter() + seconds

    def worker(n: int) -> None:
        rnd = random.Random(n)
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            call(rnd)
            latencies[n].append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for part in latencies for x in part)
    return len(flat) / elapsed, flat


def _pct(values: list[float], p: float) -> float:
    return values[max(0, round(p / 100 * len(values)) - 1)] if values else float("nan")


def bench_node(rows: int, seconds: float, threads: int) -> None:
    url = _scratch("zhengwu_bench_node")
    engine = create_engine(url, pool_size=threads)
    try:
        _fill(engine, rows)
        config = Path(tempfile.mkdtemp()) / "node.toml"
        port = 18700 + os.getpid() % 1000
        config.write_text(
            f'port = {port}\nmax_limit = 1000\n[[services]]\ncode = "persons"\ntable = "legacy_person"\n'
            'columns = ["id", "name", "region", "amount", "updated_at"]\nchange_column = "updated_at"\n',
            encoding="utf-8",
        )
        env = {**os.environ, "ZHENGWU_NODE_DATABASE_URL": url, "ZHENGWU_NODE_TOKENS": TOKEN}
        proc = subprocess.Popen(
            [sys.executable, "-m", "zhengwu", "node", "serve", "--config", str(config)], env=env
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            clients = [
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"})
                for _ in range(threads)
            ]
            local = threading.local()

            def client() -> httpx.Client:
                if not hasattr(local, "c"):
                    local.c = clients[threading.get_ident() % threads]
                return local.c  # type: ignore[no-any-return]

            cases: dict[str, tuple[Callable[[random.Random], dict[str, str]], str]] = {
                "equality filter (region=…), 100 rows": (
                    lambda r: {"region": str(330100 + r.randrange(50)), "limit": "100"},
                    "SELECT id, name, region, amount, updated_at FROM legacy_person WHERE region = :v "
                    "ORDER BY id LIMIT 101",
                ),
                "range filter (id__gt=…), 100 rows": (
                    lambda r: {"id__gt": str(r.randrange(rows - 200)), "limit": "100"},
                    "SELECT id, name, region, amount, updated_at FROM legacy_person WHERE id > :v "
                    "ORDER BY id LIMIT 101",
                ),
            }
            columns = ["id", "name", "region", "amount", "updated_at"]
            local_config = node_config_build(
                {
                    "database_url": url,
                    "tokens": [TOKEN],
                    "max_limit": 1000,
                    "services": [{"code": "persons", "table": "legacy_person", "columns": columns}],
                },
                environ={},
            )
            local_engine = node_engine(local_config)
            local_service = published_reflect(local_engine, local_config)["persons"]
            print(
                f"| query ({rows:,} rows, {threads} client threads) | node over HTTP | p50 / p99 ms "
                "| node logic in process | p50 / p99 ms | direct SQLAlchemy | p50 / p99 ms "
                "| HTTP node / direct |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for label, (params, sql) in cases.items():

                def direct(
                    r: random.Random,
                    params: Callable[[random.Random], dict[str, str]] = params,
                    sql: str = sql,
                ) -> None:
                    value = next(iter(params(r).values()))
                    with engine.connect() as conn:
                        conn.execute(text(sql), {"v": int(value) if "id >" in sql else value}).all()

                def via_node(
                    r: random.Random, params: Callable[[random.Random], dict[str, str]] = params
                ) -> None:
                    response = client().get("/services/persons/rows", params=params(r))
                    assert response.status_code == 200, response.text

                def in_process(
                    r: random.Random, params: Callable[[random.Random], dict[str, str]] = params
                ) -> None:
                    rows_list(local_engine, local_config, local_service, list(params(r).items()))

                node_rate, node_lat = _run(seconds, threads, via_node)
                logic_rate, logic_lat = _run(seconds, threads, in_process)
                direct_rate, direct_lat = _run(seconds, threads, direct)
                print(
                    f"| {label} | {node_rate:,.0f} /s | {_pct(node_lat, 50):.1f} / {_pct(node_lat, 99):.1f} "
                    f"| {logic_rate:,.0f} /s | {_pct(logic_lat, 50):.1f} / {_pct(logic_lat, 99):.1f} "
                    f"| {direct_rate:,.0f} /s | {_pct(direct_lat, 50):.1f} / {_pct(direct_lat, 99):.1f} "
                    f"| {node_rate / direct_rate:.2f} |"
                )
            start = time.perf_counter()
            pages, since = 0, ""
            while True:
                body = (
                    clients[0]
                    .get("/services/persons/changes", params={"since": since, "limit": "1000"})
                    .json()
                )
                pages += 1
                since = body["next_since"]
                if not body["has_more"]:
                    break
            took = time.perf_counter() - start
            print(f"\nChange feed, whole table in pages of 1,000: {pages} pages, {rows / took:,.0f} rows/s.")
            for c in clients:
                c.close()
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    finally:
        engine.dispose()
        _drop("zhengwu_bench_node")


def bench_monitoring(records: int) -> None:
    url = _scratch("zhengwu_bench_monitoring")
    database = Database.from_url(url)
    try:
        upgrade(database.engine)
        now = dt.datetime.now(dt.UTC)
        rnd = random.Random(1)
        entries = []
        for i in range(records):
            finished = now - dt.timedelta(seconds=rnd.uniform(0, 86000))
            entries.append(
                LogEntry(
                    xroad_id=f"b-{i}",
                    request_id=f"r-{i}",
                    client_id=f"CN-DEV/GOV/11330000MB000000{i % 7}X/APP",
                    service_id=f"CN-DEV/GOV/11330000MB0000001X/GA/svc{i % 40}",
                    started_at=finished - dt.timedelta(milliseconds=rnd.expovariate(1 / 20)),
                    finished_at=finished,
                    http_status=200 if i % 50 else 503,
                )
            )
        with database.session() as db:
            for n in range(0, records, 5000):
                write_batch(db, entries[n : n + 5000])
        # Records are logged when written (logged_at), so the window ends after the writes.
        end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        window = monitoring_window(end - dt.timedelta(hours=24), end)
        times = []
        for _ in range(3):
            with database.session() as db:
                t0 = time.perf_counter()
                overview = monitoring_overview(db, actor=Actor.system(), instance="CN-DEV", window=window)
                times.append(time.perf_counter() - t0)
        assert overview.totals.calls == records
        print(
            f"\nMonitoring overview over {records:,} records (40 services, 7 clients): "
            f"median {statistics.median(times) * 1000:,.0f} ms "
            f"({records / statistics.median(times):,.0f} records/s)."
        )
    finally:
        database.dispose()
        _drop("zhengwu_bench_monitoring")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    print(f"## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}\n")
    bench_node(args.rows, args.seconds, args.threads)
    bench_monitoring(args.records)


if __name__ == "__main__":
    main()
