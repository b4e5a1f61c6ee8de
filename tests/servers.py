"""Real server processes for end-to-end tests: `zhengwu demo` on a free loopback port."""

from __future__ import annotations

import fcntl
import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

# Ports for servers started by tests come from a slice of their own per test process, below the kernel's
# ephemeral range. A kernel-assigned port (bind to 0) is free only at that moment: a demo that seeds for
# a minute before it binds left its port open for another worker's server to take, and the test then
# stopped its own demo while talking to someone else's. A process claims its slice with a lock file it
# holds until it exits, so other xdist workers and other test runs on the same machine (a developer's
# and a helper's) never hand out the same ports.
_SLICE = 500
_FIRST_PORT = 20000
_SLICES = 24  # 20000..31999, below 32768 where Linux's ephemeral range starts
_LOCK_DIR = Path(tempfile.gettempdir()) / "zhengwu-test-ports"
_claimed: list[int] = []  # [slice's first port, lock file descriptor] once claimed
_next_port = itertools.count()


def _slice_base() -> int:
    if not _claimed:
        _LOCK_DIR.mkdir(exist_ok=True)
        for i in range(_SLICES):
            fd = os.open(_LOCK_DIR / f"slice-{i}.lock", os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            _claimed.extend([_FIRST_PORT + i * _SLICE, fd])
            break
        else:
            raise AssertionError(f"all {_SLICES} port slices are held by other test processes")
    return _claimed[0]


def free_port() -> int:
    """A loopback port no other test process hands out, and that nothing listens on right now."""
    base = _slice_base()
    for _ in range(_SLICE):
        port = base + next(_next_port) % _SLICE
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port in {base}..{base + _SLICE - 1}")


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


def start_demo(data_dir: Path, port: int, *, timeout: float = 180) -> DemoProcess:
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
    # A first start seeds every domain; on a machine shared with other jobs it has taken over 75 s, so
    # the default deadline leaves room for that rather than failing on load.
    deadline = time.monotonic() + timeout
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
    raise AssertionError(f"demo did not become healthy within {timeout:.0f} s")


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
