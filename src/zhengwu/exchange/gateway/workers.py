"""Running the gateway on the lean server (:mod:`.server`): one process, or N worker processes.

With ``workers > 1`` the supervisor of :mod:`zhengwu.web.workers` (one ``SO_REUSEPORT`` socket per
worker, restarts, graceful stop, workers that stop with it) runs each worker as a fresh interpreter
(``python -m zhengwu.exchange.gateway.workers --fd N``) that builds the gateway from the environment
(:func:`.api.create_gateway_app`, as uvicorn's workers did) and serves its inherited socket on uvloop.

Once the gateway has started (every domain's models imported and configured: ≈ 500,000 objects), the
worker moves them out of the garbage collector's reach (``gc.freeze``): a full collection over them took
≈ 0.5 s on this machine, a pause every call in flight would wait through.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import sys
from pathlib import Path

import uvloop

from zhengwu.exchange.gateway.api import create_gateway_app
from zhengwu.exchange.gateway.server import ServerLimits, serve
from zhengwu.exchange.gateway.tls import TlsOptions, server_context
from zhengwu.web.workers import bind, bind_workers, inherited_socket, stop_when_stdin_closes, supervise

log = logging.getLogger("zhengwu.exchange.gateway.workers")


def _serve_socket(sock: socket.socket, tls: TlsOptions | None, *, watch_stdin: bool) -> None:
    """Serve the gateway on ``sock`` in this process until SIGINT/SIGTERM (or stdin's end)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if watch_stdin:
            stop_when_stdin_closes(lambda: loop.call_soon_threadsafe(stop.set))
        context = server_context(tls) if tls is not None else None
        await serve(
            create_gateway_app(), sock, ssl_context=context, limits=ServerLimits(), stop=stop, ready=gc.freeze
        )

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def _worker_command(fd: int, tls: TlsOptions | None) -> list[str]:
    cmd = [sys.executable, "-m", "zhengwu.exchange.gateway.workers", "--fd", str(fd)]
    if tls is not None:
        cmd += ["--tls-cert", str(tls.certfile)]
        if tls.keyfile is not None:
            cmd += ["--tls-key", str(tls.keyfile)]
        if tls.client_ca is not None:
            cmd += ["--tls-client-ca", str(tls.client_ca)]
    return cmd


def run(host: str, port: int, *, workers: int = 1, tls: TlsOptions | None = None) -> None:
    """Serve the gateway (configured through ``ZHENGWU_GATEWAY_*``) until interrupted."""
    if workers <= 1:
        _serve_socket(bind(host, port), tls, watch_stdin=False)
        return
    supervise(
        bind_workers(host, port, workers),
        lambda fd: _worker_command(fd, tls),
        grace=ServerLimits().shutdown_timeout + 10,
    )


def main() -> None:
    """Entry point of a worker process (started by :func:`run`)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--tls-client-ca", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("ZHENGWU_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    sock = inherited_socket(args.fd)
    tls = TlsOptions(args.tls_cert, args.tls_key, args.tls_client_ca) if args.tls_cert else None
    _serve_socket(sock, tls, watch_stdin=True)


if __name__ == "__main__":
    main()
