"""The gateway's lean HTTP/1.1 server on raw sockets: keep-alive, pipelining, bodies, limits, timeouts,
malformed requests, graceful shutdown and lifespan (the gateway itself runs on it in the proxy and
mutual TLS tests)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway_env import LeanThread
from servers import free_port
from zhengwu.exchange.gateway.server import ServerLimits

LIMITS = ServerLimits(
    max_head_bytes=4096,
    max_headers=20,
    max_body_bytes=1000,
    keep_alive_timeout=1.0,
    request_timeout=1.0,
    shutdown_timeout=5.0,
)


class EchoApp:
    """Answers with method, path, query and body; ``/sleep/<ms>`` waits first; ``/stream`` streams."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        message = await receive()
        body = message["body"]
        path = scope["path"]
        if path.startswith("/sleep/"):
            await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
        if path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for part in (b"one,", b"two,", b"three"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        if path == "/fail":
            raise RuntimeError("boom")
        out = f"{scope['method']} {path} {scope['query_string'].decode()} ".encode() + body
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": out})


@pytest.fixture
def echo() -> Iterator[tuple[LeanThread, EchoApp]]:
    app = EchoApp()
    server = LeanThread(app, free_port(), limits=LIMITS)
    yield server, app
    server.stop()


def connect(server: LeanThread) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return sock


def read_answer(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str], bytes]:
    """One response (Content-Length or chunked) from ``sock``; leftover bytes stay in ``buffer``."""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed before a response head")
        buffer += data
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    buffer[:] = rest
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(buffer) < length:
            buffer += sock.recv(65536)
        body = bytes(buffer[:length])
        del buffer[:length]
        return status, headers, body
    assert headers.get("transfer-encoding") == "chunked"
    body = b""
    while True:
        while b"\r\n" not in buffer:
            buffer += sock.recv(65536)
        size_line, _, _ = bytes(buffer).partition(b"\r\n")
        size = int(size_line, 16)
        while len(buffer) < len(size_line) + 2 + size + 2:
            buffer += sock.recv(65536)
        body += bytes(buffer[len(size_line) + 2 : len(size_line) + 2 + size])
        del buffer[: len(size_line) + 2 + size + 2]
        if size == 0:
            return status, headers, body


