"""Benchmark of the exchange gateway against calling the same upstream directly, printed as Markdown.

Processes besides this one: a small JSON upstream (raw ASGI under uvicorn), ``zhengwu gateway``
(message log on PostgreSQL, group commit, grant check, filtering and masking on; its log writer process
when ``--log-writer process``) and PostgreSQL. This process is the load generator: ``--connections``
keep-alive HTTP/1.1 connections on asyncio streams (a Python HTTP client library would be the
bottleneck), each sending one request after another for ``--seconds``. For every gateway setup the
same generator first calls the upstream directly (the baseline), then the gateway.

    .venv/bin/python bench/bench_gateway.py            # the default matrix, one table
    .venv/bin/python bench/bench_gateway.py --setup process:2 --seconds 10 --spy

A setup is ``WRITER:WORKERS[:SERVER]`` (``thread:1`` = the writer thread inside the one gateway process;
``process:2`` = two workers sharing one writer process; ``SERVER`` is ``lean``, the gateway's own HTTP
server and the default, or ``uvicorn``). ``--spy`` samples the gateway's
processes with py-spy during the last setup and prints where their time goes. Ports come from
``--port-base`` (default 18100, the range this benchmark may use on the shared machine). Seeding reuses
the test helpers in ``tests/gateway_env.py`` (departments, systems, a published resource, a grant).
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
BENCH_DB_PREFIX = "zhengwu_bench_gateway"

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


def free_port(base: int, taken: set[int]) -> int:
    """The first port from ``base`` on that is not taken and can be bound (within 100 ports)."""
    for port in range(base, base + 100):
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise SystemExit(f"no free port in {base}..{base + 99}")


def load_average() -> str:
    """The 1-minute load average now (the machine is shared: every figure must carry it)."""
    return f"{os.getloadavg()[0]:.1f}"


def descendants(pid: int) -> list[int]:
    """``pid`` and all its child processes (the gateway's workers and log writer)."""
    out = [pid]
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        out += descendants(int(child))
    return out


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


def summarize_spy(raws: list[Path]) -> None:
    """Where the gateway's processes spend their samples: per process/thread, and the deepest frame."""
    threads: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    total = 0
    lines = [(raw.stem, line) for raw in raws for line in raw.read_text(encoding="utf-8").splitlines()]
    for proc, line in lines:
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        parts = stack.split(";")
        threads[proc + " " + parts[0].split(":")[-1].strip()] += n
        ours = [f for f in parts if "zhengwu" in f or "uvicorn" in f or "psycopg" in f]
        frames[(ours[-1] if ours else parts[-1]).split(" (")[0] + " — " + parts[-1].split(" (")[0]] += n
    print(f"\npy-spy samples of the gateway during the run ({total} samples, active only):\n")
    print("| process / thread | share |\n|---|---:|")
    for name, n in threads.most_common(8):
        print(f"| {name} | {n / total:.0%} |")
    print("\n| deepest zhengwu/uvicorn/psycopg frame — leaf | share |\n|---|---:|")
    for name, n in frames.most_common(15):
        print(f"| {name} | {n / total:.0%} |")


def start_gateway(
    url: str, tmp: Path, port: int, writer: str, workers: int, server: str, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "zhengwu", "--data-dir", str(tmp), "--database-url", url, "gateway",
           "--port", str(port), "--workers", str(workers), "--log-writer", writer, "--server", server,
           "--rate", "1000000", "--burst", "1000000"]  # fmt: skip
    # Its own process group: stopping it also stops its workers and log writer.
    gateway = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", gateway)
    except BaseException:
        stop(gateway)
        raise
    return gateway


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def backend_pids(database: Database, name: str) -> list[int]:
    """PostgreSQL server processes serving the benchmark database (same machine)."""
    with database.session() as db:
        query = text("SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()")
        return [int(p) for p in db.scalars(query, {"name": name})]


class CpuMeter:
    """CPU time per component over one load run: where the machine's time goes, whatever its load."""

    def __init__(self, parts: dict[str, list[int]]) -> None:
        self.parts = parts
        self.before = {name: sum(cpu_seconds(p) for p in pids) for name, pids in parts.items()}
        self.me = os.times()

    def per_call_us(self, calls: float) -> dict[str, float]:
        me = os.times()
        out = {"load generator": (me.user + me.system - self.me.user - self.me.system) / calls * 1e6}
        for name, pids in self.parts.items():
            if not pids:
                continue
            used = sum(cpu_seconds(p) for p in pids) - self.before[name]
            out[name] = used / calls * 1e6
        return out


def log_count(database: Database) -> int:
    with database.session() as db:
        return db.scalar(select(func.count()).select_from(ExchangeLogRecord)) or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--setup",
        action="append",
        help="WRITER:WORKERS[:SERVER], repeatable; SERVER lean (default) or uvicorn "
        "(default: process:2:uvicorn, process:1, process:2)",
    )
    parser.add_argument("--port-base", type=int, default=18100)
    parser.add_argument("--spy", action="store_true", help="py-spy the gateway processes in the last setup")
    args = parser.parse_args()
    # One database per port range: helpers sharing the machine may run this at the same time.
    bench_db = f"{BENCH_DB_PREFIX}_{args.port_base}"
    setups = [
        (parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "lean")
        for parts in (s.split(":") for s in args.setup or ["process:2:uvicorn", "process:1", "process:2"])
    ]

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{bench_db}"'))
    url = make_url(PG_ADMIN_URL).set(database=bench_db).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGWU_")}
    taken: set[int] = set()
    up_port = free_port(args.port_base, taken)
    (tmp / "bench_upstream.py").write_text(UPSTREAM_CODE, encoding="utf-8")
    upstream = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench_upstream:app", "--port", str(up_port),
         "--log-level", "warning", "--no-access-log", "--app-dir", str(tmp)],
        env=env,
    )  # fmt: skip
    database = Database.from_url(url)
    rows: list[tuple[str, str, dict[str, float], dict[str, float], int]] = []
    cpu_rows: list[tuple[str, dict[str, float]]] = []
    spies: list[Path] = []
    verified = "not run"
    try:
        upgrade(database.engine)
        exchange = seed(database, f"http://127.0.0.1:{up_port}")
        wait_up(f"http://127.0.0.1:{up_port}/", upstream)
        path = exchange.path("org", "/org/42")
        headers = {"X-Road-Client": exchange.client, "Authorization": f"Bearer {exchange.token}"}
        run_load(up_port, "/org/42", {}, 1.0, 4)
        for number, (writer, workers, server) in enumerate(setups):
            name = f"{writer}:{workers}" + (":uvicorn" if server == "uvicorn" else "")
            gw_port = free_port(args.port_base, taken)
            gateway = start_gateway(url, tmp, gw_port, writer, workers, server, env)
            try:
                # Warm until the gateway answers quickly (every worker: ORM, caches, connections).
                run_load(gw_port, path, headers, 1.0, 4)
                run_load(gw_port, path, headers, 3.0, args.connections)
                load_before = load_average()
                meter = CpuMeter({"upstream": [upstream.pid]})
                direct = run_load(up_port, "/org/42", {}, args.seconds, args.connections)
                if number == 0:
                    cpu_rows.append(("direct", meter.per_call_us(direct["calls"])))
                gw_pids = descendants(gateway.pid)
                writer_pids = [p for p in gw_pids if b"logwriter" in Path(f"/proc/{p}/cmdline").read_bytes()]
                parts = {
                    "upstream": [upstream.pid],
                    "gateway worker(s)": [p for p in gw_pids if p not in writer_pids],
                    "log writer process": writer_pids,
                    "PostgreSQL": backend_pids(database, bench_db),
                }
                before = log_count(database)
                spy_procs = []
                if args.spy and number == len(setups) - 1:
                    for pid in descendants(gateway.pid):
                        out = tmp / f"pid{pid}.raw"
                        spies.append(out)
                        spy_procs.append(subprocess.Popen(
                            [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid), "-d",
                             str(max(1, int(args.seconds) - 1)), "-r", "200", "--threads", "--gil",
                             "--format", "raw", "-o", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        ))  # fmt: skip
                meter = CpuMeter(parts)
                through = run_load(gw_port, path, headers, args.seconds, args.connections)
                cpu_rows.append((name, meter.per_call_us(through["calls"])))
                for spy in spy_procs:
                    spy.wait(60)
                logged = log_count(database) - before
                load = f"{load_before}–{load_average()}"
                rows.append((name, load, direct, through, logged))
            finally:
                stop(gateway)
        # Every record the run wrote must verify: `zhengwu audit verify` recomputes each leaf and the tree.
        audit = subprocess.run(
            [sys.executable, "-m", "zhengwu", "--data-dir", str(tmp), "--database-url", url, "audit",
             "verify", "--no-seal"], env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        verified = f"exit {audit.returncode}: {' '.join(audit.stdout.split())[-600:]}"
    finally:
        stop(upstream)
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)'))
        admin.dispose()
    print(f"\n### Gateway vs direct ({args.seconds:g} s each, {args.connections} connections, "
          f"message log on PostgreSQL, {os.cpu_count()} CPUs)\n")  # fmt: skip
    print("| setup (writer:workers[:server]) | load avg | direct calls/s (p50 / p99 ms) | "
          "gateway calls/s (p50 / p99 ms) | ratio | non-200 | records |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, load, direct, through, logged in rows:
        d = f"{direct['rate']:,.0f} ({direct['p50']:.1f} / {direct['p99']:.1f})"
        g = f"{through['rate']:,.0f} ({through['p50']:.1f} / {through['p99']:.1f})"
        ratio = through["rate"] / direct["rate"]
        print(f"| {name} | {load} | {d} | {g} | {ratio:.2f} | {through['errors']:.0f} | "
              f"{logged} / {through['calls']:.0f} |")  # fmt: skip
    print("\nrecords = message log records written during the gateway run / calls answered in it")
    print(f"\n`zhengwu audit verify` over the run's log: {verified}")
    names = ["load generator", "upstream", "gateway worker(s)", "log writer process", "PostgreSQL"]
    print("\nCPU time per call by process (µs; user + system, from /proc, independent of the machine's load;")
    print(
        "PostgreSQL = the server processes of the benchmark database; WAL writer, checkpointer excluded):\n"
    )
    print("| run | " + " | ".join(names) + " | total |")
    print("|---|" + "---:|" * (len(names) + 1))
    for name, cpu in cpu_rows:
        cells = [f"{cpu[n]:.0f}" if n in cpu else "–" for n in names]
        print(f"| {name} | " + " | ".join(cells) + f" | {sum(cpu.values()):.0f} |")
    if spies:
        summarize_spy([p for p in spies if p.exists()])
        print(f"\nraw py-spy stacks: {tmp}/pid*.raw")


if __name__ == "__main__":
    main()
