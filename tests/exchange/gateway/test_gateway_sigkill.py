"""Killing the gateway with SIGKILL under load loses no record of a call whose answer was received.

``zhengwu gateway`` runs its message log writer as a separate process (``--log-writer process``, the
default): the SIGKILL hits the gateway, the writer commits what it received and exits with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from gateway_env import Exchange
from servers import free_port
from zhengwu.exchange.models import ExchangeLogRecord
from zhengwu.exchange.verify import messagelog_verify


def start_gateway(exchange: Exchange, port: int, data_dir: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGWU_")}
    log = open(data_dir / f"gateway-{port}.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [sys.executable, "-m", "zhengwu", "--data-dir", str(data_dir), "--database-url", exchange.url,
         "gateway", "--port", str(port), "--rate", "100000", "--burst", "100000", *extra],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180  # the shared test machine can be slow to import and migrate
    while time.monotonic() < deadline:
        assert proc.poll() is None, (data_dir / f"gateway-{port}.log").read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    # The whole group: with --workers, uvicorn's workers would outlive their killed supervisor.
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    raise AssertionError("gateway did not start")


def load(exchange: Exchange, port: int, stop: threading.Event, received: list[str], worker: int) -> None:
    """Call the gateway until stopped (or it dies); keep the X-Road-Id of every answer received."""
    n = 0
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        while not stop.is_set():
            n += 1
            xroad_id = f"kill-{worker}-{n}"
            try:
                answer = client.get(
                    exchange.path("open", "/org/1"), headers=exchange.headers(**{"X-Road-Id": xroad_id})
                )
            except httpx.HTTPError:
                return
            assert answer.headers["x-road-id"] == xroad_id
            received.append(xroad_id)


def test_sigkill_mid_load_loses_no_answered_call(exchange: Exchange, tmp_path: Path) -> None:
    port = free_port()
    proc = start_gateway(exchange, port, tmp_path)
    stop = threading.Event()
    received: list[str] = []
    workers = [threading.Thread(target=load, args=(exchange, port, stop, received, i)) for i in range(8)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 30
    while len(received) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stop.set()
    for w in workers:
        w.join(10)
    assert len(received) >= 200
    with exchange.database.session() as db:
        logged = set(
            db.scalars(select(ExchangeLogRecord.xroad_id).where(ExchangeLogRecord.xroad_id.like("kill-%")))
        )
    missing = [x for x in received if x not in logged]
    assert not missing, f"{len(missing)} answered calls have no record, e.g. {missing[:5]}"
    # The gateway starts again on the same log, which stays gap-free and verifiable.
    proc = start_gateway(exchange, port, tmp_path)
    try:
        again = httpx.get(
            f"http://127.0.0.1:{port}" + exchange.path("open", "/org/1"),
            headers=exchange.headers(**{"X-Road-Id": "after-restart"}),
        )
        assert again.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    with exchange.database.session() as db:
        assert db.scalar(select(ExchangeLogRecord.id).where(ExchangeLogRecord.xroad_id == "after-restart"))
        assert messagelog_verify(db).ok


def writer_processes(gateway_pid: int) -> list[int]:
    """The log writer processes among the gateway's children."""
    children = Path(f"/proc/{gateway_pid}/task/{gateway_pid}/children").read_text().split()
    return [int(c) for c in children if b"logwriter" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_two_workers_share_one_writer_process(exchange: Exchange, tmp_path: Path) -> None:
    port = free_port()
    proc = start_gateway(exchange, port, tmp_path, "--workers", "2")
    try:
        writers = writer_processes(proc.pid)
        assert len(writers) == 1
        stop = threading.Event()
        received: list[str] = []
        # Worker numbers 100-103: X-Road ids the SIGKILL test on the same database does not use.
        workers = [
            threading.Thread(target=load, args=(exchange, port, stop, received, i)) for i in range(100, 104)
        ]
        for w in workers:
            w.start()
        deadline = time.monotonic() + 30
        while len(received) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for w in workers:
            w.join(10)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    # The writer leaves with the gateway, after committing.
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{w}").exists() for w in writers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{w}").exists() for w in writers)
    assert len(received) >= 100
    with exchange.database.session() as db:
        logged = list(
            db.scalars(
                select(ExchangeLogRecord.xroad_id).where(ExchangeLogRecord.xroad_id.like("kill-10_-%"))
            )
        )
        # Every answered call exactly once, from both workers, in one gap-free verifiable log.
        assert len(set(logged)) == len(logged)
        assert set(received) <= set(logged)
        assert messagelog_verify(db).ok
