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

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoServer:
    url: str
    data_dir: Path


def start_demo(data_dir: Path, port: int) -> subprocess.Popen[str]:
    """Start `zhengwu demo` without any ZHENGWU_* variables of the test run, wait until healthy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGWU_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zhengwu", "demo", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("demo exited early:\n" + (proc.stdout.read() if proc.stdout else ""))
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("demo did not become healthy within 60 s")


def stop(proc: subprocess.Popen[str]) -> str:
    """Stop like Ctrl+C and return everything the process printed."""
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""
