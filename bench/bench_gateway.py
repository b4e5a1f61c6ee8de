"""Benchmark of the exchange gateway against calling the same upstream directly, printed as Markdown.

Three processes besides this one: a small JSON upstream (raw ASGI under uvicorn), ``zhengwu gateway``
(message log on PostgreSQL, group commit, grant check, filtering and masking on) and PostgreSQL. This
process is the load generator: ``--connections`` keep-alive HTTP/1.1 connections on asyncio streams
(a Python HTTP client library would be the bottleneck), each sending one request after another for
``--seconds``. Same run, same generator: first directly to the upstream, then through the gateway.

    .venv/bin/python bench/bench_gateway.py [--seconds 10] [--connections 32] [--workers 1] [--profile]

``--profile`` runs the gateway under cProfile and prints where its time goes. Seeding reuses the test
helpers in ``tests/gateway_env.py`` (departments, systems, a published resource, a grant).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from gateway_env import seed
from zhengwu.db import Database, upgrade
from zhengwu.exchange.models import ExchangeLogRecord

PG_ADMIN_URL = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BENCH_DB = "zhengwu_bench_gateway"

UPSTREAM_CODE = """
import json
BODY = json.dumps({"uscc": "91330000MA27XYZ12X", "org_name": "杭州测试科技有限公司",
    "registered_on": "2020-01-02", "legal_rep_name": "欧阳修", "registered_capital": "100.00",
    "secret_note": "x"}, ensure_ascii=False).encode()
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url} exited early")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not start")


async def _connection(host: str, port: int, request: bytes, stop_at: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    while time.perf_counter() < stop_at:
        began = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - began)
        if not head.startswith(b"HTTP/1.1 200"):
            errors += 1
    writer.close()
    return errors


def run_load(
    port: int, path: str, headers: dict[str, str], seconds: float, connections: int
) -> dict[str, float]:
    """Calls/s, p50 and p99 (ms) and errors for ``seconds`` of closed-loop load."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []

    async def main() -> int:
        stop_at = time.perf_counter() + seconds
        results = await asyncio.gather(
            *(_connection("127.0.0.1", port, request, stop_at, latencies) for _ in range(connections))
        )
        return sum(results)

    began = time.perf_counter()
    errors = asyncio.run(main())
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "calls": len(ordered),
        "rate": len(ordered) / elapsed,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[int(len(ordered) * 0.99) - 1] * 1000,
        "errors": errors,
    }


def summarize_spy(raw: Path) -> None:
    """Where the gateway's threads spend their samples: per thread, and the deepest zhengwu frame."""
    threads: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        parts = stack.split(";")
        threads[parts[0].split(":")[-1].strip()] += n
        ours = [f for f in parts if "zhengwu" in f or "uvicorn" in f or "psycopg" in f]
        frames[(ours[-1] if ours else parts[-1]).split(" (")[0] + " — " + parts[-1].split(" (")[0]] += n
    print(f"\npy-spy samples of the gateway during the run ({total} samples, active only):\n")
    print("| thread | share |\n|---|---:|")
    for name, n in threads.most_common(6):
        print(f"| {name} | {n / total:.0%} |")
    print("\n| deepest zhengwu/uvicorn/psycopg frame — leaf | share |\n|---|---:|")
    for name, n in frames.most_common(15):
        print(f"| {name} | {n / total:.0%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="run the gateway under cProfile (main thread)")
    parser.add_argument("--spy", action="store_true", help="sample all gateway threads with py-spy")
    args = parser.parse_args()

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    url = make_url(PG_ADMIN_URL).set(database=BENCH_DB).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGWU_")}
    up_port, gw_port = free_port(), free_port()
    (tmp / "bench_upstream.py").write_text(UPSTREAM_CODE, encoding="utf-8")
    upstream = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench_upstream:app", "--port", str(up_port),
         "--log-level", "warning", "--no-access-log", "--app-dir", str(tmp)],
        env=env,
    )  # fmt: skip
    gateway: subprocess.Popen[bytes] | None = None
    database = Database.from_url(url)
    try:
        upgrade(database.engine)
        exchange = seed(database, f"http://127.0.0.1:{up_port}")
        profile = tmp / "gateway.prof"
        cmd = [sys.executable]
        if args.profile:
            cmd += ["-m", "cProfile", "-o", str(profile)]
        cmd += ["-m", "zhengwu", "--data-dir", str(tmp), "--database-url", url, "gateway",
                "--port", str(gw_port), "--workers", str(args.workers), "--rate", "1000000",
                "--burst", "1000000"]  # fmt: skip
        gateway = subprocess.Popen(cmd, env=env)
        wait_up(f"http://127.0.0.1:{up_port}/", upstream)
        wait_up(f"http://127.0.0.1:{gw_port}/healthz", gateway)
        path = exchange.path("org", "/org/42")
        headers = {"X-Road-Client": exchange.client, "Authorization": f"Bearer {exchange.token}"}
        # Warm both paths (connection pools, caches, the grant decision).
        run_load(up_port, "/org/42", {}, 1.0, 4)
        run_load(gw_port, path, headers, 1.0, 4)
        with database.session() as db:
            before = db.scalar(select(func.count()).select_from(ExchangeLogRecord)) or 0
        # Warm until the gateway answers quickly (first calls configure the ORM and fill the caches).
        run_load(gw_port, path, headers, 3.0, args.connections)
        direct = run_load(up_port, "/org/42", {}, args.seconds, args.connections)
        spy = None
        if args.spy:
            spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(gateway.pid), "-d",
                 str(max(1, int(args.seconds) - 1)), "-r", "100", "--threads", "--format", "raw",
                 "-o", str(tmp / "spy.raw")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        through = run_load(gw_port, path, headers, args.seconds, args.connections)
        if spy is not None:
            spy.wait(60)
        with database.session() as db:
            logged = (db.scalar(select(func.count()).select_from(ExchangeLogRecord)) or 0) - before
        print(f"\n### Gateway vs direct ({args.seconds:g} s each, {args.connections} connections, "
              f"{args.workers} gateway worker(s), message log on PostgreSQL)\n")  # fmt: skip
        print("| path | calls | calls/s | p50 ms | p99 ms | non-200 |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, r in (("direct to upstream", direct), ("through the gateway", through)):
            row = f"{r['calls']:.0f} | {r['rate']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']:.0f}"
            print(f"| {name} | {row} |")
        ratio = through["rate"] / direct["rate"]
        print(f"\ngateway/direct throughput: {ratio:.2f}; records logged during the gateway run "
              f"(warm-up included): {logged}; calls answered: {through['calls']:.0f}")  # fmt: skip
    finally:
        if gateway is not None:
            gateway.send_signal(signal.SIGINT)
            gateway.wait(30)
        upstream.send_signal(signal.SIGINT)
        upstream.wait(30)
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
        admin.dispose()
    if args.spy and (tmp / "spy.raw").exists():
        summarize_spy(tmp / "spy.raw")
    if args.profile and profile.exists():
        print("\nWhere the gateway's time goes (cProfile, top 25 by own time):\n```")
        pstats.Stats(str(profile)).sort_stats("tottime").print_stats(25)
        print("```")


if __name__ == "__main__":
    main()
