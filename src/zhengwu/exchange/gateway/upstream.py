"""A lean pooled HTTP/1.1 client for forwarding calls to providers' services.

Why not httpx: measured on these machines (2 loaded cores), one keep-alive request to a local JSON
service took ≈ 15.6 ms through ``httpx.AsyncClient`` and ≈ 1.2 ms over plain asyncio streams; the
gateway forwards every call, so the client library was most of the gateway's time. This client does
only what forwarding needs: keep-alive connections per origin (bounded), one request at a time per
connection, the response parsed by ``httptools`` (the C parser uvicorn uses; chunked bodies decoded),
a deadline over the whole exchange, no redirects (PR-REST 4.4), no decompression (the gateway asks for
``identity``), a response size limit.

A request on a reused connection that fails before any response byte arrives is retried once on a new
connection: the provider may have closed an idle connection at the moment it was taken from the pool.

Each connection is an ``asyncio.Protocol`` with its own ``httptools`` parser, not a stream pair: a call
costs one ``write`` and one future, without the stream reader's buffer copies and wake-ups. Deadlines
are checked by one timer per pool every 20 ms while requests are in flight, not by an
``asyncio.timeout`` (a timer, a context manager and a reschedule) per call (both measured at several
per cent of the gateway's CPU, docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import httptools

#: Largest response body accepted from a provider.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class UpstreamTimeout(Exception):
    """The provider did not answer within the deadline."""


class UpstreamFailure(Exception):
    """The provider could not be reached or answered something that is not HTTP/1.1."""


@dataclass
class UpstreamResponse:
    """Status, headers (names lower-case, as received order) and the whole body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str:
        """The first value of header ``name`` (lower-case), or ``""``."""
        for key, value in self.headers:
            if key == name:
                return value
        return ""


#: How often the pool checks the deadlines of requests in flight (seconds).
DEADLINE_TICK = 0.02


