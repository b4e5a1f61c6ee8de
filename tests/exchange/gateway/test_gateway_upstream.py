"""The pooled upstream client against a raw HTTP server: chunked, close-delimited, stale, slow, huge."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from zhengwu.exchange.gateway import upstream
from zhengwu.exchange.gateway.upstream import UpstreamFailure, UpstreamPool, UpstreamTimeout

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def test_keep_alive_chunked_and_close_delimited_bodies() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            if b"/chunked" in head:
                writer.write(
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                )
            elif b"/close" in head:
                writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil-the-end")
                await writer.drain()
                writer.close()
                return
            else:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nX-A: 1\r\n\r\nok")
            await writer.drain()

    async def main() -> None:
        server, url = await _serve(handler)
        pool = UpstreamPool()
        first = await pool.request("GET", url + "/a", [], b"", timeout=2)
        second = await pool.request("GET", url + "/b?x=1", [("x-test", "v")], b"", timeout=2)
        assert first.body == second.body == b"ok" and first.header("x-a") == "1"
        assert len(pool._idle[("http", "127.0.0.1", int(url.rsplit(":", 1)[1]))]) == 1  # reused
        assert (await pool.request("GET", url + "/chunked", [], b"", timeout=2)).body == b"abcde"
        assert (await pool.request("GET", url + "/close", [], b"", timeout=2)).body == b"until-the-end"
        await pool.aclose()
        server.close()

    asyncio.run(main())


def test_stale_pooled_connection_is_retried_once() -> None:
    served = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        await _read_request(reader)
        served += 1
        # Answers keep-alive, then drops the connection as an idle timeout would.
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1")
        await writer.drain()
        writer.close()

    async def main() -> None:
        server, url = await _serve(handler)
        pool = UpstreamPool()
        await pool.request("GET", url, [], b"", timeout=2)
        await asyncio.sleep(0.05)
        again = await pool.request("POST", url, [], b"{}", timeout=2)
        assert again.body == b"1" and served == 2
        await pool.aclose()
        server.close()

    asyncio.run(main())


def test_timeout_refused_connection_garbage_and_huge_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream, "MAX_RESPONSE_BYTES", 1000)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await _read_request(reader)
        if b"/slow" in head:
            await asyncio.sleep(2)
        elif b"/garbage" in head:
            writer.write(b"SMTP ready\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n" + b"x" * 5000)
        await writer.drain()
        writer.close()

    async def main() -> None:
        server, url = await _serve(handler)
        pool = UpstreamPool()
        with pytest.raises(UpstreamTimeout):
            await pool.request("GET", url + "/slow", [], b"", timeout=0.2)
        with pytest.raises(UpstreamFailure, match="not valid HTTP"):
            await pool.request("GET", url + "/garbage", [], b"", timeout=2)
        with pytest.raises(UpstreamFailure, match="larger than"):
            await pool.request("GET", url + "/huge", [], b"", timeout=2)
        with pytest.raises(UpstreamFailure, match="scheme"):
            await pool.request("GET", "ftp://127.0.0.1/x", [], b"", timeout=2)
        server.close()
        await server.wait_closed()
        with pytest.raises(UpstreamFailure, match="connect"):
            await pool.request("GET", url + "/gone", [], b"", timeout=2)
        await pool.aclose()

    asyncio.run(main())
