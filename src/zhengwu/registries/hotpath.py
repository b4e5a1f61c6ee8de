"""The lean HTTP path of lookup and verification by identifier, in front of the FastAPI routes.

A plain ASGI middleware (as the exchange gateway is a plain ASGI app) that answers, on PostgreSQL and
for callers with an API token (``Authorization: Bearer``):

* ``GET  /api/v1/registries/population/{resident_id}`` and ``GET /api/v1/registries/entities/{uscc}``
  without query parameters, for callers who see personal data masked;
* ``POST /api/v1/registries/population/verify`` and ``POST /api/v1/registries/entities/verify``.

Everything else, and every case it does not take (browser sessions, anonymous callers, ``as_of``,
callers who see data in clear and get family links, a body that is not a valid JSON object of the right
shape, SQLite, an app whose ``get_db`` is overridden as in the tests' rolled-back sessions), goes on to
the FastAPI routes unchanged, the request body replayed. The rules are those of the services and shared
with them: ``require_roles``, ``validate_resident_id``/``validate_uscc``, ``person_out``/``entity_out``,
``person_matches``/``entity_matches``; errors are rendered by :func:`zhengwu.web.errors.api_error_response`,
so answers and error bodies are the same on both paths (tests/registries/test_registries_hotpath.py
compares them).

One difference, deliberate: a lookup of a valid but unknown identifier (404) keeps its access record
(outcome ``failure``); the FastAPI route rolls it back with the rest of the failed request.

Data access, token cache and the group-commit writer of access records: :mod:`.hotstore`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Callable, MutableMapping
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zhengwu.accounts.permissions import require_roles
from zhengwu.audit.services import audit_values, audit_values_variant
from zhengwu.db import Database
from zhengwu.errors import ZhengwuError
from zhengwu.identifiers import validate_resident_id, validate_uscc
from zhengwu.registries.hotstore import POOL_SIZE, TOKEN_TTL, HotStore
from zhengwu.registries.models import Registry
from zhengwu.registries.schemas import EntityVerifyIn, PersonVerifyIn
from zhengwu.registries.services import (
    READ_ROLES,
    VERIFY_ROLES,
    entity_matches,
    entity_out,
    may_see_clear,
    not_found,
    person_matches,
    person_out,
)
from zhengwu.web.deps import get_db
from zhengwu.web.errors import api_error_response, status_for

log = logging.getLogger("zhengwu.registries.hotpath")

PREFIX: Final = "/api/v1/registries/"
_LOOKUP = re.compile(r"/api/v1/registries/(population|entities)/([^/]+)")
_VERIFY: Final = {
    "/api/v1/registries/population/verify": "population",
    "/api/v1/registries/entities/verify": "entities",
}
MAX_BODY: Final = 16_384
_JSON: Final = (b"content-type", b"application/json")
_MATCH: Final = {True: b'{"match":true}', False: b'{"match":false}'}


class _Delegate(Exception):
    """This request is not for the lean path: hand it to the app."""


class RegistryHotPath:
    """ASGI middleware; see the module docstring. ``overrides`` is the FastAPI app's dependency overrides."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        database: Database,
        overrides: MutableMapping[Callable[..., Any], Callable[..., Any]],
        headers: dict[str, str],
        token_ttl: float = TOKEN_TTL,
        pool_size: int = POOL_SIZE,
        durable: bool = False,
    ) -> None:
        self.app = app
        self.enabled = database.backend == "postgresql"
        self._conninfo = database.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._overrides = overrides
        self._headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self._options: dict[str, Any] = {"token_ttl": token_ttl, "pool_size": pool_size, "durable": durable}
        self._store: HotStore | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._on_shutdown(receive), send)
            return
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith(PREFIX)
            or not self.enabled
            or get_db in self._overrides
        ):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "POST" and path in _VERIFY:
            await self._verify(_VERIFY[path], scope, receive, send)
            return
        lookup = _LOOKUP.fullmatch(path) if method == "GET" and not scope.get("query_string") else None
        raw = _bearer(scope)
        if lookup is None or raw is None:
            await self.app(scope, receive, send)
            return
        try:
            await self._lookup(lookup.group(1), lookup.group(2), raw, scope, send)
        except _Delegate:
            await self.app(scope, receive, send)

    # ------------------------------------------------------------------ the two calls

    async def _lookup(self, registry: str, key: str, raw: str, scope: Scope, send: Send) -> None:
        try:
            store = await self._store_for_loop()
            actor = await store.actor_for_token(raw, ip=_client_ip(scope))
            require_roles(actor, *READ_ROLES)
            if may_see_clear(actor):
                raise _Delegate  # clear answers carry family links: the full service builds them
            person = registry == "population"
            key = validate_resident_id(key) if person else validate_uscc(key)
            found = audit_values(
                actor=actor,
                action="registries.person.lookup" if person else "registries.entity.lookup",
                target_type="person" if person else "entity",
                target_id=key,
                details={"as_of": None},
            )
            # The record of an unknown key says so; the statement writes the one that applies.
            row, recorded = await store.read_recorded(
                "person.lookup" if person else "entity.lookup",
                key,
                name=None,
                yes=found,
                no=audit_values_variant(found, outcome="failure"),
            )
            if recorded != (row is not None):
                raise RuntimeError(f"access record says found={recorded} for {key}")
            if row is None:
                raise not_found(Registry.POPULATION if person else Registry.ENTITIES)
            out = (
                person_out(row, clear=False)
                if person
                else entity_out(row, representative_name=row.representative_name, clear=False)
            )
            await self._send(send, 200, out.model_dump_json().encode())
        except _Delegate:
            raise
        except ZhengwuError as exc:
            await self._error(scope, send, exc)
        except Exception as exc:  # as the app's handler: a 500 with a reference, the cause in the log
            await self._internal(scope, send, exc)

    async def _verify(self, registry: str, scope: Scope, receive: Receive, send: Send) -> None:
        body, complete = await _read_body(receive, MAX_BODY)
        raw = _bearer(scope)
        parsed: PersonVerifyIn | EntityVerifyIn | None = None
        if raw is not None and complete and _is_json(scope):
            try:
                parsed = (PersonVerifyIn if registry == "population" else EntityVerifyIn).model_validate_json(
                    body
                )
            except ValueError:
                parsed = None  # the app answers with its request.invalid error
        if raw is None or parsed is None:
            await self.app(scope, _replay(body, complete, receive), send)
            return
        try:
            store = await self._store_for_loop()
            actor = await store.actor_for_token(raw, ip=_client_ip(scope))
            require_roles(actor, *VERIFY_ROLES)
            person = isinstance(parsed, PersonVerifyIn)
            if isinstance(parsed, PersonVerifyIn):
                key = validate_resident_id(parsed.resident_id)
            else:
                key = validate_uscc(parsed.uscc)
            matched = audit_values(
                actor=actor,
                action="registries.person.verify" if person else "registries.entity.verify",
                target_type="person" if person else "entity",
                target_id=key,
                details={"match": True},
            )
            # The statement decides with the services' rule in SQL and records that result; the answer
            # is the rule in Python, and the two must agree.
            row, recorded = await store.read_recorded(
                "person.verify" if person else "entity.verify",
                key,
                name=parsed.name.strip(),
                yes=matched,
                no=audit_values_variant(matched, details={"match": False}),
            )
            match = person_matches(row, parsed.name) if person else entity_matches(row, parsed.name)
            if match != recorded:
                raise RuntimeError(f"access record says match={recorded} for {key}")
            await self._send(send, 200, _MATCH[match])
        except ZhengwuError as exc:
            await self._error(scope, send, exc)
        except Exception as exc:  # as the app's handler: a 500 with a reference, the cause in the log
            await self._internal(scope, send, exc)

    # ------------------------------------------------------------------ plumbing

    async def _store_for_loop(self) -> HotStore:
        loop = asyncio.get_running_loop()
        if self._store is not None and self._store.loop is loop:
            return self._store
        if self._lock is None or self._lock_loop is not loop:  # a new loop (test clients)
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:
            if self._store is None or self._store.loop is not loop:
                self._store = await HotStore.open(self._conninfo, **self._options)
            return self._store

    @property
    def store(self) -> HotStore | None:
        """The store of the current loop, if started (tests clear its token cache)."""
        return self._store

    def _on_shutdown(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self._store is not None:
                try:
                    await self._store.aclose()
                except Exception as exc:  # shutting down anyway; say what was not flushed
                    log.error("closing the registries' lean path failed: %s", exc)
                self._store = None
            return message

        return wrapped

    async def _send(self, send: Send, status: int, body: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [_JSON, (b"content-length", str(len(body)).encode()), *self._headers],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _error(self, scope: Scope, send: Send, exc: ZhengwuError, status: int | None = None) -> None:
        response = api_error_response(exc, status or status_for(exc))
        response.raw_headers.extend(self._headers)
        await response(scope, _no_body, send)

    async def _internal(self, scope: Scope, send: Send, exc: Exception) -> None:
        ref = uuid.uuid4().hex[:12]
        log.error("unhandled error ref=%s path=%s: %r", ref, scope.get("path"), exc)
        err = ZhengwuError(
            "服务器内部错误，请联系平台运维并提供编号 " + ref,
            message_en=f"internal error, reference {ref}",
            code="internal",
            details={"reference": ref},
        )
        await self._error(scope, send, err, 500)


def _bearer(scope: Scope) -> str | None:
    """The token of a well-formed ``Authorization: Bearer <token>`` header, else None (the app decides)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";")[0].strip().lower() == b"application/json")
    return False


def _client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body, and whether it is complete (False when longer than ``limit``: the app reads the rest)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True
        if size > limit:
            return b"".join(chunks), False


def _replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A ``receive`` that gives the app the body already read, then whatever is still to come."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": not complete}
        return await receive()

    return replayed


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
