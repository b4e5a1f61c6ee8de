"""Data access of the registries' lean HTTP path (:mod:`zhengwu.registries.hotpath`), PostgreSQL only.

Lookup and verification by identifier are the registries' hottest calls. Through the ORM and a sync
endpoint each cost ≈ 8 ms of CPU (token check with two ORM reads, the read, the access record, its
commit, the thread-pool hand-off; docs/benchmarks.md). Here each is one prepared statement on an async
psycopg connection, plus, shared by every call in flight:

* **the token check**: one statement (token, user and roles), its result cached for ``token_ttl``
  seconds (default :data:`TOKEN_TTL`) under the SHA-256 of the raw token. A revoked token, a disabled
  account or a removed role therefore takes effect within ``token_ttl`` seconds on this path
  (immediately on every other path); an expired token is refused at once (the expiry is kept in the
  cache entry). The checks and their errors are those of
  :func:`zhengwu.accounts.services.token_authenticate` (shared via ``token_check``).
* **the access record** (sensitive reads of personal data are recorded; ``myPersonalDataUsage`` reads
  them): an ordinary :class:`~zhengwu.audit.models.AuditEvent` with its SM3 content hash, built by
  :func:`~zhengwu.audit.services.audit_values`, written by a *group-commit* writer: the records of all
  calls that arrive while one batch commits go into the next batch, one ``INSERT … SELECT FROM unnest``
  and one commit per batch. A call answers only after its record is **committed**: an answer is never
  given for a call whose record failed (the call gets a 500 instead). The sealer chains these records
  like any other, and ``zhengwu audit verify`` checks them.

Durability (setting ``registries_access_log_durable``, on by default): each batch is flushed to disk
before its calls are answered, as the exchange's message log is, because these records are how a
person learns who read their data (``myPersonalDataUsage``) and "nothing lost" applies to them. Group
commit keeps the cost to one flush per batch, not per call. Turned off, the writer commits with
``synchronous_commit = off``: the commit is visible and ordered at once but reaches the disk with
PostgreSQL's WAL writer, within 3 × ``wal_writer_delay`` (≈ 0.6 s by default). What can then be lost:
after a crash of the PostgreSQL server or its machine (not of the application: an unwritten record
means an unanswered call), the access records of calls answered during the last ≈ 0.6 s; surviving
records are whole, and the seal chain cannot refer to a lost record (the sealer commits synchronously,
which flushes all earlier WAL). docs/benchmarks.md gives the throughput of both settings.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any, Final

import orjson
import psycopg
from psycopg.rows import dict_row

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.services import token_check, token_parse
from zhengwu.audit.services import audit_values
from zhengwu.db import utcnow

log = logging.getLogger("zhengwu.registries.hotpath")

#: Seconds a successful token check is reused (the revocation delay on the lean path).
TOKEN_TTL: Final = 5.0
#: Read connections per worker process (plus one for the access-record writer).
POOL_SIZE: Final = 4
_TOKEN_CACHE_MAX: Final = 10_000
# last_used_at is accurate to the minute, as in token_authenticate.
_LAST_USED_EVERY: Final = dt.timedelta(minutes=1)

# A query that names the secret_hash column, not a secret (S105).
_TOKEN_SQL: Final = """
SELECT t.id, t.secret_hash, t.revoked_at, t.expires_at, t.last_used_at,
       u.id AS user_id, u.username, u.display_name, u.department_id, u.is_active,
       ARRAY(SELECT r.role FROM user_roles r WHERE r.user_id = u.id) AS roles
FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
WHERE t.prefix = %s
"""  # noqa: S105
_PERSON_SQL: Final = """
SELECT resident_id, name, former_names, sex, birth_date, ethnicity, nationality, household_region_code,
       household_address, current_region_code, current_address, phone, status, status_date,
       source_department, batch_id, valid_from
FROM registry_persons WHERE resident_id = ANY(%s::varchar[])
"""
_ENTITY_SQL: Final = """
SELECT e.uscc, e.name, e.former_names, e.entity_type, e.registration_authority_code,
       e.registration_authority, e.org_code, e.legal_representative_id, e.registered_capital, e.currency,
       e.established_date, e.business_scope, e.region_code, e.address, e.status, e.status_date,
       e.source_department, e.batch_id, e.valid_from, p.name AS representative_name
