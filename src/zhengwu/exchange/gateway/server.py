"""A lean HTTP/1.1 server for the gateway: ASGI over ``httptools`` on (uv)loop protocols, no framework.

Why not uvicorn: py-spy of the gateway under load (docs/benchmarks.md, "Exchange gateway") put a quarter
of a worker's samples in uvicorn: its protocol callbacks, the ASGI task per request, flow-control
objects, the proxy-headers middleware, and two ``send`` system calls per answer (head, then body). This
server does only what the gateway needs and answers with one ``write`` per response. It runs any ASGI
HTTP application (so every gateway test runs against it as against uvicorn), with:

* keep-alive, and pipelining that is safe: requests are answered one at a time in order; parsed requests
  wait in a short queue and reading pauses while it is full,
* request bodies with Content-Length or chunked (decoded by ``httptools``), buffered whole up to
  ``max_body_bytes`` (413 beyond, also when the declared length is already larger),
* limits on the request head (431 past ``max_head_bytes`` or ``max_headers``), 400 on a malformed request
  (the connection is closed after the answer), 408 to a client that does not finish its request within
  ``request_timeout``; idle keep-alive connections close after ``keep_alive_timeout``,
* write flow control: ``send`` waits while the transport's buffer is full (a client that does not read
  holds only its own request), and is aborted after ``request_timeout`` without progress,
* TLS through the given ``ssl.SSLContext`` (mutual TLS: the peer certificate is in the ASGI TLS extension,
  ``scope["extensions"]["tls"]["client_cert_chain"]``, which :func:`.tls.peer_certificate` reads),
* lifespan startup/shutdown, graceful shutdown (stop accepting, finish the requests in progress within
  ``shutdown_timeout``, close idle connections).

``zhengwu gateway`` uses it by default (``--server lean``; ``--server uvicorn`` keeps uvicorn). Worker
processes (:mod:`.workers`) each run :func:`serve` on one shared listening socket.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import unquote

import httptools

log = logging.getLogger("zhengwu.exchange.gateway.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

_REASONS = {s.value: s.phrase.encode("latin-1") for s in HTTPStatus}
_ASGI = {"version": "3.0", "spec_version": "2.3"}


@dataclass(frozen=True)
class ServerLimits:
    """Limits and timeouts of the server (the defaults suit the gateway)."""

    max_head_bytes: int = 64 * 1024
    max_headers: int = 128
    max_body_bytes: int = 10 * 1024 * 1024
    #: Parsed requests waiting on one connection before reading pauses (pipelining).
    max_pipelined: int = 16
    keep_alive_timeout: float = 5.0
    request_timeout: float = 30.0
    shutdown_timeout: float = 30.0


class _Reject(Exception):
    """Raised from a parser callback: answer ``status`` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Request:
    __slots__ = ("body", "headers", "keep_alive", "method", "size", "target", "version")

    def __init__(self) -> None:
        self.target = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.method = "GET"
        self.version = "1.1"
        self.keep_alive = True


