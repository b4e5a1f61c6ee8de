"""A committed exchange for gateway tests: two departments, systems, services, grants, a real upstream.

Each backend gets its own database (the gateway's writer commits in its own transactions, so the
shared rolled-back test database would see leaves it cannot roll back). The upstream is a small
Starlette app served by uvicorn in a thread on a free loopback port.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
import uvloop
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from factories import SYSTEM, make_department, make_token, make_user
from factories_catalog import make_resource
from servers import free_port
from zhengwu.accounts.models import Role
from zhengwu.catalog.models import ShareType
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.exchange.gateway.server import ServerLimits, serve
from zhengwu.exchange.gateway.services import grant_policy_set
from zhengwu.exchange.schemas import ServiceIn, SubsystemIn
from zhengwu.exchange.services import service_register, subsystem_register
from zhengwu.sharing.models import Grant, GrantStatus
from zhengwu.web.workers import bind

INSTANCE = "CN-DEV"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PERSON = {
    "uscc": "91330000MA27XYZ12X",
    "org_name": "杭州测试科技有限公司",
    "registered_on": "2020-01-02",
    "legal_rep_name": "欧阳修",
    "registered_capital": "100.00",
    "secret_note": "不在目录中的字段",
}
OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "法人信息", "version": "1"},
    "paths": {"/org/{id}": {"get": {}}, "/orgs": {"get": {}, "post": {}}},
}


# ------------------------------------------------------------------------------------------- upstream


async def _org(request: Request) -> Response:
    return JSONResponse({**PERSON, "id": request.path_params["id"]})


async def _orgs(request: Request) -> Response:
    return JSONResponse({"items": [PERSON, PERSON], "total": 2, "next_cursor": None})


async def _echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "headers": dict(request.headers),
            "body": body.decode("utf-8", "replace"),
            "query": str(request.url.query),
            "path": request.url.path,
        }
    )


async def _slow(request: Request) -> Response:
    await asyncio.sleep(3)
    return JSONResponse(PERSON)


async def _text(request: Request) -> Response:
    return PlainTextResponse("uscc=91330000MA27XYZ12X")


async def _fail(request: Request) -> Response:
    return JSONResponse({"error": "provider says no"}, status_code=418, headers={"X-Provider": "yes"})


UPSTREAM = Starlette(
    routes=[
        Route("/org/{id}", _org),
        Route("/orgs", _orgs, methods=["GET", "POST"]),
        Route("/echo/{rest:path}", _echo, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/slow", _slow),
        Route("/text", _text),
        Route("/fail", _fail),
    ]
)


class ThreadServer(uvicorn.Server):
    """uvicorn in a background thread (no signal handlers)."""

    def install_signal_handlers(self) -> None:
        return None


def serve_in_thread(app: object, port: int) -> tuple[ThreadServer, threading.Thread]:
    """Start ``app`` on ``port`` and wait until it accepts connections."""
    server = ThreadServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "upstream did not start"
    return server, thread


class LeanThread:
    """An ASGI app on the gateway's lean server (:mod:`zhengwu.exchange.gateway.server`) in a thread."""

    def __init__(
        self,
        app: object,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        self.port = port
        self._sock = bind("127.0.0.1", port)
        self._loop = uvloop.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failed: BaseException | None = None

        async def main() -> None:
            self._stop = asyncio.Event()
            await serve(app, self._sock, ssl_context=ssl_context, limits=limits, stop=self._stop,
                        ready=self._ready.set)  # type: ignore[arg-type]  # fmt: skip

        def run() -> None:
            try:
                self._loop.run_until_complete(main())
            except BaseException as exc:  # reported by the constructor or stop()
                self._failed = exc
                self._ready.set()
            finally:
                self._loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self._ready.wait(30), "the lean server did not start"
        if self._failed is not None:
            raise self._failed

    def stop(self, timeout: float = 20) -> None:
        """Graceful stop: answers in progress finish, then the app's lifespan shutdown runs."""
        if self._stop is not None and self.thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(timeout)
        self._sock.close()


@pytest.fixture(scope="session")
def upstream_url() -> Iterator[str]:
    server, thread = serve_in_thread(UPSTREAM, free_port())
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(10)


# ------------------------------------------------------------------------------------------- database


def _fresh_url(backend: str, tmp: Path, tag: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / f'{tag}.db'}"
    name = f"zhengwu_gw_{tag}_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)


def _drop(url: str) -> None:
    if url.startswith("sqlite"):
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class Exchange:
    """What the tests call: ids, tokens and the database of one seeded exchange."""

    url: str
    database: Database
    provider_uscc: str
    consumer_uscc: str
    token: str
    other_token: str
    grant_id: int
    quota_grant_id: int
    revocable_grant_id: int
    services: dict[str, str] = field(default_factory=dict)

    @property
    def client(self) -> str:
        return f"{INSTANCE}/GOV/{self.consumer_uscc}/SHEBAO"

    def path(self, service: str, rest: str = "") -> str:
        return f"/r1/{INSTANCE}/GOV/{self.provider_uscc}/FAREN/{service}{rest}"

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-Road-Client": self.client, "Authorization": f"Bearer {self.token}", **extra}


def _grant(db: object, **values: object) -> int:
    today = dt.date.today()
    fields: dict[str, object] = {
        "consumer_system": "社保系统",
        "valid_from": today - dt.timedelta(days=30),
        "valid_until": today + dt.timedelta(days=300),
        "status": GrantStatus.ACTIVE,
        **values,
    }
    row = Grant(**fields)
    db.add(row)  # type: ignore[attr-defined]
    db.flush()  # type: ignore[attr-defined]
    return int(row.id)


def seed(database: Database, upstream: str) -> Exchange:
    """Two departments, their systems, six services and the grants the tests rely on."""
    with database.session() as db:
        provider = make_department(db, name="市场监管局")
        consumer = make_department(db, name="人社局")
        stranger = make_department(db, name="无关部门")
        admin = make_user(db, roles=[Role.DATA_ADMIN], department_id=provider.id)
        caller = make_user(db, roles=[Role.DEVELOPER], department_id=consumer.id)
        outsider = make_user(db, roles=[Role.DEVELOPER], department_id=stranger.id)
        token, other = make_token(db, caller), make_token(db, outsider)
        faren = subsystem_register(
            db,
            actor=SYSTEM,
            data=SubsystemIn(department_id=provider.id, code="FAREN", name="法人库"),
            instance=INSTANCE,
        )
        subsystem_register(
            db,
            actor=SYSTEM,
            data=SubsystemIn(department_id=consumer.id, code="SHEBAO", name="社保"),
            instance=INSTANCE,
        )
        subsystem_register(
            db,
            actor=SYSTEM,
            data=SubsystemIn(department_id=stranger.id, code="OTHER", name="其他"),
            instance=INSTANCE,
        )
        conditional = make_resource(db, provider_id=provider.id, elements=5, name="法人登记信息")
        unconditional = make_resource(
            db, provider_id=provider.id, elements=5, share_type=ShareType.UNCONDITIONAL
        )
        expired_res = make_resource(db, provider_id=provider.id, elements=5)
        quota_res = make_resource(db, provider_id=provider.id, elements=5)
        revoke_res = make_resource(db, provider_id=provider.id, elements=5)
        purpose = "社保登记核验"
        grant_id = _grant(
            db,
            resource_id=conditional.id,
            provider_id=provider.id,
            consumer_id=consumer.id,
            elements=["uscc", "org_name", "legal_rep_name"],
            purpose=purpose,
        )
        today = dt.date.today()
        _grant(
            db,
            resource_id=expired_res.id,
            provider_id=provider.id,
            consumer_id=consumer.id,
            elements=["uscc"],
            purpose=purpose,
            valid_from=today - dt.timedelta(days=60),
            valid_until=today - dt.timedelta(days=1),
        )
        quota_grant = _grant(
            db,
            resource_id=quota_res.id,
            provider_id=provider.id,
            consumer_id=consumer.id,
            elements=["uscc", "legal_rep_name"],
            purpose=purpose,
        )
        revocable = _grant(
            db,
            resource_id=revoke_res.id,
            provider_id=provider.id,
            consumer_id=consumer.id,
            elements=["uscc"],
            purpose=purpose,
        )
        grant_policy_set(
            db,
            actor=SYSTEM,
            grant_id=quota_grant,
            rate_per_second=1000,
            burst=1000,
            quota_per_day=2,
            clear_elements=["legal_rep_name"],
        )
        specs = {
            "org": (upstream, conditional.id, 2000, OPENAPI),
            "open": (upstream, unconditional.id, 2000, None),
            "old": (upstream, expired_res.id, 2000, None),
            "quota": (upstream, quota_res.id, 2000, None),
            "revocable": (upstream, revoke_res.id, 2000, None),
            "slow": (upstream, conditional.id, 300, None),
            "down": (f"http://127.0.0.1:{free_port()}", conditional.id, 2000, None),
            "internal": (upstream, None, 2000, None),
        }
        for code, (url, resource_id, timeout, doc) in specs.items():
            service_register(
                db,
                actor=SYSTEM,
                instance=INSTANCE,
                data=ServiceIn(
                    subsystem_id=faren.id,
                    service_code=code,
                    name=code,
                    upstream_url=url,
                    timeout_ms=timeout,
                    catalog_resource_id=resource_id,
                    openapi=doc,
                ),
            )
        assert admin.id
        return Exchange(
            url=str(database.engine.url),
            database=database,
            provider_uscc=str(provider.uscc),
            consumer_uscc=str(consumer.uscc),
            token=token,
            other_token=other,
            grant_id=grant_id,
            quota_grant_id=quota_grant,
            revocable_grant_id=revocable,
        )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def exchange(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, upstream_url: str
) -> Iterator[Exchange]:
    url = _fresh_url(request.param, tmp_path_factory.mktemp("gw"), "gw")
    database = Database(make_engine(url))
    upgrade(database.engine)
    try:
        env = seed(database, upstream_url)
        env.url = database.engine.url.render_as_string(hide_password=False)
        yield env
    finally:
        database.dispose()
        _drop(url)
