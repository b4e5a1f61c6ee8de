"""The message log writer as its own process, fed by gateway processes over a Unix socket.

Why a process: in the gateway's interpreter the group-commit thread (:class:`~.messagelog.MessageLogWriter`)
and the event loop shared one GIL, each getting about half a core (docs/benchmarks.md, "Exchange
gateway"). Here the writer process owns the PostgreSQL connection, the counter-based leaf indices, the
row building, the SM3 hashes and the group commit, all through :func:`~.messagelog.write_batch` (the
one code path that builds records); gateway workers only encode a :class:`~.messagelog.LogEntry`
and wait for the acknowledgement of the batch that committed it. The rule stays: a gateway sends an
answer only after its record is durable.

Wire format (little-endian, no library): every frame is ``u32 length`` + body.

* entry (gateway → writer): :data:`_ENTRY` header (sequence number, start and finish times in µs since
  the epoch, HTTP status, grant id or -1, then ten field lengths, ``0xFFFFFFFF`` for None) followed by
  the fields' bytes in :data:`_FIELDS` order.
* ack (writer → gateway): ``u8 0`` + (sequence, leaf index, leaf hash) per committed entry of that
  connection, or ``u8 1`` + ``u32 n`` + n sequence numbers + a UTF-8 error message when the batch
  failed (those calls get ``Server.ClientProxy.MessageLogFailed``, never data).

Batching is natural: while the writer commits one batch (blocking its own loop), entries queue up in the
socket buffers; the next loop turn reads them all and commits them as the next batch. The process is
started by ``zhengwu gateway`` (:func:`spawn_writer`), reads its configuration as one JSON line on
stdin (the database URL and body key stay out of argv and the environment) and exits when stdin closes,
i.e. when the gateway process is gone, even after a SIGKILL: it first commits what it has received.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import hashlib
import json
import logging
import os
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import orjson
import uvloop
from sqlalchemy import create_engine

from zhengwu.crypto import sm3_hash, sm4_encrypt
from zhengwu.db import Database, utcnow
from zhengwu.errors import ConfigurationError
from zhengwu.exchange.merkle import LEAF_PREFIX
from zhengwu.exchange.messagelog import LEAF_FORMAT, LogEntry, LoggedCall, check_entry, write_batch

log = logging.getLogger("zhengwu.exchange.logwriter")

_LEN = struct.Struct("<I")
#: seq, started µs, finished µs, http status, grant id (-1: none), lengths of the ten _FIELDS.
_ENTRY = struct.Struct("<QqqHq10I")
_ACK_ITEM = struct.Struct("<QQ32s")
_NONE = 0xFFFFFFFF
_FIELDS = (
    "xroad_id",
    "request_id",
    "client_id",
    "service_id",
    "user_id",
    "issue",
    "purpose",
    "error_type",
    "request_body",
    "response_body",
)
_BYTES_FIELDS = frozenset({"request_body", "response_body"})
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US = dt.timedelta(microseconds=1)
#: Largest frame a writer accepts (two bodies of the gateway's 10 MiB limit, and headroom).
MAX_FRAME = 64 * 1024 * 1024


def encode_entry(seq: int, entry: LogEntry) -> bytes:
    """One entry frame (times are kept to the microsecond, as the database keeps them)."""
    parts: list[bytes] = []
    lengths: list[int] = []
    for name in _FIELDS:
        value = getattr(entry, name)
        if value is None:
            lengths.append(_NONE)
            continue
        raw = value if name in _BYTES_FIELDS else value.encode("utf-8")
        parts.append(raw)
        lengths.append(len(raw))
    head = _ENTRY.pack(
        seq,
        (entry.started_at - _EPOCH) // _US,
        (entry.finished_at - _EPOCH) // _US,
        entry.http_status,
        -1 if entry.grant_id is None else entry.grant_id,
        *lengths,
    )
    body = b"".join((head, *parts))
    return _LEN.pack(len(body)) + body


def decode_entry(body: bytes) -> tuple[int, LogEntry]:
    """The sequence number and entry of one frame body (without its length prefix)."""
    seq, started, finished, status, grant_id, *lengths = _ENTRY.unpack_from(body)
    pos = _ENTRY.size
    values: dict[str, Any] = {}
    for name, length in zip(_FIELDS, lengths, strict=True):
        if length == _NONE:
            values[name] = None
            continue
        raw = body[pos : pos + length]
        pos += length
        values[name] = raw if name in _BYTES_FIELDS else raw.decode("utf-8")
    if pos != len(body):
        raise ValueError("entry frame has trailing bytes")
    return seq, LogEntry(
        started_at=_EPOCH + started * _US,
        finished_at=_EPOCH + finished * _US,
        http_status=status,
        grant_id=None if grant_id < 0 else grant_id,
        **values,
    )


#: One decoded entry frame without objects per field: seq, started µs, finished µs, status, grant id (or
#: None), then the ten _FIELDS values (str, bytes or None).
Fields = tuple[Any, ...]

_LIMITS = (255, 255, 1100, 1400, 255, 1000, 1000, 255)  # the str _FIELDS, as check_entry has them


def decode_fields(body: bytes) -> Fields:
    """:func:`decode_entry` as a flat tuple, checked as :func:`~.messagelog.check_entry` checks an entry.

    The writer's hot path: no ``LogEntry`` (a frozen dataclass) and no ``datetime`` per record.
    """
    seq, started, finished, status, grant_id, *lengths = _ENTRY.unpack_from(body)
    pos = _ENTRY.size
    values: list[Any] = [seq, started, finished, status, None if grant_id < 0 else grant_id]
    for n, length in enumerate(lengths):
        if length == _NONE:
            values.append(None)
            continue
        raw = body[pos : pos + length]
        pos += length
        if n < 8:
            text = raw.decode("utf-8")
            if len(text) > _LIMITS[n]:
                raise ValueError(f"{_FIELDS[n]} longer than {_LIMITS[n]} characters")
            values.append(text)
        else:
            values.append(raw)
    if pos != len(body):
        raise ValueError("entry frame has trailing bytes")
    if not (values[5] and values[6] and values[7]) or not 100 <= status <= 599:
        raise ValueError("entry lacks an id or the client, or has an invalid status")
    if values[13] is None or values[14] is None:
        raise ValueError("entry lacks a body field")
    return tuple(values)


def fields_entry(fields: Fields) -> LogEntry:
    """The :class:`LogEntry` of decoded fields (for the generic :func:`write_batch` path)."""
    _, started, finished, status, grant_id, *values = fields
    return LogEntry(
        started_at=_EPOCH + started * _US,
        finished_at=_EPOCH + finished * _US,
        http_status=status,
        grant_id=grant_id,
        **dict(zip(_FIELDS, values, strict=True)),
    )


def _frames(buffer: bytearray) -> list[bytes]:
    """Complete frame bodies at the start of ``buffer``, removed from it (a partial frame stays)."""
    pos = 0
    out: list[bytes] = []
    size = len(buffer)
    with memoryview(buffer) as view:
        while size - pos >= _LEN.size:
            (length,) = _LEN.unpack_from(view, pos)
            if length > MAX_FRAME:
                raise ValueError(f"frame of {length} bytes exceeds {MAX_FRAME}")
            if size - pos - _LEN.size < length:
                break
            out.append(bytes(view[pos + _LEN.size : pos + _LEN.size + length]))
            pos += _LEN.size + length
    del buffer[:pos]
    return out


def writer_database(database: Database) -> Database:
    """The log writer's own connection on PostgreSQL: no pre-ping and no rollback on return.

    The platform's engine pings every connection it hands out and rolls back every one it takes
    back: two extra round trips per batch, where a commit is the whole point (the writer commits
    or rolls back itself). One connection suffices: there is one writer.
    """
    engine = database.engine
    if engine.dialect.name != "postgresql":
        return database
    url = engine.url.render_as_string(hide_password=False)
    return Database(create_engine(url, pool_size=1, max_overflow=0, pool_reset_on_return=None))


# ----------------------------------------------------------------------------------------------
# the writer's PostgreSQL path

_COLUMNS = (
    "leaf_index", "xroad_id", "request_id", "client_id", "service_id", "user_id", "issue", "grant_id",
    "purpose", "started_at", "finished_at", "http_status", "error_type", "request_size", "response_size",
    "request_hash", "response_hash",
)  # fmt: skip
_TYPES = (
    "bigint", "text", "text", "text", "text", "text", "text", "bigint", "text", "timestamptz", "timestamptz",
    "integer", "text", "bigint", "bigint", "text", "text",
)  # fmt: skip
_RECORDSET = ", ".join(f"{c} {t}" for c, t in zip(_COLUMNS, _TYPES, strict=True))
#: One statement, so one round trip (and, in autocommit, one commit) per batch: the counter moves by the
#: batch size only if it still is where this writer left it (else nothing is inserted and the writer
#: reads it again: another writer wrote in between), then the records and leaves. The rows travel as
#: one JSON array of the leaves' own objects (plus the leaf hash and stored bodies in hex): orjson
#: writes it in C and PostgreSQL reads it in C; psycopg's array parameters were 40 % of the writer's CPU.
_BATCH_SQL = f"""
WITH counter AS (
    UPDATE exchange_log_counter SET next_leaf_index = next_leaf_index + %(n)s
    WHERE id = 1 AND next_leaf_index = %(start)s RETURNING next_leaf_index
), batch AS MATERIALIZED (
    SELECT * FROM json_to_recordset(%(rows)s::json)
        AS r({_RECORDSET}, request_body text, response_body text, leaf_hash text)
), records AS (
    INSERT INTO exchange_log_records (logged_at, {", ".join(_COLUMNS)}, request_body, response_body)
    SELECT %(logged_at)s::timestamptz, {", ".join(_COLUMNS)}, decode(request_body, 'hex'),
        decode(response_body, 'hex')
    FROM batch WHERE EXISTS (SELECT 1 FROM counter)
)
INSERT INTO exchange_log_leaves (leaf_index, leaf_hash)
SELECT leaf_index, decode(leaf_hash, 'hex') FROM batch WHERE EXISTS (SELECT 1 FROM counter)
"""  # noqa: S608 - column names and types are the constants above; values are parameters
_COUNTER_SQL = "SELECT next_leaf_index FROM exchange_log_counter WHERE id = 1"
_SECONDS: dict[int, str] = {}


def _iso_us(us: int) -> str:
    """µs since the epoch as ``messagelog._iso`` writes a UTC time (``…T…​.ffffff+00:00``)."""
    second, fraction = divmod(us, 1_000_000)
    head = _SECONDS.get(second)
    if head is None:
        head = (_EPOCH + dt.timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S")
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        _SECONDS[second] = head
    return f"{head}.{fraction:06d}+00:00"


def _sm3_function() -> Any:
    """SM3 for the writer's hot loop: a copy of a ready hashlib object when OpenSSL has SM3 (no
    ``hashlib.new`` name lookup per hash: that lookup was 12 % of the writer's samples), else
    :func:`~zhengwu.crypto.sm3_hash`."""
    try:
        blank = hashlib.new("sm3")
    except ValueError:
        return sm3_hash

    def digest(data: bytes) -> bytes:
        h = blank.copy()
        h.update(data)
        return h.digest()

    return digest


_sm3 = _sm3_function()
#: SM3 of an empty body, hex (most requests have none).
_EMPTY_SM3 = sm3_hash(b"").hex()


def fast_leaf(payload: dict[str, Any]) -> bytes:
    """:func:`~.messagelog.leaf_bytes` of a payload already in leaf form: compact JSON, key order kept.

    orjson writes what ``json.dumps(ensure_ascii=False, separators=(",", ":"))`` writes for these
    values (strings, integers, None), ≈ 10× faster; a property test compares the two.
    """
    return orjson.dumps(payload)


class _NoCounter(Exception):
    """The counter row is missing (a database not built by the migrations): use the generic path."""


class PgLog:
    """The writer process's own psycopg connection and its batch: one statement from frames to rows.

    The same records and leaves as :func:`~.messagelog.write_batch` (a property test compares leaves;
    ``zhengwu audit verify`` recomputes them), without the ORM session, ``LogEntry`` and ``datetime``
    objects or per-row dictionaries, and in one round trip instead of five (reserve, two ``COPY``,
    ``COMMIT``, the session's ``BEGIN``): the commit's fsync is the only wait. The connection is in
    autocommit, so the one statement is its own transaction: it is durable when it returns.
    """

    def __init__(self, database: Database, body_key: bytes | None) -> None:
        self.database = database
        self.body_key = body_key
        self._fairy: Any = None
        self._next: int | None = None  # the counter as this writer left it

    def _connection(self) -> Any:
        if self._fairy is None:
            self._fairy = self.database.engine.raw_connection()
            conn = self._fairy.driver_connection
            conn.rollback()
            conn.autocommit = True
        return self._fairy.driver_connection

    def close(self) -> None:
        if self._fairy is not None:
            self._fairy.close()
            self._fairy = None

    def write(self, batch: list[Fields]) -> list[tuple[int, bytes]]:
        """Commit ``batch`` as consecutive leaves; the (leaf index, leaf hash) of each, in order."""
        try:
            conn = self._connection()
            prepared = self._prepare(batch)
            for _ in range(5):
                if self._next is None:
                    with conn.cursor() as cur:
                        found = cur.execute(_COUNTER_SQL).fetchone()
                    if found is None:
                        raise _NoCounter
                    self._next = int(found[0])
                start = self._next
                params, leaves = self._params(prepared, start)
                with conn.cursor() as cur:
                    cur.execute(_BATCH_SQL, params, prepare=True)
                    inserted = cur.rowcount
                if inserted == len(batch):
                    self._next = start + len(batch)
                    return leaves
                self._next = None  # another writer moved the counter: read it and try again
            raise RuntimeError("the message log counter kept moving under this writer")
        except _NoCounter:
            raise
        except BaseException:
            self._next = None
            if self._fairy is not None and self._fairy.driver_connection.closed:
                self._fairy.invalidate()
                self._fairy = None
            raise

    def _prepare(self, batch: list[Fields]) -> list[tuple[Any, ...]]:
        """Per record, what does not depend on the leaf index: times as text, sizes, hashes, bodies."""
        body_key = self.body_key
        prepared = []
        for _, started, finished, status, grant_id, *values in batch:
            (xroad_id, request_id, client_id, service_id, user_id, issue, purpose, error_type, req,
             resp) = values  # fmt: skip
            stored_req = stored_resp = req_sm3 = resp_sm3 = None
            if body_key is not None:
                aad = request_id.encode()
                stored_req = sm4_encrypt(body_key, req, aad=b"request:" + aad)
                stored_resp = sm4_encrypt(body_key, resp, aad=b"response:" + aad)
                req_sm3, resp_sm3 = sm3_hash(stored_req).hex(), sm3_hash(stored_resp).hex()
            prepared.append(
                (
                    xroad_id, request_id, client_id, service_id, user_id, issue, grant_id, purpose,
                    _iso_us(started), _iso_us(finished), status, error_type, len(req), len(resp),
                    _sm3(req).hex() if req else _EMPTY_SM3, _sm3(resp).hex() if resp else _EMPTY_SM3,
                    stored_req, stored_resp, req_sm3, resp_sm3,
                )
            )  # fmt: skip
        return prepared

    def _params(
        self, prepared: list[tuple[Any, ...]], start: int
    ) -> tuple[dict[str, Any], list[tuple[int, bytes]]]:
        logged = utcnow().isoformat(timespec="microseconds")
        rows: list[dict[str, Any]] = []
        leaves: list[tuple[int, bytes]] = []
        for n, row in enumerate(prepared):
            (xroad_id, request_id, client_id, service_id, user_id, issue, grant_id, purpose, started,
             finished, status, error_type, req_size, resp_size, req_hash, resp_hash, stored_req,
             stored_resp, req_sm3, resp_sm3) = row  # fmt: skip
            index = start + n
            payload = {
                "v": LEAF_FORMAT, "leaf_index": index, "logged_at": logged, "xroad_id": xroad_id,
                "request_id": request_id, "client_id": client_id, "service_id": service_id,
                "user_id": user_id, "issue": issue, "started_at": started, "finished_at": finished,
                "http_status": status, "error_type": error_type, "request_size": req_size,
                "response_size": resp_size, "request_hash": req_hash, "response_hash": resp_hash,
                "request_body_sm3": req_sm3, "response_body_sm3": resp_sm3,
            }  # fmt: skip
            if grant_id is not None:
                payload["grant_id"] = grant_id
            if purpose is not None:
                payload["purpose"] = purpose
            leaf_hash = _sm3(LEAF_PREFIX + fast_leaf(payload))
            leaves.append((index, leaf_hash))
            # The same object carries the row (json_to_recordset ignores the leaf-only keys).
            payload["leaf_hash"] = leaf_hash.hex()
            if stored_req is not None:
                payload["request_body"] = stored_req.hex()
                payload["response_body"] = stored_resp.hex()
            rows.append(payload)
        params = {
            "n": len(prepared),
            "start": start,
            "logged_at": logged,
            "rows": orjson.dumps(rows).decode("utf-8"),
        }
        return params, leaves


# ----------------------------------------------------------------------------------------------
# the writer process


class _Peer(asyncio.Protocol):
    """One gateway connection: frames in, acks out."""

    def __init__(self, server: _WriterServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, hence a cast and not isinstance.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            for body in _frames(self.buffer):
                self.server.add(self, decode_fields(body))
        except (ValueError, UnicodeDecodeError, struct.error) as exc:
            # A peer that sends garbage is a bug; its calls already queued still get their answer.
            log.error("dropping a gateway connection that sent a malformed frame: %s", exc)
            assert self.transport is not None
            self.transport.close()

    def send(self, frame: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame)


class _WriterServer:
    """Collects entries from every connection and commits them in batches on one connection."""

    def __init__(self, database: Database, body_key: bytes | None, max_batch: int) -> None:
        self.database = database
        self.body_key = body_key
        self.max_batch = max_batch
        # PostgreSQL: the lean path; elsewhere (SQLite) the generic write_batch.
        self.pg = PgLog(database, body_key) if database.engine.dialect.name == "postgresql" else None
        self.pending: list[tuple[_Peer, Fields]] = []
        self.scheduled = False
        self.batches = 0
        self.records = 0

    def add(self, peer: _Peer, fields: Fields) -> None:
        self.pending.append((peer, fields))
        if not self.scheduled:
            self.scheduled = True
            # Next loop turn: every connection readable now is read first, so they share the batch.
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Commit everything pending, one batch after another."""
        self.scheduled = False
        while self.pending:
            batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
            self._commit(batch)

    def _write(self, batch: list[Fields]) -> list[tuple[int, bytes]]:
        if self.pg is not None:
            try:
                return self.pg.write(batch)
            except _NoCounter:
                pass  # the generic path creates the counter row
        with self.database.session() as db:
            done = write_batch(db, [fields_entry(f) for f in batch], body_key=self.body_key, with_ids=False)
        return [(c.leaf_index, c.leaf_hash) for c in done]

    def _commit(self, batch: list[tuple[_Peer, Fields]]) -> None:
        try:
            done = self._write([f for _, f in batch])
        except Exception as exc:  # every waiting gateway must learn that these records are NOT durable
            log.error("message log batch of %d failed: %s", len(batch), exc)
            message = f"{type(exc).__name__}: {exc}"[:2000].encode("utf-8", "replace")
            for peer, seqs in _by_peer((peer, f[0]) for peer, f in batch).items():
                body = b"\x01" + _LEN.pack(len(seqs)) + struct.pack(f"<{len(seqs)}Q", *seqs) + message
                peer.send(_LEN.pack(len(body)) + body)
            return
        self.batches += 1
        self.records += len(batch)
        acks: dict[_Peer, list[bytes]] = {}
        for (peer, fields), (leaf_index, leaf_hash) in zip(batch, done, strict=True):
            acks.setdefault(peer, []).append(_ACK_ITEM.pack(fields[0], leaf_index, leaf_hash))
        for peer, items in acks.items():
            body = b"\x00" + b"".join(items)
            peer.send(_LEN.pack(len(body)) + body)


def _by_peer(items: Iterable[tuple[_Peer, int]]) -> dict[_Peer, list[int]]:
    out: dict[_Peer, list[int]] = {}
    for peer, seq in items:
        out.setdefault(peer, []).append(seq)
    return out


async def serve(
    database: Database, socket_path: str, *, body_key: bytes | None = None, max_batch: int = 500
) -> None:
    """Serve gateways on ``socket_path`` until stdin closes or SIGTERM; commit what was received."""
    loop = asyncio.get_running_loop()
    writer = _WriterServer(database, body_key, max_batch)
    server = await loop.create_unix_server(lambda: _Peer(writer), socket_path)
    os.chmod(socket_path, 0o600)
    done = asyncio.Event()

    def on_stdin() -> None:
        if not os.read(sys.stdin.fileno(), 4096):
            done.set()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    loop.add_signal_handler(signal.SIGTERM, done.set)
    # Ctrl-C reaches the whole process group: the gateway drains its calls first, and they need us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # What is loaded now lives as long as the process: keep it out of full garbage collections, which
    # over the imported models took ≈ 0.5 s, a pause every waiting call would see.
    gc.freeze()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await done.wait()
    server.close()
    writer.flush()
    if writer.pg is not None:
        writer.pg.close()
    log.info("message log writer: %d records in %d batches", writer.records, writer.batches)


def main() -> None:
    """Entry point of the writer process: one JSON line of configuration on stdin, then serve."""
    logging.basicConfig(level=os.environ.get("ZHENGWU_LOG_LEVEL", "WARNING"), stream=sys.stderr)
    config = json.loads(sys.stdin.buffer.readline())
    database = writer_database(Database.from_url(config["database_url"]))
    body_key = bytes.fromhex(config["body_key"]) if config.get("body_key") else None
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(
                serve(
                    database, config["socket"], body_key=body_key, max_batch=int(config.get("max_batch", 500))
                )
            )
    finally:
        database.dispose()


@dataclass
class WriterProcess:
    """A running writer process: where gateways connect, and how to stop it."""

    socket_path: str
    process: subprocess.Popen[bytes]
    directory: Path

    def stop(self, timeout: float = 30.0) -> None:
        """Close its stdin (it commits what it has and exits) and wait; kill it only if it hangs."""
        stdin: IO[bytes] | None = self.process.stdin
        if stdin is not None and not stdin.closed:
            stdin.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        Path(self.socket_path).unlink(missing_ok=True)
        self.directory.rmdir()


def spawn_writer(database_url: str, *, body_key: bytes | None = None, timeout: float = 60.0) -> WriterProcess:
    """Start a writer process on a fresh socket in a private directory; return once it listens."""
    directory = Path(tempfile.mkdtemp(prefix="zhengwu-log-"))
    socket_path = str(directory / "writer.sock")
    process = subprocess.Popen(
        [sys.executable, "-m", "zhengwu.exchange.logwriter"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    config = {
        "database_url": database_url,
        "socket": socket_path,
        "body_key": body_key.hex() if body_key else None,
    }
    process.stdin.write(json.dumps(config).encode() + b"\n")
    process.stdin.flush()
    ready = _readline(process.stdout, timeout)
    if ready != b"ready\n":
        process.kill()
        process.wait()
        raise ConfigurationError(
            "交换日志写入进程未能启动", message_en="the message log writer process did not start"
        )
    process.stdout.close()
    return WriterProcess(socket_path, process, directory)


def _readline(stream: IO[bytes], timeout: float) -> bytes:
    """One line from a child's pipe, or b"" after ``timeout`` seconds (a hung start must not hang us)."""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        if not sel.select(timeout):
            return b""
    return stream.readline()


# ----------------------------------------------------------------------------------------------
# the gateway's side


class LogWriterClient(asyncio.Protocol):
    """A gateway worker's connection to the writer process: :meth:`write` returns once durable.

    Entries submitted in one event-loop turn go out in one ``send``. If the connection drops, every
    call waiting on it fails (the gateway answers ``MessageLogFailed``) and the next call reconnects.
    """

    def __init__(self, socket_path: str, *, timeout: float = 30.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._transport: asyncio.Transport | None = None
        self._connecting: asyncio.Lock | None = None
        # In sending order, with the loop time each was queued (the watchdog reads the oldest first).
        self._waiting: dict[int, tuple[asyncio.Future[LoggedCall], float]] = {}
        self._watchdog: asyncio.TimerHandle | None = None
        self._out: list[bytes] = []
        self._seq = 0
        self._buffer = bytearray()
        self._closed = False

    async def connect(self) -> None:
        """Connect now (the gateway does this at start-up, so a missing writer fails loudly)."""
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._transport is None or self._transport.is_closing():
                loop = asyncio.get_running_loop()
                await loop.create_unix_connection(lambda: self, self.socket_path)
            if self._transport is None:
                raise ConnectionError("the message log writer connection closed at once")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._buffer.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._out.clear()  # their calls fail below; a reconnection must not send them after all
        waiting, self._waiting = self._waiting, {}
        for future, _ in waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the message log writer connection was lost"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        for body in _frames(self._buffer):
            if body[0] == 0:
                for seq, leaf_index, leaf_hash in _ACK_ITEM.iter_unpack(body[1:]):
                    waiting = self._waiting.pop(seq, None)
                    if waiting is not None and not waiting[0].done():
                        waiting[0].set_result(LoggedCall(None, leaf_index, leaf_hash))
            else:
                (count,) = _LEN.unpack_from(body, 1)
                seqs = struct.unpack_from(f"<{count}Q", body, 5)
                message = body[5 + 8 * count :].decode("utf-8", "replace")
                for seq in seqs:
                    waiting = self._waiting.pop(seq, None)
                    if waiting is not None and not waiting[0].done():
                        waiting[0].set_exception(RuntimeError(f"message log batch failed: {message}"))

    async def write(self, entry: LogEntry) -> LoggedCall:
        """Send ``entry`` to the writer and return once its batch has committed."""
        if self._closed:
            raise ConfigurationError("日志写入器未运行", message_en="message log writer is not running")
        check_entry(entry)  # before sending: one bad entry would fail its whole batch
        if self._transport is None or self._transport.is_closing():
            await self.connect()
        self._seq += 1
        loop = asyncio.get_running_loop()
        future: asyncio.Future[LoggedCall] = loop.create_future()
        self._waiting[self._seq] = (future, loop.time())
        if not self._out:
            loop.call_soon(self._flush)
        self._out.append(encode_entry(self._seq, entry))
        if self._watchdog is None:
            self._watchdog = loop.call_later(1.0, self._expire)
        return await future

    def _expire(self) -> None:
        """Fail calls waiting longer than ``timeout`` (a call must never wait forever, nor hold up the
        gateway's shutdown). One timer a second for all calls: ``wait_for`` per call cost 2-3 % of the
        gateway's CPU."""
        self._watchdog = None
        limit = asyncio.get_running_loop().time() - self.timeout
        while self._waiting:
            seq, (future, queued) = next(iter(self._waiting.items()))
            if queued > limit:
                break
            del self._waiting[seq]
            if not future.done():
                future.set_exception(TimeoutError(f"no durable acknowledgement within {self.timeout:g} s"))
        if self._waiting:
            self._watchdog = asyncio.get_running_loop().call_later(1.0, self._expire)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self._transport is None:
            # Lost between write() and this turn: connection_lost has failed the waiting calls.
            return
        self._transport.write(b"".join(out))

    async def aclose(self) -> None:
        """Close the connection (calls still waiting fail)."""
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._transport is not None:
            self._transport.close()


if __name__ == "__main__":
    main()
