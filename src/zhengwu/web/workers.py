"""Several worker processes serving one port, under a supervisor: ``zhengwu serve --workers N`` (uvicorn,
:mod:`zhengwu.web.server`) and ``zhengwu gateway --workers N`` (the gateway's lean server,
:mod:`zhengwu.exchange.gateway.workers`).

**One socket per worker.** Each worker listens on its own socket of the port (``SO_REUSEPORT``), and the
kernel spreads new connections over the sockets by their address hash. On one shared socket the first
libuv loop to wake accepts every pending connection: a burst of keep-alive connections (a load
generator, a proxy's pool) then landed 13 to 3 or 11 to 5 on two workers (measured: 6,728 against 1,718
and 6,704 against 2,910 calls in 5 s), and the busier worker was the bottleneck while the other idled.
(libuv's ``UV_TCP_SINGLE_ACCEPT`` switch, the usual remedy, is gone from the libuv that uvloop bundles.)

**The supervisor** (:func:`supervise`) binds every socket itself, so a port taken by someone else fails
once, here, and port 0 gives every worker the same kernel-chosen port. It starts each worker as a fresh
interpreter (a command the caller builds, with our own interpreter and module) that inherits its socket's
descriptor; restarts a worker that dies, which takes over the socket of the one it replaces, so
connections queued on it meanwhile are served, not lost (but a worker that dies within
:data:`MIN_UPTIME` seconds of starting cannot start: the supervisor raises instead of looping); and on
SIGINT or SIGTERM stops them all gracefully (SIGTERM, then SIGKILL after ``grace`` seconds). A worker
also stops when its stdin closes (:func:`stop_when_stdin_closes`), that is when the supervisor is gone,
even after a SIGKILL: a worker never outlives the command.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Final

log = logging.getLogger("zhengwu.web.workers")

#: Seconds a worker must live before the supervisor restarts it when it dies.
MIN_UPTIME: Final = 10.0


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket (IPv4 or IPv6 by the host's form); ``reuse_port``: one of several on the
    same port, each served by one worker."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def bind_workers(host: str, port: int, workers: int) -> list[socket.socket]:
    """One listening socket per worker, all on the same port (port 0: the one the kernel chose first)."""
    first = bind(host, port, reuse_port=True)
    socks = [first]
    try:
        socks += [bind(host, first.getsockname()[1], reuse_port=True) for _ in range(workers - 1)]
    except OSError:
        for sock in socks:
            sock.close()
        raise
    return socks


def inherited_socket(fd: int) -> socket.socket:
    """The listening socket a worker inherited from :func:`supervise` as descriptor ``fd``."""
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    return sock


def stop_when_stdin_closes(stop: Callable[[], object]) -> None:
    """Call ``stop`` (from another thread) once stdin reaches its end: the supervisor is gone."""

    def watch() -> None:
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop()

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def supervise(socks: Sequence[socket.socket], command: Callable[[int], list[str]], *, grace: float) -> None:
    """Run one worker per socket (``command(fd)``: its argument vector, given the inherited descriptor)
    until SIGINT or SIGTERM; see the module docstring. Closes the sockets at the end."""
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    started: dict[int, float] = {}

    def start(n: int) -> subprocess.Popen[bytes]:
        fd = socks[n].fileno()
        child = subprocess.Popen(command(fd), stdin=subprocess.PIPE, pass_fds=(fd,))  # noqa: S603
        started[child.pid] = time.monotonic()
        return child

    children: list[subprocess.Popen[bytes]] = []
    try:
        children = [start(n) for n in range(len(socks))]
        while not stopping:
            time.sleep(0.2)
            for n, child in enumerate(children):
                if child.poll() is None or stopping:
                    continue
                if time.monotonic() - started[child.pid] < MIN_UPTIME:
                    raise RuntimeError(f"worker exited with {child.returncode} right after starting")
                log.error("worker %d exited with %s; starting another", child.pid, child.returncode)
                children[n] = start(n)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(grace)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.stdin is not None:
                child.stdin.close()
        for sock in socks:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