def closed(sock: socket.socket, timeout: float = 5.0) -> bool:
    """True when the server closes the connection within ``timeout`` (data before the end is dropped)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_keep_alive_answers_several_requests_on_one_connection(echo: tuple[LeanThread, EchoApp]) -> None:
    server, _ = echo
    with connect(server) as sock:
        buffer = bytearray()
        for n in range(3):
            sock.sendall(f"GET /a/{n}?x={n} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            status, headers, body = read_answer(sock, buffer)
            assert status == 200 and body == f"GET /a/{n} x={n} ".encode()
            assert headers["content-type"] == "text/plain" and "connection" not in headers
            assert "date" in headers


def test_pipelined_requests_are_answered_in_order(echo: tuple[LeanThread, EchoApp]) -> None:
    server, _ = echo
    with connect(server) as sock:
        # The first takes longest: answers must still come in request order.
        sock.sendall(
            b"GET /sleep/200 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /sleep/50 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /sleep/0 HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        buffer = bytearray()
        bodies = [read_answer(sock, buffer)[2] for _ in range(3)]
    assert bodies == [b"GET /sleep/200  ", b"POST /sleep/50  abc", b"GET /sleep/0  "]


def test_many_pipelined_requests_pause_reading_and_all_get_answers(echo: tuple[LeanThread, EchoApp]) -> None:
    server, _ = echo
    with connect(server) as sock:
        sock.sendall(b"".join(f"GET /n/{n} HTTP/1.1\r\nHost: t\r\n\r\n".encode() for n in range(100)))
        buffer = bytearray()
        bodies = [read_answer(sock, buffer)[2] for _ in range(100)]
    assert bodies == [f"GET /n/{n}  ".encode() for n in range(100)]


def test_chunked_request_body_is_decoded(echo: tuple[LeanThread, EchoApp]) -> None:
    server, _ = echo
    with connect(server) as sock:
        sock.sendall(
            b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        status, _, body = read_answer(sock, bytearray())
    assert status == 200 and body == b"POST /c  hello world"


def test_streamed_answer_is_chunked(echo: tuple[LeanThread, EchoApp]) -> None:
    server, _ = echo
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
        response = client.get("/stream")
        assert response.status_code == 200 and response.text == "one,two,three"
        assert response.headers["transfer-encoding"] == "chunked"
        assert client.get("/after").text == "GET /after  "  # the connection is still usable


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_malformed_request_gets_400_and_the_connection_closes(
    echo: tuple[LeanThread, EchoApp], request_bytes: bytes
) -> None:
    server, _ = echo
    with connect(server) as sock:
        sock.sendall(request_bytes)
        status, headers, body = read_answer(sock, bytearray())
        assert status == 400 and headers["connection"] == "close"
        assert b"BadRequest" in body
        assert closed(sock)


def test_upgrade_is_ignored_and_the_connection_closes(echo: tuple[LeanThread, EchoApp]) -> None:
    server, _ = echo
    with connect(server) as sock:
        sock.sendall(b"GET /u HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        status, headers, body = read_answer(sock, bytearray())
        assert status == 200 and body == b"GET /u  " and headers["connection"] == "close"
        assert closed(sock)


def test_oversized_head_gets_431(echo: tuple[LeanThread, EchoApp]) -> None:
    server, _ = echo
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
        assert read_answer(sock, bytearray())[0] == 431
        assert closed(sock)
    with connect(server) as sock:
        many = b"".join(b"X-H%d: v\r\n" % n for n in range(30))
        sock.sendall(b"GET / HTTP/1.1\r\n" + many + b"\r\n")
        assert read_answer(sock, bytearray())[0] == 431


def test_oversized_body_gets_413_declared_or_chunked(echo: tuple[LeanThread, EchoApp]) -> None:
    server, _ = echo
    with connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")  # refused before the body
        assert read_answer(sock, bytearray())[0] == 413
        assert closed(sock)
    with connect(server) as sock:
        chunk = b"%x\r\n%s\r\n" % (600, b"x" * 600)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk)
        assert read_answer(sock, bytearray())[0] == 413


def test_slow_client_gets_408_and_idle_connection_closes(echo: tuple[LeanThread, EchoApp]) -> None:
    server, _ = echo
    with connect(server) as sock:
        sock.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n")  # never finishes its head
        began = time.monotonic()
        status, _, _ = read_answer(sock, bytearray())
        assert status == 408 and time.monotonic() - began < 4
        assert closed(sock)
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_answer(sock, bytearray())[0] == 200
        began = time.monotonic()
        assert closed(sock, timeout=5)  # keep_alive_timeout of 1 s, checked every second
        assert time.monotonic() - began < 4


def test_connection_close_and_http10_are_honoured(echo: tuple[LeanThread, EchoApp]) -> None:
    server, _ = echo
    with connect(server) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        status, headers, _ = read_answer(sock, bytearray())
        assert status == 200 and headers["connection"] == "close"
        assert closed(sock)
    with connect(server) as sock:
        sock.sendall(b"GET /x HTTP/1.0\r\n\r\n")
        assert read_answer(sock, bytearray())[0] == 200
        assert closed(sock)


def test_application_error_gets_500(echo: tuple[LeanThread, EchoApp]) -> None:
    server, _ = echo
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
        assert client.get("/fail").status_code == 500
        assert client.get("/ok").status_code == 200


def test_graceful_shutdown_finishes_the_answer_in_progress() -> None:
    app = EchoApp()
    server = LeanThread(app, free_port(), limits=LIMITS)
    answers: list[int] = []

    def call() -> None:
        answers.append(httpx.get(f"http://127.0.0.1:{server.port}/sleep/700", timeout=10).status_code)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)  # the request is in progress
    server.stop()
    caller.join(10)
    assert answers == [200]
    assert app.events == ["lifespan.startup", "lifespan.shutdown"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{server.port}/", timeout=2)


def test_head_has_no_body_and_http10_keep_alive_is_announced(echo: tuple[LeanThread, EchoApp]) -> None:
    server, _ = echo
    with connect(server) as sock:
        sock.sendall(b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\nGET /after HTTP/1.1\r\nHost: t\r\n\r\n")
        buffer = bytearray()
        # The HEAD answer carries no body (and no length the server cannot know): the next answer follows.
        while b"\r\n\r\n" not in buffer:
            buffer += sock.recv(65536)
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"content-length" not in head
        buffer[:] = rest
        assert read_answer(sock, buffer)[2] == b"GET /after  "
    with connect(server) as sock:
        sock.sendall(b"GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        buffer = bytearray()
        status, headers, _ = read_answer(sock, buffer)
        assert status == 200 and headers["connection"] == "keep-alive"
        sock.sendall(b"GET /k2 HTTP/1.0\r\n\r\n")
        assert read_answer(sock, buffer)[2] == b"GET /k2  "
        assert closed(sock)
