"""Real server processes for end-to-end tests: `zhengwu demo` on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoServer:
    url: str
    data_dir: Path


@dataclass
class DemoProcess:
    """A running `zhengwu demo` and the file its output goes to."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]


def start_demo(data_dir: Path, port: int) -> DemoProcess:
    """Start `zhengwu demo` without any ZHENGWU_* variables of the test run, wait until healthy.

    Output goes to a file in the data directory, not a pipe: a pipe nobody reads would block the server
    once its buffer fills.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGWU_")}
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / f"demo-{port}.log", "wb")  # noqa: SIM115 - closed in stop()
    proc = subprocess.Popen(
        [sys.executable, "-m", "zhengwu", "demo", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.close()
            raise AssertionError("demo exited early:\n" + Path(log.name).read_text(encoding="utf-8"))
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return DemoProcess(proc, Path(log.name), log)
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    log.close()
    raise AssertionError("demo did not become healthy within 90 s")


def stop(demo: DemoProcess) -> str:
    """Stop like Ctrl+C and return everything the process printed."""
    demo.proc.send_signal(signal.SIGINT)
    try:
        demo.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        demo.proc.kill()
        demo.proc.wait()
    demo.log_file.close()
    return demo.log_path.read_text(encoding="utf-8")
