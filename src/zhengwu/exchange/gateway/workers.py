"""Running the gateway on the lean server (:mod:`.server`): one process, or N worker processes.

The listening sockets are bound here; with ``workers > 1`` each worker is a fresh interpreter
(``python -m zhengwu.exchange.gateway.workers``) that inherits **its own** socket of the port
(``SO_REUSEPORT``: the kernel spreads new connections over the sockets by address hash; on one shared
socket the first uvloop worker to wake accepts a whole burst of keep-alive connections and the other
idles, measured for ``zhengwu serve`` in :mod:`zhengwu.web.server`), builds the gateway from the
environment (:func:`.api.create_gateway_app`, as uvicorn's workers did) and serves on uvloop. The
supervisor restarts a worker that dies, forwards SIGINT/SIGTERM as a graceful stop, and each worker
also stops when its stdin closes, i.e. when the supervisor is gone, even after a SIGKILL (the same
rule as the log writer process): a worker never outlives the command.

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
import subprocess
import sys
import time
from pathlib import Path

import uvloop

from zhengwu.exchange.gateway.api import create_gateway_app
from zhengwu.exchange.gateway.server import ServerLimits, serve
from zhengwu.exchange.gateway.tls import TlsOptions, server_context

log = logging.getLogger("zhengwu.exchange.gateway.workers")


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket (IPv4 or IPv6 by the host's form); ``reuse_port``: one of several on the
    same port, each served by one worker."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _serve_socket(sock: socket.socket, tls: TlsOptions | None, *, watch_stdin: bool) -> None:
    """Serve the gateway on ``sock`` in this process until SIGINT/SIGTERM (or stdin's end)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if watch_stdin:

            def on_stdin() -> None:
                if not os.read(0, 4096):
                    loop.remove_reader(0)
                    stop.set()

            loop.add_reader(0, on_stdin)
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
    first = bind(host, port, reuse_port=True)
    # The same port for every worker (port 0 asks the kernel for one, then the others join it).
    socks = [first] + [bind(host, first.getsockname()[1], reuse_port=True) for _ in range(workers - 1)]
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def start(n: int) -> subprocess.Popen[bytes]:
        # Our own interpreter and module, with arguments built here; a restarted worker takes over the
        # socket of the one it replaces (connections queued on it meanwhile are served, not lost).
        fd = socks[n].fileno()
        return subprocess.Popen(_worker_command(fd, tls), stdin=subprocess.PIPE, pass_fds=(fd,))  # noqa: S603

    children = [start(n) for n in range(workers)]
    try:
        while not stopping:
            time.sleep(0.2)
            for n, child in enumerate(children):
                if child.poll() is not None and not stopping:
                    log.error("gateway worker %d exited (%s); starting another", child.pid, child.returncode)
                    children[n] = start(n)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(ServerLimits().shutdown_timeout + 10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.stdin is not None:
                child.stdin.close()
        for sock in socks:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main() -> None:
    """Entry point of a worker process (started by :func:`run`)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--tls-client-ca", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("ZHENGWU_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    sock = socket.socket(fileno=args.fd)
    sock.setblocking(False)
    tls = TlsOptions(args.tls_cert, args.tls_key, args.tls_client_ca) if args.tls_cert else None
    _serve_socket(sock, tls, watch_stdin=True)


if __name__ == "__main__":
    main()