class _Conn(asyncio.Protocol):
    """One keep-alive connection to a provider; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[UpstreamResponse] | None = None
        self.method = "GET"
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.received = False
        self.headers_done = False
        self.delimited = False  # the answer has a Content-Length or is chunked
        self.closing = False  # the provider said Connection: close
        self.lost = False
        self.deadline = 0.0
        self.keep = False

    # transport events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            # Bytes nobody asked for: this connection cannot be trusted for the next request.
            self.lost = True
            if self.transport is not None:
                self.transport.close()
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(UpstreamFailure("the answer is not valid HTTP/1.1"))
            return
        if self.size > MAX_RESPONSE_BYTES:
            self._fail(UpstreamFailure(f"answer larger than {MAX_RESPONSE_BYTES} bytes"))
        elif self.headers_done and (self.method == "HEAD" or self.parser.get_status_code() in (204, 304)):
            self._complete(keep=False)

    def eof_received(self) -> bool | None:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is None or self.waiter.done():
            return
        if not self.received:
            reason = type(exc).__name__ if exc is not None else "connection closed before the answer"
            self._fail(_NothingReceived(reason))
        elif self.headers_done and not self.delimited:
            self._complete(keep=False)  # a body delimited by the connection's end
        else:
            what = type(exc).__name__ if exc is not None else "closed mid-answer"
            self._fail(UpstreamFailure(f"connection lost: {what}"))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key == "content-length" or (key == "transfer-encoding" and "chunked" in text.lower()):
            self.delimited = True
        elif key == "connection" and "close" in text.lower():
            self.closing = True
        self.headers.append((key, text))

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size <= MAX_RESPONSE_BYTES:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.size > MAX_RESPONSE_BYTES:
            self._fail(UpstreamFailure(f"answer larger than {MAX_RESPONSE_BYTES} bytes"))
        else:
            self._complete(keep=True)

    # the exchange

    def send(self, method: str, data: bytes, deadline: float) -> asyncio.Future[UpstreamResponse]:
        assert self.transport is not None
        self.method = method
        self.headers = []
        self.body = []
        self.size = 0
        self.received = self.headers_done = self.delimited = self.closing = False
        self.deadline = deadline
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def _complete(self, *, keep: bool) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        parser = self.parser
        # httptools' should_keep_alive() is False once the message is complete: decide from the answer.
        self.keep = (
            keep and not self.lost and not self.closing and self.method != "HEAD"
            and parser.get_http_version() == "1.1"
        )  # fmt: skip
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        waiter.set_result(UpstreamResponse(parser.get_status_code(), self.headers, body))

    def _fail(self, exc: Exception) -> None:
        self.keep = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.close()

    def expire(self) -> None:
        """The deadline passed: fail the request and drop the connection."""
        self._fail(_Expired())

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()


class UpstreamPool:
    """Keep-alive connections per origin; at most ``max_per_origin`` requests to one provider at a time."""

    def __init__(self, *, max_per_origin: int = 256, max_idle_per_origin: int = 64) -> None:
        self.max_per_origin = max_per_origin
        self.max_idle = max_idle_per_origin
        self._idle: dict[tuple[str, str, int], list[_Conn]] = {}
        self._busy: dict[tuple[str, str, int], int] = {}
        self._queued: dict[tuple[str, str, int], deque[asyncio.Future[None]]] = {}
        self._inflight: set[_Conn] = set()
        self._bases: dict[str, tuple[tuple[str, str, int], str]] = {}
        self._ticker: asyncio.TimerHandle | None = None
        self._ssl: ssl.SSLContext | None = None
        self._closed = False

    async def aclose(self) -> None:
        """Close every idle connection."""
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    async def request(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        timeout: float,
    ) -> UpstreamResponse:
        """Send one request and read the whole answer within ``timeout`` seconds."""
        origin, host, target = self._split(url)
        lines = [f"{method} {target} HTTP/1.1", f"host: {host}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"content-length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await self._acquire(origin, deadline)
            try:
                return await self._exchange(origin, method, data, deadline)
            finally:
                self._release(origin)
        except (TimeoutError, _Expired) as exc:
            raise UpstreamTimeout(f"no answer within {timeout:g} s") from exc

    def _split(self, url: str) -> tuple[tuple[str, str, int], str, str]:
        """(origin, Host header, request target) of ``url``; the origin part is parsed once per base."""
        start = url.find("://")
        end = len(url)
        if start >= 0:
            for mark in "/?#":
                found = url.find(mark, start + 3)
                if 0 <= found < end:
                    end = found
        base, rest = url[:end], url[end:]
        known = self._bases.get(base)
        if known is None:
            parts = urlsplit(base)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise UpstreamFailure(f"unsupported upstream URL scheme {parts.scheme!r}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            known = ((parts.scheme, parts.hostname, port), parts.netloc.rsplit("@", 1)[-1])
            if len(self._bases) < 10_000:
                self._bases[base] = known
        # The target as urlsplit gives it: path (at least "/") and query, never a fragment.
        target = rest.split("#", 1)[0] or "/"
        if target.startswith("?"):
            target = "/" + target
        return known[0], known[1], target

    async def _acquire(self, origin: tuple[str, str, int], deadline: float) -> None:
        busy = self._busy.get(origin, 0)
        if busy < self.max_per_origin:
            self._busy[origin] = busy + 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queued.setdefault(origin, deque())
        queue.append(waiter)
        try:
            await asyncio.wait_for(waiter, max(0.0, deadline - asyncio.get_running_loop().time()))
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release(origin)  # handed a slot just as we gave up: pass it on
            else:
                waiter.cancel()
            raise

    def _release(self, origin: tuple[str, str, int]) -> None:
        queue = self._queued.get(origin)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes straight to the next caller
                return
        self._busy[origin] -= 1

    async def _connect(self, origin: tuple[str, str, int], deadline: float) -> _Conn:
        scheme, host, port = origin
        context: ssl.SSLContext | None = None
        if scheme == "https":
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(_Conn, host, port, ssl=context), max(0.0, deadline - loop.time())
            )
        except OSError as exc:
            raise UpstreamFailure(f"cannot connect: {type(exc).__name__}") from exc
        return conn

    async def _roundtrip(self, conn: _Conn, method: str, data: bytes, deadline: float) -> UpstreamResponse:
        waiter = conn.send(method, data, deadline)
        self._inflight.add(conn)
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().call_later(DEADLINE_TICK, self._tick)
        try:
            return await waiter
        finally:
            self._inflight.discard(conn)

    def _tick(self) -> None:
        now = asyncio.get_running_loop().time()
        for conn in [c for c in self._inflight if c.deadline <= now]:
            conn.expire()
        self._ticker = (
            asyncio.get_running_loop().call_later(DEADLINE_TICK, self._tick) if self._inflight else None
        )

    async def _exchange(
        self, origin: tuple[str, str, int], method: str, data: bytes, deadline: float
    ) -> UpstreamResponse:
        idle = self._idle.get(origin)
        conn = None
        while idle and conn is None:
            conn = idle.pop()
            if conn.lost:
                conn = None
        reused = conn is not None
        if conn is None:
            conn = await self._connect(origin, deadline)
        try:
            response = await self._roundtrip(conn, method, data, deadline)
        except _NothingReceived as exc:
            conn.close()
            if not reused:
                raise UpstreamFailure(str(exc)) from exc
            conn = await self._connect(origin, deadline)
            try:
                response = await self._roundtrip(conn, method, data, deadline)
            except _NothingReceived as again:
                conn.close()
                raise UpstreamFailure(str(again)) from again
            except BaseException:
                conn.close()
                raise
        except BaseException:
            conn.close()
            raise
        pool = self._idle.setdefault(origin, [])
        if conn.keep and not conn.lost and not self._closed and len(pool) < self.max_idle:
            pool.append(conn)
        else:
            conn.close()
        return response


class _NothingReceived(Exception):
    """The connection failed before the first response byte (safe to retry on a fresh connection)."""


class _Expired(Exception):
    """A request's deadline passed (becomes :class:`UpstreamTimeout`)."""
