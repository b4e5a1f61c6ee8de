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

:func:`run_workers` runs several worker processes under the supervisor of :mod:`zhengwu.web.workers`,
each with **its own listening socket** on the same port (``SO_REUSEPORT``), so the kernel spreads new
connections over the workers; each worker (``python -m zhengwu.web.server --fd N``) runs uvicorn on its
inherited socket and builds the app from the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from zhengwu.web.workers import bind_workers, inherited_socket, stop_when_stdin_closes, supervise

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


#: :class:`OneWriteHttpToolsProtocol` as uvicorn's ``http`` option in a worker's JSON options.
ONE_WRITE_HTTP: Final = "zhengwu.web.server:OneWriteHttpToolsProtocol"


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing each answer in one piece (``uvicorn --http`` takes it)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Flow control and the addresses keep the real transport; requests and answers use the wrapper.
        self.transport = _OneWriteTransport(transport, self.loop)  # type: ignore[assignment]


#: How long a stopping worker may take to finish its calls in flight (then it is killed).
STOP_GRACE: Final = 30.0


def _worker_command(fd: int, app: str, options: dict[str, Any]) -> list[str]:
    return [
        sys.executable, "-m", "zhengwu.web.server", "--fd", str(fd), "--app", app,
        "--options", json.dumps(options),
    ]  # fmt: skip


def run_workers(app: str, *, host: str, port: int, workers: int, **options: Any) -> None:
    """Serve ``app`` (``"module:factory"``) with ``workers`` uvicorn processes on ``host:port``, each on
    its own ``SO_REUSEPORT`` socket (:mod:`zhengwu.web.workers`); ``options`` go to
    :class:`uvicorn.Config` and must be JSON (a protocol class as its import string).

    A worker that dies is started again; SIGINT or SIGTERM stops every worker (each finishes its calls in
    flight, as uvicorn does on shutdown) and returns."""
    json.dumps(options)  # refuse what a worker could not be given, before anything starts
    socks = bind_workers(host, port, workers)
    supervise(socks, lambda fd: _worker_command(fd, app, options), grace=STOP_GRACE)


def main() -> None:
    """Entry point of a worker process (started by :func:`run_workers`)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--app", required=True)
    parser.add_argument("--options", default="{}")
    args = parser.parse_args()
    server = uvicorn.Server(uvicorn.Config(args.app, factory=True, **json.loads(args.options)))
    stop_when_stdin_closes(lambda: setattr(server, "should_exit", True))
    server.run(sockets=[inherited_socket(args.fd)])


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


if __name__ == "__main__":
    main()
