"""Benchmark lookup and verification by ID over HTTP on a population registry of N persons.

Run: ``.venv/bin/python bench/bench_registries_http.py [--count 1000000] [--seconds 15]`` (10,000,000 for
the issue's figure). Needs a PostgreSQL server (``--admin-url``); a database ``zhengwu_bench_registries_http``
is dropped and recreated, N synthetic persons are ingested through the real ingestion path, and the app
is served by uvicorn in a subprocess (``--workers``, default 1).

Measured in the same run:

* **baseline**: direct psycopg 3 point lookups by primary key (prepared, one connection per client
  thread), the floor any HTTP service is compared against;
* **lookup**: ``GET /api/v1/registries/population/{id}`` with an API token (masked answer, audit record
  of the access written and committed per call);
* **verify**: ``POST /api/v1/registries/population/verify`` ``{"resident_id", "name"}`` → ``{"match"}``.

The load generator is a minimal asyncio HTTP/1.1 client with keep-alive connections (``--connections``)
running on the same machine, so client, server and database share its cores. Reported: calls/s and
p50/p99 latency. Targets (issue 5): ≥ 3,000 calls/s, p99 < 15 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pyarrow.csv as pacsv
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from zhengwu.accounts.models import Department, DepartmentLevel, Role
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import UserIn
from zhengwu.accounts.services import token_create, user_create
from zhengwu.db import Database, upgrade
from zhengwu.registries.ingest import ingest
from zhengwu.synthetic import generate_persons, write_batches

DEFAULT_ADMIN = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BENCH_DB = "zhengwu_bench_registries_http"
# A throw-away key for the throw-away benchmark server; random per run.
SECRET = secrets.token_urlsafe(48)


def fresh_database(admin_url: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    return make_url(admin_url).set(database=BENCH_DB).render_as_string(hide_password=False)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def baseline(dsn: str, ids: list[str], seconds: float, threads: int) -> tuple[float, list[float]]:
    """Direct prepared point lookups, ``threads`` connections."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def work(seed: int) -> None:
        rng = random.Random(seed)
        mine: list[float] = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            while time.perf_counter() < stop:
                key = rng.choice(ids)
                started = time.perf_counter()
                conn.execute(
                    "SELECT name, status FROM registry_persons WHERE resident_id = %s", (key,), prepare=True
                ).fetchone()
                mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(latencies) / (time.perf_counter() - started), latencies


async def _client(
    port: int, requests: list[bytes], stop: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    while time.perf_counter() < stop:
        request = requests[i % len(requests)]
        i += 1
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(int(head[9:12]))
    writer.close()


def http_load(
    port: int, requests: list[bytes], seconds: float, connections: int
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors: list[int] = []

    async def run() -> None:
        stop = time.perf_counter() + seconds
        shares = [requests[i::connections] for i in range(connections)]
        await asyncio.gather(*(_client(port, s, stop, latencies, errors) for s in shares))

    started = time.perf_counter()
    asyncio.run(run())
    return len(latencies) / (time.perf_counter() - started), latencies, len(errors)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1_000_000, help="persons (default 1,000,000)")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive HTTP connections")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN)
    args = parser.parse_args()
    url = fresh_database(args.admin_url)
    database = Database.from_url(url)
    upgrade(database.engine)
    system = Actor.system("bench")
    with database.session() as db:
        department = Department(
            code="BENCH", name="基准测试部门", level=DepartmentLevel.PROVINCIAL, region_code="330000"
        )
        db.add(department)
        db.flush()
        user = user_create(
            db,
            actor=system,
            data=UserIn(
                username="bench",
                display_name="基准测试",
                password=secrets.token_urlsafe(16),
                department_id=department.id,
                roles=[Role.DEVELOPER],
            ),
        )
        token = token_create(db, actor=system, user_id=user.id, name="bench").token
    with tempfile.TemporaryDirectory(prefix="bench-registries-http-") as tmp:
        path = Path(tmp) / "persons.csv"
        started = time.perf_counter()
        write_batches(generate_persons(count=args.count), path, progress=False)
        with database.session() as db:
            result = ingest(
                db, actor=system, registry="population", source="BENCH", path=path, error_dir=Path(tmp)
            )
        print(f"loaded {result.inserted:,} persons in {time.perf_counter() - started:.1f} s", flush=True)
        table = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(include_columns=["resident_id", "name"])
        )
        rng = random.Random(5)
        picks = rng.sample(range(table.num_rows), min(20_000, table.num_rows))
        ids = [table.column("resident_id")[i].as_py() for i in picks]
        names = [table.column("name")[i].as_py() for i in picks]
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        base_rate, base_lat = baseline(dsn, ids, args.seconds, threads=args.connections)
        print(
            f"baseline psycopg  {base_rate:>9,.0f} calls/s  p50 {percentile(base_lat, 0.5) * 1e3:6.2f} ms  "
            f"p99 {percentile(base_lat, 0.99) * 1e3:6.2f} ms",
            flush=True,
        )
        port = free_port()
        env = {
            **os.environ,
            "ZHENGWU_DATABASE_URL": url,
            "ZHENGWU_SECRET_KEY": SECRET,
            "ZHENGWU_DATA_DIR": tmp,
            "ZHENGWU_MODE": "production",
        }
        server = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "zhengwu.app:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
                "--log-level", "warning", "--no-access-log",
            ],
            env=env,
        )  # fmt: skip
        try:
            deadline = time.perf_counter() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.perf_counter() > deadline or server.poll() is not None:
                        raise SystemExit("server did not start") from None
                    time.sleep(0.3)
            auth = f"Authorization: Bearer {token}\r\n"
            gets = [
                f"GET /api/v1/registries/population/{k} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n".encode()
                for k in ids
            ]
            posts = []
            for k, n in zip(ids, names, strict=True):
                body = json.dumps({"resident_id": k, "name": n}, ensure_ascii=False).encode()
                posts.append(
                    (
                        f"POST /api/v1/registries/population/verify HTTP/1.1\r\nHost: bench\r\n{auth}"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                    ).encode()
                    + body
                )
            http_load(port, gets[:200], 2, args.connections)  # warm up: imports, prepared plans, pools
            report: dict[str, object] = {
                "count": args.count,
                "connections": args.connections,
                "workers": args.workers,
                "baseline_calls_s": round(base_rate),
                "baseline_p99_ms": round(percentile(base_lat, 0.99) * 1e3, 2),
            }
            for label, requests in (("lookup", gets), ("verify", posts)):
                rate, lat, errors = http_load(port, requests, args.seconds, args.connections)
                p50, p99 = percentile(lat, 0.5) * 1e3, percentile(lat, 0.99) * 1e3
                print(
                    f"{label:<17} {rate:>9,.0f} calls/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
                    f"errors {errors}",
                    flush=True,
                )
                report |= {
                    f"{label}_calls_s": round(rate),
                    f"{label}_p50_ms": round(p50, 2),
                    f"{label}_p99_ms": round(p99, 2),
                    f"{label}_errors": errors,
                    f"{label}_meets": rate >= 3000 and p99 < 15,
                }
            print(json.dumps(report))
        finally:
            server.terminate()
            server.wait(timeout=30)
    database.dispose()


if __name__ == "__main__":
    main()