FROM registry_entities e LEFT JOIN registry_persons p ON p.resident_id = e.legal_representative_id
WHERE e.uscc = ANY(%s::varchar[])
"""
# The batch travels as one JSON parameter (serialised by orjson in C; psycopg's array adapters cost
# ≈ 10 µs per record in Python); the function yields the records in the batch's order.
_INSERT_EVENTS_SQL: Final = """
INSERT INTO audit_events (occurred_at, action, outcome, actor_user_id, actor_username,
                          actor_department_id, target_type, target_id, ip, details, content_hash)
SELECT occurred_at, action, outcome, actor_user_id, actor_username, actor_department_id, target_type,
       target_id, ip, details, content_hash
FROM json_to_recordset(%s::json) AS t(
    occurred_at timestamptz, action text, outcome text, actor_user_id bigint, actor_username text,
    actor_department_id bigint, target_type text, target_id text, ip text, details json,
    content_hash text)
"""


@dataclass(frozen=True)
class _CachedToken:
    until: float  # monotonic time after which the token is checked again
    expires_at: dt.datetime
    actor: Actor


class AccessLogWriter:
    """Group commit of access records on one autocommit connection (see the module docstring)."""

    def __init__(self, conninfo: str, *, durable: bool = False) -> None:
        self._conninfo = conninfo
        self._durable = durable
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the writer task in the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def write(self, event: dict[str, Any]) -> None:
        """Queue ``event`` (:func:`~zhengwu.audit.services.audit_values`) and return once it is committed;
        raises if its batch could not be written."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        self._wake.set()
        await future

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            try:
                await self._insert([event for event, _ in batch])
            except Exception as exc:  # every waiting call must learn that its record was not written
                log.error("writing %d access records failed: %s", len(batch), exc)
                if self._conn is not None:
                    await self._conn.close()
                    self._conn = None
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def _insert(self, events: list[dict[str, Any]]) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            if not self._durable:  # see the module docstring: committed now, flushed within ≈ 0.6 s
                await self._conn.execute("SET synchronous_commit = off")
        # One statement in autocommit: its own transaction, committed on return.
        await self._conn.execute(_INSERT_EVENTS_SQL, (orjson.dumps(events).decode(),), prepare=True)

    async def aclose(self) -> None:
        """Write what is queued, then stop."""
        if self._task is not None:
            while self._pending:
                self._wake.set()
                await asyncio.sleep(0.001)
            self._task.cancel()
            self._task = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class _GroupReader:
    """Reads by key of all calls in flight, one ``= ANY(keys)`` statement per group.

    The reads' counterpart of the writer's group commit: while one group's statement runs, the keys of
    the calls that arrive meanwhile gather for the next one, so the per-statement cost of the driver and
    the round trip is shared by the group (≈ 8 calls per worker at 16 connections).
    """

    def __init__(self, store: HotStore, sql: str, key: str) -> None:
        self._store = store
        self._sql = sql
        self._key = key
        self._pending: dict[str, list[asyncio.Future[SimpleNamespace | None]]] = {}
        self._busy = False

    async def get(self, key: str) -> SimpleNamespace | None:
        """The row of ``key`` (shared with other calls for the same key: read it, do not change it)."""
        future: asyncio.Future[SimpleNamespace | None] = self._store.loop.create_future()
        self._pending.setdefault(key, []).append(future)
        if not self._busy:
            self._busy = True
            self._store.loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, {}
                try:
                    async with self._store.connection() as conn:
                        cursor = await conn.execute(self._sql, (list(group),), prepare=True)
                        rows = await cursor.fetchall()
                except Exception as exc:  # every call of the group must fail, none may hang
                    for futures in group.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                found = {row[self._key]: _namespace(row) for row in rows}
                for key, futures in group.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(found.get(key))
        finally:
            self._busy = False


