"""Benchmark lookup and verification by ID over HTTP on a population registry of N persons.

Run: ``.venv/bin/python bench/bench_registries_http.py [--persons 1000000] [--seconds 15]`` (10,000,000 for
the issue's figure). Needs a PostgreSQL server (``--admin-url``); the database ``--database`` is dropped and
recreated, N synthetic persons are ingested through the real ingestion path (``--reuse`` takes a database
kept by an earlier run with ``--keep`` instead), and the app is served by ``zhengwu serve`` (uvicorn with
httptools and uvloop, each worker on its own socket of the port) in a subprocess (``--workers``, default 2).

Measured in the same run:

* **baseline**: direct psycopg 3 point lookups by primary key (prepared, one connection per client
  thread), the floor any HTTP service is compared against;
* **lookup**: ``GET /api/v1/registries/population/{id}`` with an API token (masked answer; the access
  record is committed before the answer, in groups: zhengwu.registries.hotpath);
* **verify**: ``POST /api/v1/registries/population/verify`` ``{"resident_id", "name"}`` → ``{"match"}``.

The load generator is a minimal asyncio HTTP/1.1 client with keep-alive connections (``--connections``,
spread over ``--clients`` processes, uvloop when installed) running on the same machine, so client,
server and database share its cores. Reported: calls/s, p50/p99 latency, and the CPU time per call of
the server's processes, of the load generator and of PostgreSQL, with the machine's busy share. Targets
(issue 5): ≥ 3,000 calls/s, p99 < 15 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.queues
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
from typing import Any

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from zhengwu.accounts.models import Department, DepartmentLevel, Role
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import UserIn
from zhengwu.accounts.services import token_create, user_create
from zhengwu.db import Database, upgrade
from zhengwu.registries.ingest import ingest
from zhengwu.synthetic import generate_persons, write_batches

try:
    import uvloop
except ImportError:  # the plain asyncio loop is slower but measures the same thing
    uvloop = None

DEFAULT_ADMIN = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# A throw-away key for the throw-away benchmark server; random per run.
SECRET = secrets.token_urlsafe(48)


def fresh_database(admin_url: str, name: str, *, reuse: bool) -> tuple[str, bool]:
    """The URL of database ``name`` and whether it was kept (``reuse`` and it exists)."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not (reuse and exists):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), bool(
        reuse and exists
    )


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


def _load_process(
    port: int, shares: list[list[bytes]], seconds: float, out: multiprocessing.queues.Queue[Any]
) -> None:
    """One load-generating process: ``len(shares)`` keep-alive connections for ``seconds``."""
    latencies: list[float] = []
    errors: list[int] = []

    async def run() -> None:
        stop = time.perf_counter() + seconds
        await asyncio.gather(*(_client(port, s, stop, latencies, errors) for s in shares))

    cpu = time.process_time()
    if uvloop is not None:
        uvloop.run(run())
    else:
        asyncio.run(run())
    out.put((latencies, len(errors), time.process_time() - cpu))


