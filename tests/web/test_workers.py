"""The supervisor of worker processes (zhengwu.web.workers): one socket per worker on one port, a dead
worker replaced on the same socket, workers gone with the supervisor even when it is killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from zhengwu.web.workers import bind, bind_workers

# A worker: answers every connection with its pid, on the socket it inherited, until stdin closes.
WORKER = textwrap.dedent(
    """
    import os, socket, sys, threading
    from zhengwu.web.workers import inherited_socket, stop_when_stdin_closes
    sock = inherited_socket(int(sys.argv[1]))
    sock.setblocking(True)
    stop_when_stdin_closes(lambda: os._exit(0))
    while True:
        conn, _ = sock.accept()
        conn.sendall(str(os.getpid()).encode())
        conn.close()
    """
)
SUPERVISOR = textwrap.dedent(
    """
    import sys
    from zhengwu.web import workers
    workers.MIN_UPTIME = 0.5
    socks = workers.bind_workers("127.0.0.1", 0, 2)
    print(socks[0].getsockname()[1], flush=True)
    workers.supervise(socks, lambda fd: [sys.executable, "-c", sys.argv[1], str(fd)], grace=5)
    """
)


def _pid_at(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        return int(conn.recv(32))


def _children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_for(condition: object, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_bind_workers_gives_every_worker_its_own_socket_of_one_port() -> None:
    socks = bind_workers("127.0.0.1", 0, 3)
    try:
        ports = {s.getsockname()[1] for s in socks}
        assert len(ports) == 1 and len({s.fileno() for s in socks}) == 3
    finally:
        for sock in socks:
            sock.close()


def test_a_port_taken_by_another_program_fails_at_once() -> None:
    taken = bind("127.0.0.1", 0)  # without SO_REUSEPORT: nobody may join it
    try:
        with pytest.raises(OSError):
            bind_workers("127.0.0.1", taken.getsockname()[1], 2)
    finally:
        taken.close()


def test_a_dead_worker_is_replaced_and_workers_go_with_the_supervisor() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, WORKER], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        _wait_for(lambda: len(_children(proc.pid)) == 2)
        first = _children(proc.pid)
        time.sleep(0.6)  # past MIN_UPTIME: a death now is a crash to recover from, not a failed start
        victim = _pid_at(port)
        assert victim in first
        os.kill(victim, signal.SIGKILL)
        _wait_for(lambda: not _alive(victim))
        _wait_for(lambda: len(_children(proc.pid) - first) == 1 and victim not in _children(proc.pid))
        workers = _children(proc.pid)
        # Every connection is answered, by the survivor or by the replacement on the victim's socket.
        answered = {_pid_at(port) for _ in range(40)}
        assert answered <= workers and victim not in answered
        # Killed without a chance to stop them, the supervisor leaves no worker behind.
        proc.kill()
        proc.wait(10)
        for pid in workers:
            _wait_for(lambda pid=pid: not _alive(pid))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