class HttpConnection(asyncio.Protocol):
    """One client connection: parse, queue, run the app for one request at a time, write answers."""

    def __init__(self, server: LeanServer) -> None:
        self.server = server
        self.limits = server.limits
        self.loop = server.loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.queue: deque[_Request] = deque()
        self.current: _Request | None = None  # being received
        self.head_bytes = 0
        self.busy = False  # a request is being answered
        self.closing = False
        self.lost = False
        self.reading_paused = False
        self.write_paused = False
        self.drained: asyncio.Future[None] | None = None
        self.last_activity = self.loop.time()
        self.began = 0.0  # when the request being received began
        self.write_paused_at = 0.0
        self.scheme = "http"
        self.tls: dict[str, Any] | None = None
        self.client: tuple[str, int] | None = None
        self.server_addr: tuple[str, int] | None = None
        self.pending_reject: bytes | None = None  # a refusal waiting for the answer in progress

    # ------------------------------------------------------------------ transport events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence a cast and not isinstance.
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections.add(self)
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self.client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self.server_addr = (str(local[0]), int(local[1])) if isinstance(local, tuple) else None
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.scheme = "https"
            der = ssl_object.getpeercert(binary_form=True)
            # Once per connection: the ASGI TLS extension carries the chain as PEM strings.
            self.tls = {
                "server_cert": None,
                "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
                "client_cert_name": None,
                "client_cert_error": None,
                "tls_version": None,
                "cipher_suite": None,
            }

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.server.connections.discard(self)
        self.queue.clear()
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.write_paused_at = self.loop.time()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.last_activity = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # No protocol switch here: the request is answered as plain HTTP (a server may ignore
            # Upgrade), and the connection closes after it, since the parser stops at this point.
            self.closing = True
            if not self.busy and not self.queue:
                self._close()
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Reject):
                self._reject(cause.status, str(cause))
            else:
                log.exception("HTTP parser callback failed")
                self._reject(500, "internal error")
        except httptools.HttpParserError as exc:
            self._reject(400, f"malformed HTTP request: {exc}")
        except _Reject as exc:  # some httptools versions re-raise the callback's own exception
            self._reject(exc.status, str(exc))

    def eof_received(self) -> bool | None:
        # The client closed its side: answer what it has sent completely, then close.
        self.closing = True
        self.current = None
        if not self.busy and not self.queue:
            self._close()
        # Keep the transport open for writing the answers in progress (TLS cannot half-close: there the
        # transport closes, as the asyncio SSL layer does in any case).
        return None if self.scheme == "https" else True

    # ------------------------------------------------------------------ httptools callbacks

    def on_message_begin(self) -> None:
        self.current = _Request()
        self.head_bytes = 0
        self.began = self.loop.time()

    def on_url(self, url: bytes) -> None:
        request = self.current
        assert request is not None
        self.head_bytes += len(url)
        if self.head_bytes > self.limits.max_head_bytes:
            raise _Reject(414, "request target too long")
        request.target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self.current
        assert request is not None
        self.head_bytes += len(name) + len(value) + 4
        if self.head_bytes > self.limits.max_head_bytes or len(request.headers) >= self.limits.max_headers:
            raise _Reject(431, "request header fields too large")
        name = name.lower()
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise _Reject(400, "invalid Content-Length") from None
            if declared > self.limits.max_body_bytes:
                raise _Reject(413, f"request body larger than {self.limits.max_body_bytes} bytes")
        request.headers.append((name, value))

    def on_headers_complete(self) -> None:
        request = self.current
        assert request is not None
        parser = self.parser
        request.method = parser.get_method().decode("ascii")
        request.version = parser.get_http_version()
        request.keep_alive = parser.should_keep_alive()
        for name, value in request.headers:
            if name == b"expect" and value.lower() == b"100-continue" and self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        request = self.current
        assert request is not None
        request.size += len(body)
        if request.size > self.limits.max_body_bytes:
            raise _Reject(413, f"request body larger than {self.limits.max_body_bytes} bytes")
        request.body.append(body)

    def on_message_complete(self) -> None:
        request = self.current
        assert request is not None
        self.current = None
        if self.closing:
            return
        self.queue.append(request)
        if not self.busy:
            self._next()
        elif len(self.queue) >= self.limits.max_pipelined and not self.reading_paused and self.transport:
            self.reading_paused = True
            self.transport.pause_reading()

    # ------------------------------------------------------------------ answering

    def _next(self) -> None:
        request = self.queue.popleft()
        self.busy = True
        if self.reading_paused and len(self.queue) < self.limits.max_pipelined // 2 and self.transport:
            self.reading_paused = False
            self.transport.resume_reading()
        self.loop.create_task(_Cycle(self, request).run())

    def done(self, keep_alive: bool) -> None:
        """The answer to the current request is written (or abandoned)."""
        self.busy = False
        self.last_activity = self.loop.time()
        if self.lost:
            return
        if not keep_alive or self.server.stopping:
            self._close()
        elif self.queue:
            self._next()
        elif self.closing:
            self._close()

    def _reject(self, status: int, message: str) -> None:
        """Answer a request that cannot be parsed or accepted, then close (after earlier answers)."""
        self.current = None
        self.queue.clear()
        self.closing = True
        # In the shape of an X-Road error (this server exists for the gateway); it never reached the app,
        # so it has no X-Road-Id and no message log record: like uvicorn's own 400, it is not a call.
        body = json.dumps({"type": "Client.BadRequest", "message": message, "detail": ""}).encode()
        headers = [(b"content-type", b"application/json"), (b"x-road-error", b"Client.BadRequest")]
        answer = _head(status, headers, len(body), True, self.server.date) + body
        if self.busy:
            # The answer in progress goes first; this one follows it, then the connection closes.
            self.pending_reject = answer
            return
        self._write_and_close(answer)

    def _write_and_close(self, data: bytes) -> None:
        if self.transport is not None and not self.lost:
            self.transport.write(data)
        self._close()

    def _close(self) -> None:
        if self.pending_reject is not None and self.transport is not None and not self.lost:
            data, self.pending_reject = self.pending_reject, None
            self.transport.write(data)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    async def wait_drained(self) -> None:
        if self.write_paused and not self.lost:
            self.drained = self.loop.create_future()
            await self.drained
            self.drained = None

    def check_timeouts(self, now: float) -> None:
        """Called about once a second by the server: idle, slow and stuck connections."""
        limits = self.limits
        if self.lost:
            return
        if self.current is not None and now - self.began > limits.request_timeout and not self.busy:
            self._reject(408, "request not received in time")
        elif self.write_paused and now - self.write_paused_at > limits.request_timeout:
            if self.transport is not None:
                self.transport.abort()
        elif (
            not self.busy
            and not self.queue
            and self.current is None
            and now - self.last_activity > limits.keep_alive_timeout
        ):
            self._close()

    def shutdown(self) -> None:
        """Server stopping: close now if idle, else after the answer in progress."""
        self.closing = True
        self.queue.clear()
        if not self.busy:
            self._close()