class HotStore:
    """A few async connections with prepared statements, the token cache and the access-log writer.

    Bound to the event loop it was started in (one per worker process).
    """

    def __init__(
        self,
        conninfo: str,
        *,
        pool_size: int = POOL_SIZE,
        token_ttl: float = TOKEN_TTL,
        durable: bool = False,
    ) -> None:
        self._conninfo = conninfo
        self._pool_size = pool_size
        self.token_ttl = token_ttl
        self._idle: asyncio.Queue[psycopg.AsyncConnection[dict[str, Any]] | None] = asyncio.Queue()
        self._tokens: dict[bytes, _CachedToken] = {}
        self.writer = AccessLogWriter(conninfo, durable=durable)
        self.loop = asyncio.get_running_loop()
        self._persons = _GroupReader(self, _PERSON_SQL, "resident_id")
        self._entities = _GroupReader(self, _ENTITY_SQL, "uscc")

    @classmethod
    async def open(cls, conninfo: str, **options: Any) -> HotStore:
        """Start a store in the running loop (connections are opened on first use)."""
        store = cls(conninfo, **options)
        for _ in range(store._pool_size):
            store._idle.put_nowait(None)
        store.writer.start()
        return store

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
        """A connection of the pool for one statement (opened on first use, replaced when broken)."""
        conn = await self._idle.get()
        try:
            if conn is None or conn.closed:
                conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, row_factory=dict_row
                )
            yield conn
        except psycopg.OperationalError:
            # A broken connection (server restart): drop it, the next call opens a new one.
            if conn is not None:
                await conn.close()
            conn = None
            raise
        finally:
            self._idle.put_nowait(conn)

    async def _one(self, sql: str, key: str) -> dict[str, Any] | None:
        async with self.connection() as conn:
            cursor = await conn.execute(sql, (key,), prepare=True)
            return await cursor.fetchone()

    async def actor_for_token(self, raw: str, *, ip: str | None) -> Actor:
        """The actor behind an API token, as ``token_authenticate`` decides (cached for ``token_ttl``)."""
        digest = hashlib.sha256(raw.encode("utf-8")).digest()
        now = utcnow()
        cached = self._tokens.get(digest)
        # An expired token falls through to the full check, which names the reason.
        if cached is not None and cached.until > time.monotonic() and cached.expires_at > now:
            return replace(cached.actor, ip=ip)
        prefix, secret = token_parse(raw)
        row = await self._one(_TOKEN_SQL, prefix)
        token_check(
            secret=secret,
            secret_hash=None if row is None else row["secret_hash"],
            revoked_at=None if row is None else row["revoked_at"],
            expires_at=None if row is None else row["expires_at"],
            user_active=None if row is None else row["is_active"],
            now=now,
        )
        assert row is not None  # token_check refused every other case
        actor = Actor(
            user_id=row["user_id"],
            username=row["username"],
            display_name=row["display_name"],
            roles=frozenset(Role(r) for r in row["roles"]),
            department_id=row["department_id"],
            token_id=row["id"],
        )
        if len(self._tokens) >= _TOKEN_CACHE_MAX:
            self._tokens.clear()
        self._tokens[digest] = _CachedToken(time.monotonic() + self.token_ttl, row["expires_at"], actor)
        if row["last_used_at"] is None or now - row["last_used_at"] > _LAST_USED_EVERY:
            async with self.connection() as conn:
                await conn.execute("UPDATE api_tokens SET last_used_at = %s WHERE id = %s", (now, row["id"]))
        return replace(actor, ip=ip)

    def clear_tokens(self) -> None:
        """Forget every cached token check (tests; an operator after an urgent revocation)."""
        self._tokens.clear()

    async def person(self, resident_id: str) -> SimpleNamespace | None:
        """The current row of a person, with the attributes ``person_out`` and ``person_matches`` read."""
        return await self._persons.get(resident_id)

    async def entity(self, uscc: str) -> SimpleNamespace | None:
        """The current row of an entity and its legal representative's name (``representative_name``)."""
        return await self._entities.get(uscc)

    async def record(self, **fields: Any) -> None:
        """Write one access record (``audit_values`` fields) and return once it is committed."""
        await self.writer.write(audit_values(**fields))

    async def aclose(self) -> None:
        """Flush the access records and close every connection."""
        await self.writer.aclose()
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if conn is not None:
                await conn.close()


def _namespace(row: dict[str, Any] | None) -> SimpleNamespace | None:
    if row is None:
        return None
    if "valid_from" in row:
        # The ORM returns UTC (UTCDateTime); the answers must not depend on the server's TimeZone.
        row["valid_from"] = row["valid_from"].astimezone(dt.UTC)
    return SimpleNamespace(**row)
