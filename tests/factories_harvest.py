"""Remote portals for the harvest tests: a real `zhengwu serve` and a small misbehaving HTTP server.

Both listen on free loopback ports (kernel-assigned, so parallel test workers never collide).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

import httpx

from factories import make_department, make_token, make_user
from servers import free_port
from zhengwu.accounts.models import Role
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.opendata.packages import org_name_of


@dataclass
class RemotePortal:
    """A real portal in a subprocess, with a data administrator's token for its CKAN API."""

    url: str
    token: str
    organization: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes]
    log_path: Path

    def action(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST a CKAN action as the remote's data administrator; the result (asserts success)."""
        response = httpx.post(
            f"{self.url}/api/3/action/{name}", json=payload, headers={"Authorization": self.token}, timeout=30
        )
        body = response.json()
        assert body["success"], body
        result: dict[str, Any] = body["result"] if body["result"] is not None else {}
        return result

    def count(self) -> int:
        """How many public datasets the remote lists now."""
        body = httpx.get(f"{self.url}/api/3/action/package_search", params={"rows": 0}, timeout=30).json()
        return int(body["result"]["count"])


def start_remote(data_dir: Path) -> RemotePortal:
    """A migrated SQLite portal with one publisher and its data administrator, served on a range port."""
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / 'remote.db'}"
    database = Database(make_engine(url))
    upgrade(database.engine)
    with database.session() as db:
        dept = make_department(db, name="远端市数据局")
        admin = make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id)
        token = make_token(db, admin)
        organization = org_name_of(dept.code, dept.id)
    database.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGWU_")}
    log_path = data_dir / f"serve-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in stop_remote()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "zhengwu", "--data-dir", str(data_dir), "--database-url", url),
            *("serve", "--port", str(port), "--host", "127.0.0.1"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.close()
            raise AssertionError("remote portal exited:\n" + log_path.read_text(encoding="utf-8"))
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return RemotePortal(base, token, organization, proc, log, log_path)
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    log.close()
    raise AssertionError("remote portal did not become healthy within 120 s")


def stop_remote(remote: RemotePortal) -> None:
    """Stop the remote portal like Ctrl+C."""
    remote.proc.send_signal(signal.SIGINT)
    try:
        remote.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        remote.proc.kill()
        remote.proc.wait()
    remote.log.close()


class FaultServer:
    """A real HTTP server whose answer for each path is (status, content type, body, delay seconds).

    A route may be limited to requests whose query string contains ``when`` (e.g. ``start=100``); the
    most recently added matching route wins.
    """

    def __init__(self) -> None:
        self.routes: list[tuple[str, str, tuple[int, str, bytes, float]]] = []
        routes = self.routes

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                answer = (404, "text/html", b"<h1>Not Found</h1>", 0.0)
                for route_path, when, candidate in reversed(routes):
                    if route_path == path and when in query:
                        answer = candidate
                        break
                status, ctype, body, delay = answer
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the harvester gave up (timeout)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def route(
        self, path: str, status: int, ctype: str, body: bytes | str, delay: float = 0.0, when: str = ""
    ) -> None:
        """Answer GET ``path`` (only when the query contains ``when``) like this."""
        data = body.encode() if isinstance(body, str) else body
        self.routes.append((path, when, (status, ctype, data, delay)))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
