"""The HTTP protocol `zhengwu serve` runs under uvicorn: httptools, one socket write per answer.

uvicorn's httptools protocol writes an answer's status line and headers (on ``http.response.start``) and
its body (on ``http.response.body``) with two ``transport.write`` calls, so two ``send`` system calls and,
with ``TCP_NODELAY``, two TCP segments, each of which the kernel delivers to the peer (on loopback, in the
sender's own system call). For small JSON answers, the registries' lookups and verifications, those two
writes were ≈ 15 % of a worker's CPU (py-spy; docs/benchmarks.md). :class:`OneWriteHttpToolsProtocol`
gives the protocol a transport that holds a write until the next one or the end of the current event-loop
step, whichever comes first: a head and a body sent in the same step (every complete answer whose body
is in one message) leave in one write; nothing waits longer than one loop step, and the order of the bytes
never changes.

:func:`run_workers` runs several worker processes, each with **its own listening socket** on the same port
(``SO_REUSEPORT``), so the kernel spreads new connections over the workers by their address hash. With
uvicorn's own ``--workers`` every worker waits on one shared socket, and the first libuv loop to wake
accepts every pending connection: a burst of keep-alive connections (a load generator, a proxy's pool)
then lands 13 to 3 or 11 to 5 on two workers (measured: 6,728 against 1,718 and 6,704 against 2,910 calls
in 5 s), and the busier worker is the bottleneck while the other idles. (libuv's ``UV_TCP_SINGLE_ACCEPT``
switch, the usual remedy, is gone from the libuv that uvloop bundles.)
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("zhengwu.web.server")


class _OneWriteTransport:
    """A transport whose writes made in one event-loop step leave as one write (see the module docstring).

    Only the calls uvicorn's protocol makes are defined; everything else is the wrapped transport's."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is None:
            # The first write of a step: keep it for the next one (the body after the head), at most
            # until the end of this step.
            self._held = bytes(data)
            self._loop.call_soon(self._flush)
        else:
            self._held = None
            self._transport.write(held + data)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held)

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing each answer in one piece (``uvicorn --http`` takes it)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Flow control and the addresses keep the real transport; requests and answers use the wrapper.
        self.transport = _OneWriteTransport(transport, self.loop)  # type: ignore[assignment]


def _listen_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(app: str, host: str, port: int, options: dict[str, Any]) -> None:
    """One worker process: its own socket on the shared port, uvicorn serving ``app`` (a factory)."""
    sock = _listen_socket(host, port)
    config = uvicorn.Config(app, factory=True, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(app: str, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve ``app`` (``"module:factory"``) with ``workers`` uvicorn processes on ``host:port``, each on
    its own ``SO_REUSEPORT`` socket (see the module docstring); ``options`` go to :class:`uvicorn.Config`.

    A worker that dies is started again; SIGINT or SIGTERM stops every worker (each finishes its calls in
    flight, as uvicorn does on shutdown) and returns."""
    if port == 0:
        raise ValueError("several workers need a fixed port")
    _listen_socket(host, port).close()  # the port is free (or ours already): fail here, not in each worker
    context = multiprocessing.get_context("spawn")
    stopping = False

    started: dict[int | None, float] = {}

    def start() -> multiprocessing.process.BaseProcess:
        process = context.Process(target=_worker, args=(app, host, port, options), daemon=False)
        process.start()
        started[process.pid] = time.monotonic()
        return process

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(workers)]
    try:
        while not stopping:
            time.sleep(0.2)
            for i, process in enumerate(processes):
                if not process.is_alive() and not stopping:
                    if time.monotonic() - started[process.pid] < 10:  # it cannot start: do not loop
                        raise RuntimeError(f"worker exited with {process.exitcode} right after starting")
                    log.error("worker %s exited with %s; starting another", process.pid, process.exitcode)
                    processes[i] = start()
    finally:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _QuietServer(uvicorn.Server):
    """uvicorn in a background thread: no signal handlers, the main thread keeps Ctrl+C."""

    def install_signal_handlers(self) -> None:
        return None


@contextmanager
def served_briefly(app: Any, *, port: int | None = None, start_timeout: float = 20) -> Iterator[int]:
    """Serve ``app`` on 127.0.0.1 in a background thread for the ``with`` block; yields the port (a spare
    one unless given). The demo uses it before it serves: calls through the gateway need the upstreams
    reachable over HTTP for a moment."""
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
    server = _QuietServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.02)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
