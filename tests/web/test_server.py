"""The HTTP protocol of `zhengwu serve` (zhengwu.web.server): one socket write per answer, nothing held
past the current event-loop step, bytes in order; answers whole over a real socket."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send

from servers import free_port
from zhengwu.web.server import OneWriteHttpToolsProtocol, _OneWriteTransport


class _Recorder:
    """A transport that records its writes."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return f"extra {name}"


def test_writes_of_one_step_leave_together_and_nothing_waits_longer() -> None:
    async def scenario() -> None:
        real = _Recorder()
        transport = _OneWriteTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        assert real.writes == [] and transport.get_write_buffer_size() == 19
        transport.write(memoryview(b"body"))
        assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]  # head and body: one write
        transport.write(b"alone")
        assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        await asyncio.sleep(0)  # the end of the step
        assert real.writes[-1] == b"alone"
        transport.write(b"last")
        transport.close()  # flushed before the close
        assert real.writes[-1] == b"last" and real.closed
        await asyncio.sleep(0)
        assert len(real.writes) == 3  # nothing written twice, nothing after the close
        assert transport.get_extra_info("peername") == "extra peername"

    asyncio.run(scenario())


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await receive()
    if scope["path"] == "/stream":  # a streamed answer across several loop steps
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    body = b'{"path":"' + scope["path"].encode() + b'"}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def test_answers_are_whole_over_a_real_socket() -> None:
    port = free_port()

    async def scenario() -> None:
        config = uvicorn.Config(
            _app,
            host="127.0.0.1",
            port=port,
            http=OneWriteHttpToolsProtocol,
            log_level="warning",
            lifespan="off",
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for i in range(3):  # keep-alive: several answers on one connection
                writer.write(f"GET /item/{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200")
                body = f'{{"path":"/item/{i}"}}'.encode()
                assert await reader.readexactly(len(body)) == body
            writer.write(b"HEAD /item/x HTTP/1.1\r\nHost: t\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and b"content-length: 18" in head
            writer.write(b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            rest = await asyncio.wait_for(reader.read(), 5)
            assert rest.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in rest
            assert rest.endswith(b"4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n")
            writer.close()
        finally:
            server.should_exit = True
            await task

    asyncio.run(scenario())


def test_serve_with_workers_answers_and_stops(tmp_path: Path) -> None:
    """`zhengwu serve --workers 2`: each worker on its own socket of the port, command line settings
    passed to the workers, every connection answered, SIGTERM stops them all."""
    port = free_port()
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGWU_")}
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "zhengwu", "--data-dir", str(tmp_path), "--database-url", url),
                *("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--no-access-log"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, log_path.read_text(encoding="utf-8")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, "not healthy within 120 s"
                    time.sleep(0.3)
            workers = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
            commands = [Path(f"/proc/{p}/cmdline").read_bytes() for p in workers]
            assert len([c for c in commands if b"zhengwu.web.server" in c]) >= 2
            clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(8)]
            for client in clients:  # eight connections, whichever worker took each
                health = client.get("/healthz").json()
                assert health["status"] == "ok" and health["database"] == "sqlite"
                client.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=40) == 0
