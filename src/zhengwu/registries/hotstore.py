"""Data access of the registries' lean HTTP path (:mod:`zhengwu.registries.hotpath`), PostgreSQL only.

Lookup and verification by identifier are the registries' hottest calls. Through the ORM and a sync
endpoint each cost ≈ 8 ms of CPU (token check with two ORM reads, the read, the access record, its
commit, the thread-pool hand-off; docs/benchmarks.md). Here, on async psycopg connections with prepared
statements:

* **the token check**: one statement (token, user and roles), its result cached for ``token_ttl``
  seconds (default :data:`TOKEN_TTL`) under the SHA-256 of the raw token. A revoked token, a disabled
  account or a removed role therefore takes effect within ``token_ttl`` seconds on this path
  (immediately on every other path); an expired token is refused at once (the expiry is kept in the
  cache entry). The checks and their errors are those of
  :func:`zhengwu.accounts.services.token_authenticate` (shared via ``token_check``).
* **the read and the access record in one statement per group.** Sensitive reads of personal data are
  recorded (``myPersonalDataUsage`` reads them) as ordinary :class:`~zhengwu.audit.models.AuditEvent`
  rows with their SM3 content hash. The calls that arrive while a group's statement runs form the next
  group, and each group is one statement (:class:`_GroupStatement`): it reads the rows of all its keys
  (``= ANY(keys)``) and inserts every call's access record, in autocommit, so it is committed when the
  statement returns, and only then are the calls answered: an answer is never given for a call whose
  record failed (the call gets a 500 instead). What a record says depends on the row (a lookup's outcome
  is ``failure`` for an unknown key; a verification records its result), so each call brings both
  records, built and hashed in Python by :func:`~zhengwu.audit.services.audit_values` and
  :func:`~zhengwu.audit.services.audit_values_variant`, and the statement inserts the one that applies;
  it returns that choice, and the lean path refuses to answer (500) if its own rule
  (``person_matches``, ``entity_matches``, found or not) decides otherwise. One statement instead of a
  read and a separate insert halves the round trips, and a call waits for one group, not two. The
  sealer chains these records like any other, and ``zhengwu audit verify`` checks them.

Durability (setting ``registries_access_log_durable``, on by default): each group's commit is flushed to
disk before its calls are answered, as the exchange's message log is, because these records are how a
person learns who read their data (``myPersonalDataUsage``) and "nothing lost" applies to them. Grouping
keeps the cost to one flush per group, not per call. Turned off, the connections commit with
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
from zhengwu.db import utcnow

log = logging.getLogger("zhengwu.registries.hotpath")

#: Seconds a successful token check is reused (the revocation delay on the lean path).
TOKEN_TTL: Final = 5.0
#: Connections per worker process (group statements, token checks).
POOL_SIZE: Final = 4
#: Group statements of one kind in flight at once per worker process. One: a group forms while the
#: previous one runs (larger groups, less CPU per call). Two lets a group's statement start while the
#: previous one waits for its flush (PostgreSQL then flushes both in one go), but costs more CPU per
#: call in smaller groups: no faster on the 2-core machine where CPU is the limit (docs/benchmarks.md).
GROUP_CONCURRENCY: Final = 1
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
_PERSON_COLUMNS: Final = """
SELECT resident_id, name, former_names, sex, birth_date, ethnicity, nationality, household_region_code,
       household_address, current_region_code, current_address, phone, status, status_date,
       source_department, batch_id, valid_from
FROM registry_persons"""
_ENTITY_COLUMNS: Final = """
SELECT e.uscc, e.name, e.former_names, e.entity_type, e.registration_authority_code,
       e.registration_authority, e.org_code, e.legal_representative_id, e.registered_capital, e.currency,
       e.established_date, e.business_scope, e.region_code, e.address, e.status, e.status_date,
       e.source_department, e.batch_id, e.valid_from, p.name AS representative_name
FROM registry_entities e LEFT JOIN registry_persons p ON p.resident_id = e.legal_representative_id"""


def _group_sql(found: str, key: str, column: str, decision: str) -> str:
    """One group's statement (see the module docstring): ``found`` reads the rows whose ``key`` is
    among the group's keys, ``decision`` (over ``f``, the row, and ``r``, the call) picks each call's
    record. The calls travel as one JSON parameter (serialised by orjson in C; psycopg's array adapters
    cost ≈ 10 µs per value in Python); the records are inserted, and the rows returned, in call order."""
    return f"""