class _Cycle:
    """One request/response: the ASGI ``receive`` and ``send`` of one call."""

    __slots__ = (
        "chunked",
        "conn",
        "finished",
        "head_sent",
        "headers",
        "keep_alive",
        "request",
        "sent_body",
        "started",
        "status",
    )  # fmt: skip

    def __init__(self, conn: HttpConnection, request: _Request) -> None:
        self.conn = conn
        self.request = request
        self.started = False
        self.finished = False
        self.status = 200
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunked = False
        self.keep_alive = request.keep_alive
        self.sent_body = False
        self.head_sent = False

    def scope(self) -> Scope:
        conn = self.conn
        request = self.request
        target = request.target
        path_part, _, query = target.partition(b"?")
        path_part = path_part.split(b"#", 1)[0]
        raw = path_part.decode("latin-1")
        path = unquote(raw) if "%" in raw else raw  # ASGI: decoded; the gateway reads raw_path
        scope: Scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": request.version,
            "method": request.method,
            "scheme": conn.scheme,
            "path": path,
            "raw_path": path_part,
            "query_string": query,
            "root_path": "",
            "headers": request.headers,
            "client": conn.client,
            "server": conn.server_addr,
            "state": {},
        }
        if conn.tls is not None:
            scope["extensions"] = {"tls": conn.tls}
        return scope

    async def run(self) -> None:
        conn = self.conn
        try:
            await conn.server.app(self.scope(), self.receive, self.send)
        except Exception:
            log.exception("the application failed on %s %s", self.request.method, self.request.target[:200])
            if not self.started and not conn.lost:
                self.keep_alive = False
                body = b"Internal Server Error"
                await self._write(
                    _head(500, [(b"content-type", b"text/plain")], len(body), True, conn.server.date) + body
                )
                self.finished = True
        if not self.finished:
            # The app returned without a complete answer: the connection state is unknown.
            self.keep_alive = False
        conn.done(self.keep_alive)

    async def receive(self) -> Message:
        if not self.sent_body:
            self.sent_body = True
            body = self.request.body
            return {
                "type": "http.request",
                "body": body[0] if len(body) == 1 else b"".join(body),
                "more_body": False,
            }
        # Nothing more to read: wait until the answer is done or the client goes away.
        while not self.conn.lost and not self.finished:
            await asyncio.sleep(0.5)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        conn = self.conn
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError("http.response.start sent twice")
            self.started = True
            self.status = int(message["status"])
            self.headers = list(message.get("headers") or ())
            return
        if kind != "http.response.body":
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        if not self.started or self.finished:
            raise RuntimeError("http.response.body outside a response")
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        bodiless = self.request.method == "HEAD" or self.status in (204, 304) or 100 <= self.status < 200
        if bodiless:
            body = b""
        if not self.head_sent:
            self.head_sent = True
            length: int | None = None
            for name, value in self.headers:
                if name.lower() == b"content-length":
                    length = int(value)
                    break
            headers = self.headers
            if self.request.version == "1.0" and self.keep_alive:
                headers = [*headers, (b"connection", b"keep-alive")]
            if length is None and bodiless:
                length = -2  # no length to announce (HEAD: unknown here; 204/304/1xx: none allowed)
            elif length is None:
                if more:
                    self.chunked = True
                    headers = [*headers, (b"transfer-encoding", b"chunked")]
                    length = -1
                else:
                    length = len(body)
            else:
                length = -2  # given by the app
            if self.conn.closing or conn.server.stopping:
                self.keep_alive = False
            data = _head(self.status, headers, length, not self.keep_alive, conn.server.date)
            data += b"%x\r\n%s\r\n" % (len(body), body) if self.chunked and body else body
        elif self.chunked:
            data = b"%x\r\n%s\r\n" % (len(body), body) if body else b""
        else:
            data = body
        if not more:
            if self.chunked:
                data += b"0\r\n\r\n"
            self.finished = True
        if data:
            await self._write(data)

    async def _write(self, data: bytes) -> None:
        conn = self.conn
        if conn.lost or conn.transport is None:
            return
        conn.transport.write(data)
        await conn.wait_drained()