def http_load(
    port: int, requests: list[bytes], seconds: float, connections: int, clients: int
) -> tuple[float, list[float], int, float]:
    """calls/s, latencies, non-200 answers and the load generators' CPU seconds of ``connections``
    connections in ``clients`` processes."""
    shares = [requests[i::connections] for i in range(connections)]
    queue: multiprocessing.queues.Queue[Any] = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(target=_load_process, args=(port, shares[i::clients], seconds, queue))
        for i in range(clients)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    latencies: list[float] = []
    errors = 0
    cpu = 0.0
    for _ in procs:
        lat, err, used = queue.get()
        latencies.extend(lat)
        errors += err
        cpu += used
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    return len(latencies) / elapsed, latencies, errors, cpu


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of process ``pid`` so far, zeros if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0, 0.0
    return int(fields[11]) / _TICK, int(fields[12]) / _TICK


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` so far, 0 if it is gone."""
    return sum(_proc_times(pid))


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the uvicorn supervisor and its workers)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(p for c in children for p in _tree(int(c)))]


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _machine_busy() -> tuple[float, float]:
    """Busy and total CPU seconds of the machine so far (/proc/stat, all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / _TICK, sum(values) / _TICK


class CpuMeter:
    """CPU seconds of the server's processes, of PostgreSQL's and of the whole machine over a run.

    PostgreSQL's figure sums every ``postgres`` process alive at both ends (the server's pooled
    connections are; other databases' work on the machine counts too)."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def __enter__(self) -> CpuMeter:
        self._server = {p: _proc_cpu(p) for p in _tree(self.server_pid)}
        self._server_sys = {p: _proc_times(p)[1] for p in _tree(self.server_pid)}
        self._pg = {p: _proc_cpu(p) for p in _postgres_pids()}
        self._busy = _machine_busy()
        return self

    def __exit__(self, *exc: object) -> None:
        pids = _tree(self.server_pid)
        self.server = sum(_proc_cpu(p) - self._server.get(p, 0.0) for p in pids)
        self.server_system = sum(_proc_times(p)[1] - self._server_sys.get(p, 0.0) for p in pids)
        self.postgres = sum(_proc_cpu(p) - before for p, before in self._pg.items() if _proc_cpu(p))
        busy, total = _machine_busy()
        self.machine_busy = (busy - self._busy[0]) / max(total - self._busy[1], 1e-9)


def load_registry(url: str, count: int, tmp: Path) -> tuple[str, Path]:
    """Ingest ``count`` synthetic persons through the real path; the bench token and the file."""
    database = Database.from_url(url)
    upgrade(database.engine)
    system = Actor.system("bench")
    with database.session() as db:
        department = Department(
            code="BENCH", name="基准测试部门", level=DepartmentLevel.PROVINCIAL, region_code="330000"
        )
        db.add(department)
        db.flush()
        user_create(
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
    path = tmp / "persons.csv"
    started = time.perf_counter()
    write_batches(generate_persons(count=count), path, progress=False)
    with database.session() as db:
        result = ingest(db, actor=system, registry="population", source="BENCH", path=path, error_dir=tmp)
    print(f"loaded {result.inserted:,} persons in {time.perf_counter() - started:.1f} s", flush=True)
    database.dispose()
    return url, path


def bench_token(url: str) -> str:
    """A new API token of the bench user (a developer: masked answers)."""
    database = Database.from_url(url)
    with database.session() as db:
        user_id = db.execute(text("SELECT id FROM users WHERE username = 'bench'")).scalar_one()
        token = token_create(db, actor=Actor.system("bench"), user_id=user_id, name="bench").token
    database.dispose()
    return token


def sample(url: str, count: int) -> tuple[list[str], list[str], int]:
    """``count`` random (resident ID, name) pairs of the registry, and its number of persons."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        total = conn.execute("SELECT count(*) FROM registry_persons").fetchone()
        assert total is not None
        percent = min(100.0, 100.0 * count * 2 / max(total[0], 1))
        rows = conn.execute(
            "SELECT resident_id, name FROM registry_persons TABLESAMPLE SYSTEM (%s) LIMIT %s",
            (percent, count),
        ).fetchall()
    random.Random(5).shuffle(rows)
    return [r[0] for r in rows], [r[1] for r in rows], int(total[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", "--count", dest="count", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive HTTP connections")
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--database", default="bench_regperf_http", help="database name (dropped!)")
    parser.add_argument("--reuse", action="store_true", help="use the database if it exists (see --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN)
    args = parser.parse_args()
    url, kept = fresh_database(args.admin_url, args.database, reuse=args.reuse)
    with tempfile.TemporaryDirectory(prefix="bench-registries-http-") as tmp:
        if not kept:
            load_registry(url, args.count, Path(tmp))
        token = bench_token(url)
        ids, names, persons = sample(url, 20_000)
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        print(f"load average {load_average()} before the runs", flush=True)
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
        # The platform's own server command: uvicorn (httptools, uvloop) in --workers processes, each on
        # its own socket of the port (zhengwu.web.server).
        server = subprocess.Popen(
            [
                sys.executable, "-m", "zhengwu", "serve", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(args.workers), "--no-access-log",
            ],
            env={**env, "ZHENGWU_LOG_LEVEL": "WARNING"},
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
            # Warm up every worker: imports, connections, prepared plans, the token cache.
            http_load(port, gets[:400], 3, args.connections, args.clients)
            report: dict[str, object] = {
                "persons": persons,  # as counted: with --reuse, --persons is not used
                "connections": args.connections,
                "clients": args.clients,
                "workers": args.workers,
                "baseline_calls_s": round(base_rate),
                "baseline_p99_ms": round(percentile(base_lat, 0.99) * 1e3, 2),
            }
            for label, requests in (("lookup", gets), ("verify", posts)):
                with CpuMeter(server.pid) as cpu:
                    rate, lat, errors, client_cpu = http_load(
                        port, requests, args.seconds, args.connections, args.clients
                    )
                p50, p99 = percentile(lat, 0.5) * 1e3, percentile(lat, 0.99) * 1e3
                calls = max(len(lat), 1)
                per_call = {
                    "server": cpu.server / calls * 1e3,
                    "client": client_cpu / calls * 1e3,
                    "postgres": cpu.postgres / calls * 1e3,
                }
                print(
                    f"{label:<17} {rate:>9,.0f} calls/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
                    f"errors {errors}  (load average {load_average()})\n"
                    f"{'':<17} CPU ms per call: server {per_call['server']:.3f} "
                    f"({cpu.server_system / max(cpu.server, 1e-9):.0%} system), load generator "
                    f"{per_call['client']:.3f}, postgres {per_call['postgres']:.3f}; "
                    f"machine busy {cpu.machine_busy:.0%}",
                    flush=True,
                )
                report |= {
                    f"{label}_calls_s": round(rate),
                    f"{label}_p50_ms": round(p50, 2),
                    f"{label}_p99_ms": round(p99, 2),
                    f"{label}_errors": errors,
                    f"{label}_meets": rate >= 3000 and p99 < 15,
                    f"{label}_cpu_ms_per_call": {k: round(v, 3) for k, v in per_call.items()},
                    f"{label}_machine_busy": round(cpu.machine_busy, 3),
                }
            report["load_average"] = load_average()
            print(json.dumps(report))
        finally:
            server.terminate()
            server.wait(timeout=30)
    if not args.keep:
        admin = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
