"""Killing the gateway with SIGKILL under load loses no record of a call whose answer was received."""

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


def start_gateway(exchange: Exchange, port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGWU_")}
    log = open(data_dir / f"gateway-{port}.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [sys.executable, "-m", "zhengwu", "--data-dir", str(data_dir), "--database-url", exchange.url,
         "gateway", "--port", str(port), "--rate", "100000", "--burst", "100000"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, (data_dir / f"gateway-{port}.log").read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
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