def _head(status: int, headers: list[tuple[bytes, bytes]], length: int, close: bool, date: bytes) -> bytes:
    """The status line and headers (``length`` ≥ 0: add Content-Length; < 0: the headers have it)."""
    reason = _REASONS.get(status, b"")
    parts = [b"HTTP/1.1 %d %s\r\ndate: %s\r\nserver: zhengwu\r\n" % (status, reason, date)]
    for name, value in headers:
        parts.append(b"%s: %s\r\n" % (name, value))
    if length >= 0:
        parts.append(b"content-length: %d\r\n" % length)
    if close:
        parts.append(b"connection: close\r\n")
    parts.append(b"\r\n")
    return b"".join(parts)


class LeanServer:
    """The listening side: connections, the once-a-second clock (Date header, timeouts), shutdown."""

    def __init__(self, app: ASGIApp, limits: ServerLimits | None = None) -> None:
        self.app = app
        self.limits = limits or ServerLimits()
        self.loop = asyncio.get_running_loop()
        self.connections: set[HttpConnection] = set()
        self.stopping = False
        self.date = _http_date()
        self._servers: list[asyncio.AbstractServer] = []
        self._ticker: asyncio.TimerHandle | None = None

    async def listen(self, sock: Any, ssl_context: ssl.SSLContext | None = None) -> None:
        """Accept connections on the bound, listening socket ``sock``."""
        server = await self.loop.create_server(
            lambda: HttpConnection(self), sock=sock, ssl=ssl_context, backlog=2048
        )
        self._servers.append(server)
        if self._ticker is None:
            self._ticker = self.loop.call_later(1.0, self._tick)

    def _tick(self) -> None:
        # One timer for every connection instead of one per request (a timer per call costs ~2 %).
        self.date = _http_date()
        now = self.loop.time()
        for conn in list(self.connections):
            conn.check_timeouts(now)
        self._ticker = self.loop.call_later(1.0, self._tick)

    async def stop(self) -> None:
        """Stop accepting, let the answers in progress finish (``shutdown_timeout``), close the rest."""
        self.stopping = True
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            conn.shutdown()
        deadline = self.loop.time() + self.limits.shutdown_timeout
        while self.connections and self.loop.time() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for server in self._servers:
            await server.wait_closed()


def _http_date() -> bytes:
    return formatdate(time.time(), usegmt=True).encode("ascii")


class Lifespan:
    """The ASGI lifespan protocol around the server's life (the gateway starts its pools there)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()
        self.error: str | None = None
        self.task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Run the app's startup; raise if it reports a failure."""
        self.task = asyncio.get_running_loop().create_task(self._run())
        await self.inbox.put({"type": "lifespan.startup"})
        await self.started.wait()
        if self.error is not None:
            raise RuntimeError(f"application startup failed: {self.error}")

    async def shutdown(self) -> None:
        """Run the app's shutdown (waits for it to complete)."""
        if self.task is None or self.task.done():
            return
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self.stopped.wait()

    async def _run(self) -> None:
        scope: Scope = {"type": "lifespan", "asgi": _ASGI, "state": {}}
        try:
            await self.app(scope, self.inbox.get, self._send)
        except Exception as exc:
            if not self.started.is_set():
                # An app without lifespan support may raise on the scope: it just has no startup.
                log.debug("lifespan not supported by the application: %s", exc)
            else:
                log.exception("application shutdown failed")
        finally:
            self.started.set()
            self.stopped.set()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self.started.set()
        elif kind == "lifespan.startup.failed":
            self.error = str(message.get("message", ""))
            self.started.set()
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            self.stopped.set()


async def serve(
    app: ASGIApp,
    sock: Any,
    *,
    ssl_context: ssl.SSLContext | None = None,
    limits: ServerLimits | None = None,
    stop: asyncio.Event | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` on the listening socket ``sock`` until ``stop`` is set, then shut down gracefully."""
    lifespan = Lifespan(app)
    await lifespan.startup()
    server = LeanServer(app, limits)
    await server.listen(sock, ssl_context)
    if ready is not None:
        ready()
    if stop is None:
        stop = asyncio.Event()
    await stop.wait()
    await server.stop()
    await lifespan.shutdown()