WITH req AS (
    SELECT * FROM json_to_recordset(%s::json) AS t(
        ord int, key text, name text, occurred_at timestamptz, action text, actor_user_id bigint,
        actor_username text, actor_department_id bigint, target_type text, ip text,
        outcome_yes text, details_yes json, hash_yes text, outcome_no text, details_no json, hash_no text)
),
found AS ({found} WHERE {key} = ANY(ARRAY(SELECT key FROM req)::varchar[])),
decided AS (
    SELECT r.*, {decision} AS yes FROM req r LEFT JOIN found f ON f.{column} = r.key
),
written AS (
    INSERT INTO audit_events (occurred_at, action, outcome, actor_user_id, actor_username,
                              actor_department_id, target_type, target_id, ip, details, content_hash)
    SELECT occurred_at, action, CASE WHEN yes THEN outcome_yes ELSE outcome_no END, actor_user_id,
           actor_username, actor_department_id, target_type, key, ip,
           CASE WHEN yes THEN details_yes ELSE details_no END,
           CASE WHEN yes THEN hash_yes ELSE hash_no END
    FROM decided ORDER BY ord
)
SELECT d.ord AS _ord, d.yes AS _yes, f.* FROM decided d LEFT JOIN found f ON f.{column} = d.key
ORDER BY d.ord
"""  # noqa: S608 (module constants only, built once at import)


# The decisions are the services' rules (person_matches, entity_matches; found or not) in SQL; the lean
# path checks every one against the rule in Python before answering.
_STATEMENTS: Final = {
    "person.lookup": (
        _group_sql(_PERSON_COLUMNS, "resident_id", "resident_id", "f.resident_id IS NOT NULL"),
        "resident_id",
    ),
    "person.verify": (
        _group_sql(
            "SELECT resident_id, name, status FROM registry_persons",
            "resident_id",
            "resident_id",
            "coalesce(f.status = 'living' AND f.name = r.name, false)",
        ),
        "resident_id",
    ),
    "entity.lookup": (_group_sql(_ENTITY_COLUMNS, "e.uscc", "uscc", "f.uscc IS NOT NULL"), "uscc"),
    "entity.verify": (
        _group_sql(
            "SELECT uscc, name, status FROM registry_entities",
            "uscc",
            "uscc",
            "coalesce(f.status = '存续' AND f.name = r.name, false)",
        ),
        "uscc",
    ),
}


@dataclass(frozen=True)
class _CachedToken:
    until: float  # monotonic time after which the token is checked again
    expires_at: dt.datetime
    actor: Actor
    # The actor per client address, so that a call does not copy the dataclass (≈ 8 µs).
    by_ip: dict[str | None, Actor]


class _GroupStatement:
    """The calls of one kind (``person.lookup``, …) in flight, one statement per group.

    While a group's statement runs, the calls that arrive gather for the next one, so the cost of the
    driver, the round trip and the flushed commit is shared by the group.
    """

    def __init__(self, store: HotStore, name: str, concurrency: int) -> None:
        self._store = store
        self._sql, self._column = _STATEMENTS[name]
        self._pending: list[tuple[dict[str, Any], asyncio.Future[tuple[SimpleNamespace | None, bool]]]] = []
        self._concurrency = concurrency
        self.running = 0

    async def run(self, call: dict[str, Any]) -> tuple[SimpleNamespace | None, bool]:
        """The row of the call's key (None if absent; shared with other calls for the same key: read it,
        do not change it) and whether its "yes" record was written, once that record is committed."""
        future: asyncio.Future[tuple[SimpleNamespace | None, bool]] = self._store.loop.create_future()
        self._pending.append((call, future))
        if self.running < self._concurrency:
            self.running += 1
            self._store.loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                calls = [call | {"ord": i} for i, (call, _) in enumerate(group)]
                try:
                    rows = await self._store.execute_group(self._sql, calls)
                    if len(rows) != len(group):  # one row per call, by construction of the statement
                        raise RuntimeError(f"{len(rows)} rows for a group of {len(group)} calls")
                except Exception as exc:  # every call of the group must fail, none may hang
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                found: dict[str, SimpleNamespace | None] = {}
                for (call, future), row in zip(group, rows, strict=True):
                    key = call["key"]
                    if key not in found:
                        found[key] = _namespace(row) if row[self._column] is not None else None
                    if not future.done():
                        future.set_result((found[key], bool(row["_yes"])))
        finally:
            self.running -= 1


class HotStore:
    """A few async connections with prepared statements, the token cache and the group statements.

    Bound to the event loop it was started in (one per worker process).
    """

    def __init__(
        self,
        conninfo: str,
        *,
        pool_size: int = POOL_SIZE,
        token_ttl: float = TOKEN_TTL,
        durable: bool = False,
        group_concurrency: int = GROUP_CONCURRENCY,
    ) -> None:
        self._conninfo = conninfo
        self._pool_size = pool_size
        self._durable = durable
        self.token_ttl = token_ttl
        self._idle: asyncio.Queue[psycopg.AsyncConnection[dict[str, Any]] | None] = asyncio.Queue()
        self._tokens: dict[bytes, _CachedToken] = {}
        self.loop = asyncio.get_running_loop()
        self._groups = {name: _GroupStatement(self, name, group_concurrency) for name in _STATEMENTS}
        self._in_flight = 0

    @classmethod
    async def open(cls, conninfo: str, **options: Any) -> HotStore:
        """Start a store in the running loop (connections are opened on first use)."""
        store = cls(conninfo, **options)
        for _ in range(store._pool_size):
            store._idle.put_nowait(None)
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
                if not self._durable:  # see the module docstring: committed now, flushed within ≈ 0.6 s
                    await conn.execute("SET synchronous_commit = off")
            yield conn
        except psycopg.OperationalError:
            # A broken connection (server restart): drop it, the next call opens a new one.
            if conn is not None:
                await conn.close()
            conn = None
            raise
        finally:
            self._idle.put_nowait(conn)

    async def execute_group(self, sql: str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run one group's statement; in autocommit, its records are committed when it returns."""
        self._in_flight += 1
        try:
            async with self.connection() as conn:
                cursor = await conn.execute(sql, (orjson.dumps(calls).decode(),), prepare=True)
                return await cursor.fetchall()
        finally:
            self._in_flight -= 1

    async def read_recorded(
        self, statement: str, key: str, *, name: str | None, yes: dict[str, Any], no: dict[str, Any]
    ) -> tuple[SimpleNamespace | None, bool]:
        """Read ``key`` with statement ``statement`` (``person.lookup``, ``person.verify``,
        ``entity.lookup``, ``entity.verify``; ``name`` for a verification) and write the access record
        ``yes`` or ``no`` (:func:`~zhengwu.audit.services.audit_values` fields) as its decision says;
        returns the row (None if absent) and the decision once the record is committed. Raises if the
        group's statement failed (then no record was written, and the call must not be answered)."""
        call = {
            "key": key,
            "name": name,
            "occurred_at": yes["occurred_at"],
            "action": yes["action"],
            "actor_user_id": yes["actor_user_id"],
            "actor_username": yes["actor_username"],
            "actor_department_id": yes["actor_department_id"],
            "target_type": yes["target_type"],
            "ip": yes["ip"],
            "outcome_yes": yes["outcome"],
            "details_yes": yes["details"],
            "hash_yes": yes["content_hash"],
            "outcome_no": no["outcome"],
            "details_no": no["details"],
            "hash_no": no["content_hash"],
        }
        return await self._groups[statement].run(call)

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
            actor = cached.by_ip.get(ip)
            if actor is None:
                if len(cached.by_ip) >= 64:  # many client addresses: keep a few
                    cached.by_ip.clear()
                actor = cached.by_ip[ip] = replace(cached.actor, ip=ip)
            return actor
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
        self._tokens[digest] = _CachedToken(time.monotonic() + self.token_ttl, row["expires_at"], actor, {})
        if row["last_used_at"] is None or now - row["last_used_at"] > _LAST_USED_EVERY:
            async with self.connection() as conn:
                await conn.execute("UPDATE api_tokens SET last_used_at = %s WHERE id = %s", (now, row["id"]))
        return replace(actor, ip=ip)

    def clear_tokens(self) -> None:
        """Forget every cached token check (tests; an operator after an urgent revocation)."""
        self._tokens.clear()

    async def aclose(self) -> None:
        """Wait for the statements in flight (their calls are answered), then close every connection."""
        deadline = self.loop.time() + 10.0  # a statement hung on a dead server must not block shutdown
        while self._in_flight or any(group.running for group in self._groups.values()):
            if self.loop.time() > deadline:
                log.error("closing the registries' lean path with statements still in flight")
                break
            await asyncio.sleep(0.001)
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if conn is not None:
                await conn.close()


def _namespace(row: dict[str, Any]) -> SimpleNamespace:
    data = {k: v for k, v in row.items() if k[0] != "_"}
    if "valid_from" in data:
        # The ORM returns UTC (UTCDateTime); the answers must not depend on the server's TimeZone.
        data["valid_from"] = data["valid_from"].astimezone(dt.UTC)
    return SimpleNamespace(**data)
