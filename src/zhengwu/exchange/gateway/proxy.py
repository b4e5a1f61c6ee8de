"""The gateway's hot path: a plain ASGI application (no framework routing or dependency injection).

One call: parse the r1 path and headers → authenticate the calling system → resolve the service →
decide access → rate limit → forward with the service's timeout (pooled HTTP/1.1 client, :mod:`.upstream`) →
keep only granted elements, mask sensitive ones → write the message log record and wait until it is
committed → send. The record goes to the writer process over a Unix socket when the gateway runs as
``zhengwu gateway`` (:class:`~zhengwu.exchange.logwriter.LogWriterClient`, ``config.log_socket``), or to an
in-process group-commit thread when it is mounted in the platform app or used in tests
(:class:`~zhengwu.exchange.messagelog.MessageLogWriter`); both commit through the same ``write_batch``.
Refusals are recorded the same way before they are answered. If the record cannot be written the caller gets a
``Server.ClientProxy.MessageLogFailed`` error, never the data.

Caching (per process, and so per worker with ``--workers N``: each worker loads and expires its own
entries, so after a change workers may disagree for up to the TTL; the hot path does not touch the
database per call):

* token + X-Road-Client → caller: ``auth_ttl`` (default 30 s; also never past the token's expiry),
* service id → upstream, timeout, resource: ``directory_ttl`` (30 s),
* (caller, service, elements, purpose) → access decision and limits: ``grant_ttl`` (5 s).

So a revoked grant stops being honoured within ``grant_ttl`` seconds, a revoked token within
``auth_ttl`` seconds, and a changed upstream within ``directory_ttl`` seconds (configurable, 0 turns
a cache off).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote

import orjson
from sqlalchemy.orm import configure_mappers

from zhengwu.accounts.permissions import Actor
from zhengwu.db import Database, utcnow
from zhengwu.errors import ConfigurationError, NotAuthenticated, NotFound, PermissionDenied, ZhengwuError
from zhengwu.exchange.gateway import certificates, services
from zhengwu.exchange.gateway.cache import TTLCache
from zhengwu.exchange.gateway.limits import Limiter, RateLimiter, SharedLimiter
from zhengwu.exchange.gateway.metrics import CONTENT_TYPE, GatewayMetrics
from zhengwu.exchange.gateway.protocol import (
    MAX_ID_HEADER,
    MAX_ISSUE_HEADER,
    MAX_URI_LENGTH,
    R1Target,
    XRoadError,
    bad_request,
    check_optional_header,
    client_error,
    error_body,
    parse_client_header,
    parse_r1_path,
    request_hash,
    server_error,
)
from zhengwu.exchange.gateway.services import Access, Caller, Limits, ServiceInfo
from zhengwu.exchange.gateway.shaping import ShapeError, shape
from zhengwu.exchange.gateway.tls import fingerprint, peer_certificate
from zhengwu.exchange.gateway.upstream import UpstreamFailure, UpstreamPool, UpstreamTimeout
from zhengwu.exchange.identifiers import ClientId
from zhengwu.exchange.logwriter import LogWriterClient, writer_database
from zhengwu.exchange.messagelog import LogEntry, LoggedCall, MessageLogWriter, messagelog_sign_head
from zhengwu.exchange.services import client_list

log = logging.getLogger("zhengwu.exchange.gateway")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
T = TypeVar("T")

#: Request headers never forwarded: hop-by-hop, those that leak the consumer's host (PR-REST 4.3),
#: the gateway's own credentials and extension headers.
_DROP_REQUEST = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "user-agent", "content-length", "authorization",
        "x-zhengwu-purpose", "x-zhengwu-elements", "x-road-request-hash", "expect", "accept-encoding",
    }
)  # fmt: skip
#: Response headers not passed back: hop-by-hop, length (the body may be reshaped), the provider's
#: Server header, and X-Road headers the gateway sets itself.
_DROP_RESPONSE = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "content-length", "server",
    }
)  # fmt: skip
_JSON = b"application/json;charset=utf-8"
_REASON_TYPES = {
    "grant.none": (403, "AccessDenied"),
    "service.not_shared": (403, "AccessDenied"),
    "grant.revoked": (403, "GrantRevoked"),
    "grant.expired": (403, "GrantExpired"),
    "grant.not_yet_valid": (403, "GrantNotYetValid"),
    "grant.purpose_mismatch": (403, "PurposeMismatch"),
    "grant.purpose_required": (400, "PurposeRequired"),
    "grant.element_not_granted": (403, "ElementNotGranted"),
    "resource.unavailable": (403, "ResourceUnavailable"),
}


@dataclass
class GatewayConfig:
    """Options of a gateway (the ``zhengwu gateway`` command exposes them)."""

    instance: str
    auth_ttl: float = 30.0
    directory_ttl: float = 30.0
    grant_ttl: float = 5.0
    default_limits: Limits = field(default_factory=lambda: Limits(200.0, 400, None))
    max_body_bytes: int = 10 * 1024 * 1024
    max_connections: int = 256
    body_key: bytes | None = None
    # Decrypts services' upstream credentials (``zhengwu.exchange.credentials.credential_key``).
    credential_key: bytes | None = None
    signing_key_pem: bytes | None = None
    head_interval: float = 60.0
    # The writer process's socket (``zhengwu gateway``); None: an in-process writer thread.
    log_socket: str | None = None
    # The file every worker of this host counts per-grant limits in (``zhengwu.ratelimit.SharedLimiter``);
    # None: each process counts on its own.
    limits_path: Path | None = None


@dataclass
class _Call:
    """What is known about the call in progress, for its record and its response headers."""

    xroad_id: str
    request_id: str
    started_at: dt.datetime
    started: float
    client_header: str = "-"
    service_id: str | None = None
    user_id: str | None = None
    issue: str | None = None
    purpose: str | None = None
    grant_id: int | None = None
    request_body: bytes = b""
    request_hash: str = ""
    client_label: str = "-"
    service_label: str = "-"


def _headers(scope: Scope) -> tuple[dict[str, str], set[str]]:
    out: dict[str, str] = {}
    dup: set[str] = set()
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        if name in out:
            dup.add(name)
            out[name] = out[name] + "," + raw_value.decode("latin-1")
        else:
            out[name] = raw_value.decode("latin-1")
    return out, dup


def _raw_path(scope: Scope) -> str:
    raw = scope.get("raw_path")
    if raw:
        return bytes(raw).decode("latin-1").split("?", 1)[0]
    return str(scope["path"])


def _check_rest_path(path: str) -> str:
    """The path after the service id: no dot segments (they could climb out of the upstream's base)."""
    for seg in path.split("/"):
        plain = unquote(seg)
        if plain in (".", "..") or "/" in plain or "\\" in plain or any(ord(c) < 0x20 for c in plain):
            raise bad_request("the service path contains a forbidden segment (dot segment or encoded slash)")
    return path


class Gateway:
    """The exchange gateway as an ASGI application (``/r1/...``, ``/listClients``, ``/metrics``)."""

    def __init__(self, database: Database, config: GatewayConfig, *, writer: MessageLogWriter | None = None):
        self.database = database
        self.config = config
        self.metrics = GatewayMetrics()
        self.limiter: RateLimiter = (
            SharedLimiter(config.limits_path) if config.limits_path is not None else Limiter()
        )
        self._auth = TTLCache(config.auth_ttl)
        self._directory = TTLCache(config.directory_ttl)
        self._access = TTLCache(config.grant_ttl)
        self._parsed: dict[str, Any] = {}
        self._rest_ok: set[str] = set()  # service paths that passed _check_rest_path
        self._writer = writer
        self._own_writer = writer is None
        self._writer_db: Database | None = None
        self._remote: LogWriterClient | None = None
        self._http: UpstreamPool | None = None
        self._start_lock = asyncio.Lock()
        self._signer: asyncio.Task[None] | None = None
        self._id_prefix = int.from_bytes(os.urandom(8), "big")
        prefix = f"{self._id_prefix:016x}"
        # The first three groups of every id this process makes (str(uuid.UUID) per call was ~2 % of it).
        self._id_head = f"{prefix[:8]}-{prefix[8:12]}-{prefix[12:]}-"
        self._counter = 0

    def _new_id(self) -> str:
        """A unique id in UUID form: a random 64-bit process prefix and a counter (no syscall per call)."""
        self._counter = counter = (self._counter + 1) & 0xFFFF_FFFF_FFFF_FFFF
        return f"{self._id_head}{counter >> 48:04x}-{counter & 0xFFFF_FFFF_FFFF:012x}"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the log writer and the upstream connection pool (idempotent; also done on first call)."""
        async with self._start_lock:
            if self._http is not None:
                return
            if self._writer is None and self.config.log_socket is not None:
                self._remote = LogWriterClient(self.config.log_socket)
                await self._remote.connect()
            else:
                if self._writer is None:
                    self._writer_db = writer_database(self.database)
                    self._writer = MessageLogWriter(self._writer_db, body_key=self.config.body_key)
                self._writer.start()
            self._http = UpstreamPool(max_per_origin=self.config.max_connections)
            # Configure the ORM now, not inside the first calls (it takes ~1 s with every domain's models).
            await asyncio.to_thread(configure_mappers)
            if self.config.signing_key_pem is not None:
                self._signer = asyncio.create_task(self._sign_heads())

    async def aclose(self) -> None:
        """Stop signing, close the pool, write what is queued and stop the writer."""
        if self._signer is not None:
            self._signer.cancel()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._remote is not None:
            await self._remote.aclose()
            self._remote = None
        if self._writer is not None and self._own_writer:
            await asyncio.to_thread(self._writer.close)
            self._writer = None
        if isinstance(self.limiter, SharedLimiter):
            self.limiter.close()
            self.limiter = Limiter()
            if self._writer_db is not None and self._writer_db is not self.database:
                self._writer_db.dispose()

    async def _sign_heads(self) -> None:
        key = self.config.signing_key_pem
        assert key is not None
        while True:
            await asyncio.sleep(self.config.head_interval)
            try:
                await asyncio.to_thread(self._db, lambda db: messagelog_sign_head(db, private_pem=key))
            except Exception as exc:  # a missed head is retried at the next tick; the log is intact
                log.error("signing a tree head failed: %s", exc)

    def clear_caches(self) -> None:
        """Forget every cached answer (tests, or an operator after an urgent revocation)."""
        self._auth.clear()
        self._directory.clear()
        self._access.clear()

    async def _record(self, entry: LogEntry) -> LoggedCall:
        """Write ``entry`` and return once it is durable (writer process or in-process thread)."""
        if self._remote is not None:
            return await self._remote.write(entry)
        assert self._writer is not None
        return await asyncio.wrap_future(self._writer.submit(entry))

    def _db(self, fn: Callable[[Any], T]) -> T:
        with self.database.session() as db:
            return fn(db)

    async def _in_db(self, fn: Callable[[Any], T]) -> T:
        return await asyncio.to_thread(self._db, fn)

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = str(scope["path"])
        if path.startswith("/r1/") or path == "/r1":
            await self.handle_r1(scope, receive, send)
        elif path == "/listClients":
            await self.handle_list_clients(scope, receive, send)
        elif path == "/metrics":
            await _send(send, 200, self.metrics.render(), [(b"content-type", CONTENT_TYPE.encode())])
        elif path == "/healthz":
            await _send(send, 200, b'{"status":"ok"}', [(b"content-type", _JSON)])
        else:
            err = bad_request("unknown path; X-Road REST calls start with /r1/")
            await _send(send, 404, error_body(err, str(uuid.uuid4())), _error_headers(err))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle_list_clients(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /listClients``: members and subsystems, JSON snake_case as a security server answers."""
        await _read_body(receive, self.config.max_body_bytes)
        try:
            body = await self._in_db(
                lambda db: client_list(db, actor=Actor.system("gateway"), instance=self.config.instance)
            )
        except ZhengwuError as exc:
            err = server_error(500, "ClientProxy", "InternalError", exc.message_en)
            await _send(send, 500, error_body(err, str(uuid.uuid4())), _error_headers(err))
            return
        await _send(send, 200, orjson.dumps(body), [(b"content-type", _JSON)])

    async def handle_r1(self, scope: Scope, receive: Receive, send: Send) -> None:
        """One X-Road REST call, from request to recorded response."""
        if self._http is None:
            await self.start()
        headers, duplicated = _headers(scope)
        call = _Call(
            xroad_id=self._new_id(),
            request_id=self._new_id(),
            started_at=utcnow(),
            started=time.perf_counter(),
        )
        status, body, error_type = 500, b"", None
        out_headers: list[tuple[bytes, bytes]] = []
        try:
            call.request_body = await _read_body(receive, self.config.max_body_bytes)
            status, out_headers, body = await self._r1(scope, headers, duplicated, call)
        except XRoadError as refused:
            status, error_type = refused.status, refused.type
            out_headers = _error_headers(refused)
            body = error_body(refused, call.xroad_id)
        except Exception as exc:  # any bug must still give a protocol answer and a record
            log.exception("gateway call %s failed", call.xroad_id)
            failed = server_error(
                500, "ClientProxy", "InternalError", f"internal error: {type(exc).__name__}"
            )
            status, error_type, out_headers, body = (
                500,
                failed.type,
                _error_headers(failed),
                error_body(failed, call.xroad_id),
            )
        out_headers += self._xroad_headers(call)
        entry = LogEntry(
            xroad_id=call.xroad_id,
            request_id=call.request_id,
            client_id=call.client_header[:1100],
            service_id=call.service_id,
            user_id=call.user_id,
            issue=call.issue,
            purpose=call.purpose,
            grant_id=call.grant_id,
            started_at=call.started_at,
            finished_at=utcnow(),
            http_status=status,
            error_type=error_type,
            request_body=call.request_body,
            response_body=body,
        )
        try:
            await self._record(entry)
        except Exception as exc:  # not durable: the caller must not get the data
            log.error("message log write failed for %s: %s", call.xroad_id, exc)
            lost = server_error(
                500, "ClientProxy", "MessageLogFailed", "the call could not be recorded; no data sent"
            )
            status, error_type = 500, lost.type
            out_headers = _error_headers(lost) + self._xroad_headers(call)
            body = error_body(lost, call.xroad_id)
        self.metrics.observe(
            service=call.service_label,
            client=call.client_label,
            status=status,
            seconds=time.perf_counter() - call.started,
            error_type=error_type,
        )
        await _send(send, status, body, out_headers)

    def _xroad_headers(self, call: _Call) -> list[tuple[bytes, bytes]]:
        out = [
            (b"x-road-id", call.xroad_id.encode("latin-1", "replace")),
            (b"x-road-request-id", call.request_id.encode()),
        ]
        if call.request_hash:
            out.append((b"x-road-request-hash", call.request_hash.encode()))
        if call.client_header != "-":
            out.append((b"x-road-client", call.client_header.encode("latin-1", "replace")))
        if call.service_id:
            out.append((b"x-road-service", call.service_id.encode("latin-1", "replace")))
        return out

    # ------------------------------------------------------------------ the call itself

    def _parse_target(self, raw_path: str) -> R1Target:
        parts = raw_path.split("/", 7)
        key = "/".join(parts[:7])
        cached = self._parsed.get(key)
        if cached is None:
            cached = parse_r1_path(key, instance=self.config.instance)
            if len(self._parsed) > 10_000:
                self._parsed.clear()
            self._parsed[key] = cached
        rest = raw_path[len(key) :]
        # Checked once per distinct rest (the same few paths repeat; the check was ~4 % of a worker).
        if rest not in self._rest_ok:
            _check_rest_path(rest)
            if len(self._rest_ok) > 10_000:
                self._rest_ok.clear()
            self._rest_ok.add(rest)
        return R1Target(cached.service, rest)

    def _parse_client(self, value: str | None) -> ClientId:
        key = "client:" + (value or "")
        cached = self._parsed.get(key)
        if cached is None:
            cached = parse_client_header(value, instance=self.config.instance)
            self._parsed[key] = cached
        return cached

    async def _r1(
        self, scope: Scope, headers: dict[str, str], duplicated: set[str], call: _Call
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        # Headers first: X-Road-Id goes into every answer, even one refusing a malformed path.
        xroad_id = check_optional_header("X-Road-Id", headers.get("x-road-id"), MAX_ID_HEADER)
        if xroad_id:
            call.xroad_id = xroad_id
        bad = sorted(h for h in duplicated if h.startswith(("x-road-", "x-zhengwu-", "authorization")))
        if bad:
            raise bad_request(f"header {bad[0]} given more than once")
        call.user_id = check_optional_header("X-Road-UserId", headers.get("x-road-userid"), MAX_ID_HEADER)
        call.issue = check_optional_header("X-Road-Issue", headers.get("x-road-issue"), MAX_ISSUE_HEADER)
        client_raw = headers.get("x-road-client")
        if client_raw is not None:
            call.client_header = client_raw.strip()[:1100] or "-"
        raw_path = _raw_path(scope)
        method = str(scope["method"])
        query = bytes(scope.get("query_string") or b"").decode("latin-1")
        call.request_hash = request_hash(method, raw_path, query, headers, call.request_body)
        if len(raw_path) + len(query) > MAX_URI_LENGTH:
            raise bad_request(f"request URI longer than {MAX_URI_LENGTH} characters")
        target = self._parse_target(raw_path)
        call.service_id = str(target.service)
        call.service_label = call.service_id
        client = self._parse_client(client_raw)
        call.client_header = str(client)
        call.client_label = call.client_header
        caller = await self._authenticate(headers.get("authorization"), client, peer_certificate(scope))
        if target.is_metaservice:
            return await self._metaservice(target, caller, query)
        service = await self._service(target)
        call.service_id = str(service.service)
        purpose = call.purpose = _purpose(headers.get("x-zhengwu-purpose"))
        elements = _elements(headers.get("x-zhengwu-elements"))
        access = await self._decide(caller, service, elements, purpose)
        call.grant_id = access.grant_id
        if not access.allowed:
            status, kind = _REASON_TYPES.get(access.reason or "", (403, "AccessDenied"))
            detail = (
                f" ({', '.join(access.missing)})" if access.missing and kind == "ElementNotGranted" else ""
            )
            raise client_error(status, kind, f"{access.reason}: {access.message}{detail}")
        assert access.limits is not None
        refusal = self.limiter.check(access.limit_key, access.limits)
        if refusal is not None:
            kind = "RateLimitExceeded" if refusal.kind == "rate" else "QuotaExceeded"
            raise client_error(
                429,
                kind,
                f"{refusal.kind} limit of the grant reached",
                **{"retry-after": str(refusal.retry_after)},
            )
        return await self._forward(scope, headers, call, client, service, target, query, access)

    async def _authenticate(
        self, authorization: str | None, client: ClientId, cert: bytes | None = None
    ) -> Caller:
        """The calling system: by its TLS client certificate when one was presented (mutual TLS, see
        :mod:`.certificates`), else by its API token (refused if the subsystem requires mutual TLS)."""
        load: Callable[[Any], Caller]
        if cert is not None:
            print_ = fingerprint(cert)
            key: tuple[Any, ...] = ("cert", print_, client)

            def load(db: Any) -> Caller:
                return certificates.caller_by_certificate(db, cert_fingerprint=print_, client=client)

        else:
            token = (authorization or "").strip()
            if token[:7].lower() == "bearer ":
                token = token[7:].strip()
            key = (hashlib.sha256(token.encode("utf-8", "replace")).digest(), client)

            def load(db: Any) -> Caller:
                return certificates.caller_by_token(db, raw_token=token or None, client=client)

        caller: Caller | None = self._auth.get(key)
        if caller is not None and caller.token_expires_at > utcnow():
            return caller

        async def load_async() -> Caller:
            return await self._in_db(load)

        def ttl_of(found: Caller) -> float:
            # Never past the token's (or the certificate's) own expiry.
            return max(0.0, (found.token_expires_at - utcnow()).total_seconds())

        try:
            found: Caller = await self._auth.get_or_load(key, load_async, ttl_of)
        except NotFound as exc:
            raise client_error(403, "UnknownMember", exc.message_en) from exc
        except NotAuthenticated as exc:
            if exc.code.startswith("gateway.cert."):
                # X-Road's error for a client TLS certificate it does not accept (IsAuthentication).
                raise client_error(401, "SslAuthenticationFailed", f"{exc.code}: {exc.message_en}") from exc
            raise client_error(401, "InvalidCredentials", f"{exc.code}: {exc.message_en}") from exc
        except PermissionDenied as exc:
            raise client_error(403, "InvalidClient", exc.message_en) from exc
        return found

    async def _service(self, target: R1Target) -> ServiceInfo:
        async def load() -> ServiceInfo:
            return await self._in_db(
                lambda db: services.service_resolve(
                    db, service=target.service, credential_key=self.config.credential_key
                )
            )

        try:
            info: ServiceInfo = await self._directory.get_or_load(target.service, load)
        except NotFound as exc:
            raise client_error(404, "UnknownService", exc.message_en) from exc
        except ConfigurationError as exc:
            raise server_error(500, "ServerProxy", "UpstreamCredential", exc.message_en) from exc
        return info

    async def _decide(
        self, caller: Caller, service: ServiceInfo, elements: tuple[str, ...] | None, purpose: str | None
    ) -> Access:
        key = (caller.subsystem_id, caller.department_id, service.id, elements, purpose)

        async def load() -> Access:
            return await self._in_db(
                lambda db: services.access_decide(
                    db,
                    caller=caller,
                    service=service,
                    elements=elements,
                    purpose=purpose,
                    default_limits=self.config.default_limits,
                )
            )

        access: Access = await self._access.get_or_load(key, load)
        return access

    async def _forward(
        self,
        scope: Scope,
        headers: dict[str, str],
        call: _Call,
        client: ClientId,
        service: ServiceInfo,
        target: R1Target,
        query: str,
        access: Access,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        assert self._http is not None
        out_headers = {k: v for k, v in headers.items() if k not in _DROP_REQUEST}
        out_headers.setdefault("accept", "application/json")
        # The answer may have to be filtered: ask for it uncompressed.
        out_headers["accept-encoding"] = "identity"
        out_headers["x-road-client"] = str(client)
        out_headers["x-road-service"] = str(service.service)
        out_headers["x-road-id"] = call.xroad_id
        out_headers["x-road-request-id"] = call.request_id
        if service.credential is not None:
            # The gateway's own credential at the upstream (the consumer's Authorization was dropped).
            out_headers["authorization"] = "Bearer " + service.credential
        url = service.upstream_url.rstrip("/") + target.path + ("?" + query if query else "")
        timeout = service.timeout_ms / 1000
        began = time.perf_counter()
        try:
            response = await self._http.request(
                str(scope["method"]), url, out_headers.items(), call.request_body, timeout=timeout
            )
        except UpstreamTimeout as exc:
            raise server_error(
                500,
                "ServerProxy",
                "ServiceTimeout",
                f"the provider's service did not answer within {timeout:g} s",
            ) from exc
        except UpstreamFailure as exc:
            raise server_error(
                500, "ServerProxy", "NetworkError", f"cannot reach the provider's service: {exc}"
            ) from exc
        finally:
            self.metrics.observe_upstream(call.service_label, time.perf_counter() - began)
        if response.status == 401:
            # Only the gateway authenticates to the upstream: a 401 is the platform's fault, not the
            # consumer's (missing or stale upstream credential), so it is a Server. error.
            raise server_error(
                500,
                "ServerProxy",
                "UpstreamUnauthorized",
                "the provider's service refused the gateway's credential (401)",
            )
        body = response.body
        content_type = response.header("content-type")
        encoded = response.header("content-encoding").lower() not in ("", "identity")
        if access.known is not None and body:
            if "json" in content_type.lower() and not encoded:
                try:
                    body = orjson.dumps(
                        shape(
                            orjson.loads(body),
                            known=access.known,
                            granted=access.granted,
                            masked=access.masked,
                        )
                    )
                except (orjson.JSONDecodeError, ShapeError) as exc:
                    raise server_error(
                        500, "ServerProxy", "InvalidResponse", "the provider's JSON answer cannot be filtered"
                    ) from exc
            elif 200 <= response.status < 300:
                # Data elements can only be filtered in plain JSON; anything else could carry ungranted ones.
                raise server_error(
                    500,
                    "ServerProxy",
                    "InvalidResponse",
                    f"the provider answered {content_type or 'no content type'}, not plain JSON",
                )
        passed = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers
            if k not in _DROP_RESPONSE and not k.startswith("x-road-")
        ]
        return response.status, passed, body

    async def _metaservice(
        self, target: R1Target, caller: Caller, query: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        provider = target.service.client
        code = target.service.service_code
        try:
            if code == "listMethods":
                data = await self._in_db(lambda db: services.list_methods(db, provider=provider))
            elif code == "allowedMethods":
                data = await self._in_db(
                    lambda db: services.allowed_methods(
                        db, caller=caller, provider=provider, default_limits=self.config.default_limits
                    )
                )
            else:
                params = parse_qs(query, keep_blank_values=True)
                wanted = params.get("serviceCode", [])
                if len(wanted) != 1 or not wanted[0]:
                    raise bad_request("getOpenAPI needs exactly one serviceCode query parameter")
                data = await self._in_db(
                    lambda db: services.openapi_get(db, provider=provider, service_code=wanted[0])
                )
        except NotFound as exc:
            raise client_error(404, "UnknownService", exc.message_en) from exc
        return 200, [(b"content-type", _JSON)], orjson.dumps(data)


def _purpose(value: str | None) -> str | None:
    text = check_optional_header("X-Zhengwu-Purpose", value, MAX_ISSUE_HEADER)
    return text


def _elements(value: str | None) -> tuple[str, ...] | None:
    text = check_optional_header("X-Zhengwu-Elements", value, MAX_ISSUE_HEADER)
    if text is None:
        return None
    names = tuple(sorted({n.strip() for n in text.split(",") if n.strip()}))
    if not names:
        raise bad_request("X-Zhengwu-Elements names no element")
    return names


def _error_headers(err: XRoadError) -> list[tuple[bytes, bytes]]:
    out = [(b"content-type", _JSON), (b"x-road-error", err.type.encode())]
    out += [(k.encode(), v.encode()) for k, v in err.headers.items()]
    return out


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise client_error(413, "BadRequest", f"request body larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
