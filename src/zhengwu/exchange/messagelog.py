"""The tamper-evident message log: every exchange call becomes one leaf of an append-only Merkle tree.

Writing. :class:`MessageLogWriter` is the group-commit writer the gateway uses: any number of threads
call :meth:`MessageLogWriter.append`, one writer thread takes whatever has queued up (up to
``max_batch`` records, optionally lingering ``max_wait`` seconds for more), assigns leaf indices,
inserts the batch in ONE transaction and only then wakes the callers, so a gateway sends a response
only after its record is durable. Indices are read from the database inside the batch's transaction
under a lock (PostgreSQL advisory lock; SQLite's single write lock taken first), so they are gap-free
and follow commit order even with several writer processes. :func:`messagelog_append` writes one
record in the caller's own transaction (for tests, tools and the one-per-call baseline).

The leaf of a record is the canonical JSON of its fields including its own ``leaf_index`` (so moving a
record to another position changes its leaf) and the SM3 of stored (encrypted) bodies (so they are
covered without the key). Tree heads are signed with SM2 over a fixed text layout
(:func:`head_payload`); proofs are RFC 6962 audit paths and consistency proofs (:mod:`.merkle`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, func, insert, select, text
from sqlalchemy.orm import Session

from zhengwu.crypto import (
    sm2_key_to_hex,
    sm2_public_key_from_private,
    sm2_sign,
    sm2_verify,
    sm3_hash,
    sm3_hmac,
    sm4_decrypt,
    sm4_encrypt,
)
from zhengwu.db import Database, utcnow
from zhengwu.errors import ConfigurationError, Conflict, NotFound, ValidationError
from zhengwu.exchange.merkle import SM3, MerkleTree
from zhengwu.exchange.models import ExchangeLogCounter, ExchangeLogHead, ExchangeLogLeaf, ExchangeLogRecord

log = logging.getLogger("zhengwu.exchange.messagelog")

#: Records are kept in the database at least this long before they may be archived and deleted.
RETENTION_DAYS = 180
#: How often the platform is expected to sign a tree head (the gateway's timer; a policy, not enforced).
HEAD_INTERVAL_SECONDS = 60
LEAF_FORMAT = 1
HEAD_FORMAT = "zhengwu-messagelog-tree-head/v1"
_BODY_KEY_LABEL = b"zhengwu/exchange/messagelog/body-key/v1"


@dataclass(frozen=True)
class LogEntry:
    """What the gateway knows about one call when it has finished (or been refused)."""

    xroad_id: str
    request_id: str
    client_id: str
    started_at: dt.datetime
    finished_at: dt.datetime
    http_status: int
    service_id: str | None = None
    user_id: str | None = None
    issue: str | None = None
    error_type: str | None = None
    request_body: bytes = b""
    response_body: bytes = b""
    grant_id: int | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class LoggedCall:
    """A durable record: its row id (None when the writer did not read it back), leaf index and hash."""

    id: int | None
    leaf_index: int
    leaf_hash: bytes


def messagelog_body_key(secret_key: str) -> bytes:
    """The 16-byte SM4 key for stored bodies, derived from the platform secret (HMAC-SM3, labelled)."""
    return sm3_hmac(secret_key.encode("utf-8"), _BODY_KEY_LABEL)[:16]


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValidationError(
            "时间必须带时区", message_en="naive datetime in a log record", code="exchange.log.naive_time"
        )
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _hex_or_none(data: bytes | None) -> str | None:
    return None if data is None else sm3_hash(data).hex()


def leaf_bytes(fields: Mapping[str, Any]) -> bytes:
    """The canonical leaf of a record: compact JSON of its fields in a fixed key order.

    ``fields`` is a column-name mapping (a row about to be inserted, or :func:`record_fields`).
    ``grant_id`` and ``purpose`` (added later) are part of the leaf only when set, so the leaves of
    records written before them, and archives that lack the keys, still hash as they did.
    """
    payload = {
        "v": LEAF_FORMAT,
        "leaf_index": int(fields["leaf_index"]),
        "logged_at": _iso(fields["logged_at"]),
        "xroad_id": fields["xroad_id"],
        "request_id": fields["request_id"],
        "client_id": fields["client_id"],
        "service_id": fields["service_id"],
        "user_id": fields["user_id"],
        "issue": fields["issue"],
        "started_at": _iso(fields["started_at"]),
        "finished_at": _iso(fields["finished_at"]),
        "http_status": int(fields["http_status"]),
        "error_type": fields["error_type"],
        "request_size": int(fields["request_size"]),
        "response_size": int(fields["response_size"]),
        "request_hash": fields["request_hash"],
        "response_hash": fields["response_hash"],
        "request_body_sm3": _hex_or_none(fields["request_body"]),
        "response_body_sm3": _hex_or_none(fields["response_body"]),
    }
    grant_id = fields.get("grant_id")
    if grant_id is not None:
        payload["grant_id"] = int(grant_id)
    purpose = fields.get("purpose")
    if purpose is not None:
        payload["purpose"] = purpose
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_RECORD_COLUMNS = (
    "leaf_index",
    "logged_at",
    "xroad_id",
    "request_id",
    "client_id",
    "service_id",
    "user_id",
    "issue",
    "grant_id",
    "purpose",
    "started_at",
    "finished_at",
    "http_status",
    "error_type",
    "request_size",
    "response_size",
    "request_hash",
    "response_hash",
    "request_body",
    "response_body",
)


def record_fields(record: ExchangeLogRecord) -> dict[str, Any]:
    """The stored fields of a record, as :func:`leaf_bytes` reads them."""
    return {name: getattr(record, name) for name in _RECORD_COLUMNS}


def record_leaf_hash(record: ExchangeLogRecord) -> bytes:
    """The leaf hash recomputed from what is stored now."""
    return SM3.hash_leaf(leaf_bytes(record_fields(record)))


def check_entry(entry: LogEntry) -> None:
    """Raise :class:`ValidationError` for an entry that cannot become a record (missing ids, bad sizes)."""
    for name in ("xroad_id", "request_id", "client_id"):
        if not getattr(entry, name):
            raise ValidationError(
                f"日志记录缺少 {name}",
                message_en=f"log entry lacks {name}",
                code="exchange.log.missing",
                field=name,
            )
    if not 100 <= entry.http_status <= 599:
        raise ValidationError(
            "HTTP 状态码无效",
            message_en="http_status must be 100..599",
            code="exchange.log.bad_status",
            field="http_status",
        )
    # Checked here, before queueing: one bad entry inside a batch would fail every call in it.
    for name in ("started_at", "finished_at"):
        if getattr(entry, name).tzinfo is None:
            raise ValidationError(
                "时间必须带时区",
                message_en=f"{name} must be timezone-aware",
                code="exchange.log.naive_time",
                field=name,
            )
    limits = {
        "xroad_id": 255,
        "request_id": 255,
        "client_id": 1100,
        "service_id": 1400,
        "user_id": 255,
        "issue": 1000,
        "purpose": 1000,
        "error_type": 255,
    }
    for name, limit in limits.items():
        value = getattr(entry, name)
        if value is not None and len(value) > limit:
            raise ValidationError(
                f"{name} 过长（最多 {limit} 个字符）",
                message_en=f"{name} longer than {limit} characters",
                code="exchange.log.too_long",
                field=name,
            )


def _row(entry: LogEntry, leaf_index: int, logged_at: dt.datetime, body_key: bytes | None) -> dict[str, Any]:
    check_entry(entry)
    request_body = response_body = None
    if body_key is not None:
        # The request id in the associated data ties each ciphertext to its call: a body moved to
        # another record no longer decrypts.
        request_body = sm4_encrypt(body_key, entry.request_body, aad=b"request:" + entry.request_id.encode())
        response_body = sm4_encrypt(
            body_key, entry.response_body, aad=b"response:" + entry.request_id.encode()
        )
    return {
        "leaf_index": leaf_index,
        "logged_at": logged_at,
        "xroad_id": entry.xroad_id,
        "request_id": entry.request_id,
        "client_id": entry.client_id,
        "service_id": entry.service_id,
        "user_id": entry.user_id,
        "issue": entry.issue,
        "grant_id": entry.grant_id,
        "purpose": entry.purpose,
        "started_at": entry.started_at,
        "finished_at": entry.finished_at,
        "http_status": entry.http_status,
        "error_type": entry.error_type,
        "request_size": len(entry.request_body),
        "response_size": len(entry.response_body),
        "request_hash": sm3_hash(entry.request_body).hex(),
        "response_hash": sm3_hash(entry.response_body).hex(),
        "request_body": request_body,
        "response_body": response_body,
    }


def decrypt_bodies(record: ExchangeLogRecord, body_key: bytes) -> tuple[bytes, bytes]:
    """The stored request and response bodies in clear (raises if none were kept or they were altered)."""
    if record.request_body is None or record.response_body is None:
        raise NotFound(
            "该记录未保存报文", message_en="this record kept no bodies", code="exchange.log.no_body"
        )
    aad = record.request_id.encode()
    return (
        sm4_decrypt(body_key, record.request_body, aad=b"request:" + aad),
        sm4_decrypt(body_key, record.response_body, aad=b"response:" + aad),
    )


_RESERVE = text(
    "UPDATE exchange_log_counter SET next_leaf_index = next_leaf_index + :count WHERE id = 1 "
    "RETURNING next_leaf_index"
)


def _reserve_leaves(db: Session, count: int) -> int:
    """Reserve ``count`` consecutive leaf indices in the caller's transaction; returns the first.

    One statement: the UPDATE takes the counter row's lock (PostgreSQL) or the database's write lock
    (SQLite), so a second writer waits and then reads the value the first one committed.
    """
    # One prepared text statement: building and executing the ORM (later Core) UPDATE each batch was a
    # quarter of the log writer's CPU (py-spy, docs/benchmarks.md); there is no object to synchronize.
    reserved = db.connection().execute(_RESERVE, {"count": count}).scalar_one_or_none()
    if reserved is None:
        # The migration creates the row; a database built some other way gets it on its first write.
        start = next_leaf_index(db)
        db.execute(insert(ExchangeLogCounter).values(id=1, next_leaf_index=start + count))
        return start
    return int(reserved) - count


def next_leaf_index(db: Session) -> int:
    """The index the next record will get (the number of leaves)."""
    last = db.scalar(select(func.max(ExchangeLogLeaf.leaf_index)))
    return 0 if last is None else int(last) + 1


def _insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (same keys each) into ``table`` in the connection's transaction.

    PostgreSQL: one ``COPY ... FROM STDIN`` on the same connection. The plain executemany before it went
    through psycopg's pipeline row by row, about half of the log writer's CPU per batch (py-spy,
    docs/benchmarks.md). Elsewhere a plain executemany (no RETURNING: INSERT ... RETURNING over many rows
    makes SQLAlchemy build one giant statement per batch, re-parsed every time, ~0.4 ms a record).
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    columns = list(rows[0])
    # Every value is already what the column stores: times are aware (checked, UTC), bodies bytes.
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
    finally:
        cursor.close()


def write_batch(
    db: Session,
    entries: Sequence[LogEntry],
    *,
    body_key: bytes | None = None,
    now: dt.datetime | None = None,
    with_ids: bool = True,
) -> list[LoggedCall]:
    """Insert ``entries`` as consecutive leaves in the caller's transaction (which must then commit).

    ``now`` (the ``logged_at`` of the batch) exists for imports and tests; the gateway leaves it out.
    ``with_ids=False`` skips reading the row ids back (the group-commit writer does not need them: its
    callers find a record by X-Road id or leaf index), which saves a round trip per batch.
    """
    logged_at = now or utcnow()
    # Build and check every row before reserving indices, so bad input never holds the counter's lock.
    prepared = [(e, _row(e, 0, logged_at, body_key)) for e in entries]
    start = _reserve_leaves(db, len(prepared))
    rows = []
    for i, (_, row) in enumerate(prepared):
        row["leaf_index"] = start + i
        rows.append(row)
    hashes = [SM3.hash_leaf(leaf_bytes(r)) for r in rows]
    conn = db.connection()
    _insert_rows(conn, ExchangeLogRecord.__table__, rows)  # type: ignore[arg-type]
    _insert_rows(
        conn,
        ExchangeLogLeaf.__table__,  # type: ignore[arg-type]
        [{"leaf_index": start + i, "leaf_hash": h} for i, h in enumerate(hashes)],
    )
    if not with_ids:
        return [LoggedCall(None, start + n, h) for n, h in enumerate(hashes)]
    end = start + len(rows)
    found = conn.execute(
        select(ExchangeLogRecord.leaf_index, ExchangeLogRecord.id).where(
            ExchangeLogRecord.leaf_index >= start, ExchangeLogRecord.leaf_index < end
        )
    )
    ids = {int(index): int(row_id) for index, row_id in found}
    return [LoggedCall(int(ids[start + n]), start + n, h) for n, h in enumerate(hashes)]


def messagelog_append(
    db: Session, entry: LogEntry, *, body_key: bytes | None = None, now: dt.datetime | None = None
) -> LoggedCall:
    """Write one record in the caller's transaction (durable when the caller commits)."""
    return write_batch(db, [entry], body_key=body_key, now=now)[0]


_STOP = object()


class MessageLogWriter:
    """Group commit: many threads append, one thread writes batches, each caller waits for its commit."""

    def __init__(
        self,
        database: Database,
        *,
        body_key: bytes | None = None,
        max_batch: int = 500,
        max_wait: float = 0.0,
        queue_size: int = 100_000,
    ) -> None:
        if max_batch < 1 or max_wait < 0:
            raise ConfigurationError(
                "max_batch 至少为 1，max_wait 不得为负",
                message_en="max_batch >= 1 and max_wait >= 0 required",
            )
        self.database = database
        self.body_key = body_key
        self.max_batch = max_batch
        # 0 means "natural" batching: take whatever queued up while the previous batch committed. It
        # adds no latency at low load and still batches under load; a positive value lingers for more.
        self.max_wait = max_wait
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0
        self.records = 0

    def __enter__(self) -> MessageLogWriter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> MessageLogWriter:
        """Start the writer thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="messagelog-writer", daemon=True)
            self._thread.start()
        return self

    def submit(self, entry: LogEntry) -> Future[LoggedCall]:
        """Queue ``entry``; the future resolves once its batch has committed."""
        if self._closed or self._thread is None:
            raise ConfigurationError("日志写入器未运行", message_en="message log writer is not running")
        check_entry(entry)
        future: Future[LoggedCall] = Future()
        self._queue.put((entry, future))
        return future

    def append(self, entry: LogEntry, *, timeout: float | None = 30.0) -> LoggedCall:
        """Queue ``entry`` and return only after its record is committed (raises if the write failed)."""
        return self.submit(entry).result(timeout=timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Write everything queued, then stop the thread."""
        if self._thread is None or self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _gather(self, first: Any) -> tuple[list[tuple[LogEntry, Future[LoggedCall]]], bool]:
        batch = [first]
        stop = False
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
                break
            batch.append(item)
        return batch, stop

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop = self._gather(first)
            self._commit(batch)
            if stop:
                # Drain what was queued before close() so no caller is left waiting.
                rest: list[Any] = []
                while not self._queue.empty():
                    rest.append(self._queue.get_nowait())
                for i in range(0, len(rest), self.max_batch):
                    self._commit(rest[i : i + self.max_batch])
                return

    def _commit(self, batch: list[tuple[LogEntry, Future[LoggedCall]]]) -> None:
        try:
            with self.database.session() as db:
                done = write_batch(db, [entry for entry, _ in batch], body_key=self.body_key, with_ids=False)
        except Exception as exc:  # every waiting caller must learn that its record is NOT durable
            log.error("message log batch of %d failed: %s", len(batch), exc)
            for _, future in batch:
                future.set_exception(exc)
            return
        self.batches += 1
        self.records += len(batch)
        for (_, future), call in zip(batch, done, strict=True):
            future.set_result(call)


# ----------------------------------------------------------------------------------------------
# the tree, signed heads and proofs


def load_tree(db: Session, size: int | None = None) -> MerkleTree:
    """The Merkle tree of the first ``size`` leaves (default all), from the leaf table.

    Raises :class:`ValidationError` when the leaf table has a gap, which only tampering can cause.
    """
    query = select(ExchangeLogLeaf.leaf_index, ExchangeLogLeaf.leaf_hash).order_by(ExchangeLogLeaf.leaf_index)
    if size is not None:
        query = query.where(ExchangeLogLeaf.leaf_index < size)
    tree = MerkleTree(SM3)
    for index, leaf_hash in db.execute(query):
        if index != tree.size:
            raise ValidationError(
                f"叶子表在序号 {tree.size} 处缺失",
                message_en=f"leaf table has a gap at index {tree.size}",
                code="exchange.log.leaf_gap",
                details={"leaf_index": tree.size},
            )
        tree.append(bytes(leaf_hash))
    return tree


class _TreeCache:
    """Merkle trees kept in memory per database, so proofs and signing cost O(log² n) plus new leaves.

    A cached tree serves a head only if its root at the head's size equals the head's signed root, read
    from the database in the caller's transaction: then the cached leaves are exactly those the head
    commits to, whatever happened since (a rolled-back batch, a rewritten row). Otherwise the tree is
    rebuilt from the leaf table. Leaves past the newest head are appended as they become visible.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trees: dict[str, MerkleTree] = {}

    @staticmethod
    def _key(db: Session) -> str:
        return db.get_bind().engine.url.render_as_string(hide_password=True)

    @staticmethod
    def _extend(db: Session, tree: MerkleTree, size: int | None) -> bool:
        query = (
            select(ExchangeLogLeaf.leaf_index, ExchangeLogLeaf.leaf_hash)
            .where(ExchangeLogLeaf.leaf_index >= tree.size)
            .order_by(ExchangeLogLeaf.leaf_index)
        )
        if size is not None:
            query = query.where(ExchangeLogLeaf.leaf_index < size)
        for index, leaf_hash in db.execute(query):
            if index != tree.size:
                return False
            tree.append(bytes(leaf_hash))
        return True

    def tree(self, db: Session, head: ExchangeLogHead | None, *, to_end: bool = False) -> MerkleTree:
        """A tree that matches ``head`` (when given) on its first ``head.tree_size`` leaves.

        With ``to_end`` the tree holds exactly the leaves visible in ``db``'s transaction: the part the
        head vouches for from the cache, the rest read from the leaf table (for signing the next head).
        """
        key = self._key(db)
        size = head.tree_size if head is not None else 0

        def matches(tree: MerkleTree) -> bool:
            return head is None or (tree.size >= size and tree.root(size).hex() == head.root_hash)

        with self._lock:
            cached = self._trees.get(key)
            if cached is not None and cached.size < size:
                self._extend(db, cached, size)
            if cached is not None and matches(cached):
                tree = cached.truncated(size) if to_end else cached
            else:
                tree = load_tree(db, None if to_end else size)
            if to_end and not self._extend(db, tree, None):
                tree = load_tree(db)
            if not matches(tree):
                raise Conflict(
                    f"日志与签名树头 {size} 不一致，请运行 zhengwu exchange log-verify",
                    message_en=f"the log does not match its signed head of size {size}; run log-verify",
                    code="exchange.log.head_mismatch",
                )
            self._trees[key] = tree
            return tree

    def clear(self) -> None:
        """Forget every cached tree."""
        with self._lock:
            self._trees.clear()


TREES = _TreeCache()


def key_fingerprint(public_pem: bytes) -> str:
    """SM3 of the public key point (x||y), hex: names the signing key independently of PEM layout."""
    return sm3_hash(bytes.fromhex(sm2_key_to_hex(public_pem))).hex()


def head_payload(tree_size: int, root_hash: str, signed_at: dt.datetime) -> bytes:
    """The exact bytes a tree head signature covers."""
    return f"{HEAD_FORMAT}\n{tree_size}\n{root_hash}\n{_iso(signed_at)}\n".encode("ascii")


def head_dict(head: ExchangeLogHead) -> dict[str, Any]:
    """A signed head as plain data (what the API returns and a verifier needs)."""
    return {
        "id": head.id,
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "signed_at": _iso(head.signed_at),
        "signature": head.signature,
        "key_fingerprint": head.key_fingerprint,
        "public_pem": head.public_pem,
    }


def verify_head_signature(head: Mapping[str, Any], public_pem: bytes) -> bool:
    """True when ``head`` (as :func:`head_dict` gives it) carries a valid signature by ``public_pem``."""
    signed_at = dt.datetime.fromisoformat(str(head["signed_at"]))
    payload = head_payload(int(head["tree_size"]), str(head["root_hash"]), signed_at)
    try:
        signature = bytes.fromhex(str(head["signature"]))
    except ValueError:
        return False
    return key_fingerprint(public_pem) == head["key_fingerprint"] and sm2_verify(
        public_pem, payload, signature
    )


def messagelog_sign_head(
    db: Session, *, private_pem: bytes, at: dt.datetime | None = None
) -> ExchangeLogHead:
    """Sign (tree size, root, time) for the whole log as it is now; the gateway calls this on a timer."""
    last = db.scalars(select(ExchangeLogHead).order_by(ExchangeLogHead.id.desc())).first()
    tree = TREES.tree(db, last, to_end=True)
    signed_at = (at or utcnow()).astimezone(dt.UTC)
    root = tree.root().hex()
    public_pem = sm2_public_key_from_private(private_pem)
    signature = sm2_sign(private_pem, head_payload(tree.size, root, signed_at)).hex()
    head = ExchangeLogHead(
        tree_size=tree.size,
        root_hash=root,
        signed_at=signed_at,
        signature=signature,
        key_fingerprint=key_fingerprint(public_pem),
        public_pem=public_pem.decode("ascii"),
    )
    db.add(head)
    db.flush()
    return head


def heads_latest(db: Session, limit: int = 10) -> list[ExchangeLogHead]:
    """The newest signed heads first."""
    return list(db.scalars(select(ExchangeLogHead).order_by(ExchangeLogHead.id.desc()).limit(limit)))


def _head(db: Session, head_id: int) -> ExchangeLogHead:
    head = db.get(ExchangeLogHead, head_id)
    if head is None:
        raise NotFound(f"签名树头 {head_id} 不存在", message_en=f"no signed head {head_id}", field="head_id")
    return head


def find_record(
    db: Session, *, record_id: int | None = None, xroad_id: str | None = None
) -> ExchangeLogRecord:
    """A record by id or by X-Road-Id (the first logged with that id)."""
    record: ExchangeLogRecord | None
    if record_id is not None:
        record = db.get(ExchangeLogRecord, record_id)
    elif xroad_id:
        record = db.scalars(
            select(ExchangeLogRecord)
            .where(ExchangeLogRecord.xroad_id == xroad_id)
            .order_by(ExchangeLogRecord.id)
        ).first()
    else:
        raise ValidationError(
            "请给出记录号或 X-Road-Id", message_en="give record_id or xroad_id", code="exchange.log.no_key"
        )
    if record is None:
        raise NotFound(
            "日志记录不存在", message_en="no such message log record", code="exchange.log.not_found"
        )
    return record


def messagelog_inclusion_proof(
    db: Session,
    *,
    record_id: int | None = None,
    xroad_id: str | None = None,
    leaf_index: int | None = None,
    head_id: int | None = None,
) -> dict[str, Any]:
    """The audit path of a record against a signed head (default: the newest head that covers it).

    ``leaf_index`` also reaches archived records (their leaf hashes stay in the database): the holder
    of an archive file recomputes the leaf from the archived record and checks it with this path.
    """
    record: ExchangeLogRecord | None = None
    if leaf_index is None:
        record = find_record(db, record_id=record_id, xroad_id=xroad_id)
        index = record.leaf_index
    else:
        index = leaf_index
        if db.get(ExchangeLogLeaf, index) is None:
            raise NotFound(
                f"叶子 {index} 不存在",
                message_en=f"no leaf {index}",
                code="exchange.log.not_found",
                field="leaf_index",
            )
        record = db.scalars(select(ExchangeLogRecord).where(ExchangeLogRecord.leaf_index == index)).first()
    head: ExchangeLogHead | None
    if head_id is not None:
        head = _head(db, head_id)
    else:
        head = db.scalars(
            select(ExchangeLogHead)
            .where(ExchangeLogHead.tree_size > index)
            .order_by(ExchangeLogHead.id.desc())
        ).first()
        if head is None:
            raise NotFound(
                "尚无覆盖该记录的签名树头，请稍后再试",
                message_en="no signed tree head covers this record yet",
                code="exchange.log.not_yet_signed",
            )
    if head.tree_size <= index:
        raise ValidationError(
            "该树头签名时尚未包含此记录",
            message_en="the head was signed before this record was logged",
            code="exchange.log.head_too_old",
            field="head_id",
        )
    tree = TREES.tree(db, head)
    return {
        "record_id": record.id if record else None,
        "xroad_id": record.xroad_id if record else None,
        "archived": record is None,
        "leaf_index": index,
        "leaf_hash": tree.leaf_hash(index).hex(),
        "head": head_dict(head),
        "audit_path": [p.hex() for p in tree.inclusion_proof(index, head.tree_size)],
    }


def messagelog_consistency_proof(db: Session, *, from_head_id: int, to_head_id: int) -> dict[str, Any]:
    """The RFC 6962 consistency proof that the later head's tree extends the earlier one's."""
    first, second = _head(db, from_head_id), _head(db, to_head_id)
    if first.tree_size > second.tree_size:
        raise ValidationError(
            "起始树头应不大于目标树头",
            message_en="the first head must not be larger than the second",
            code="exchange.log.heads_order",
            field="from_head_id",
        )
    tree = TREES.tree(db, second)
    if tree.root(first.tree_size).hex() != first.root_hash:
        raise Conflict(
            f"签名树头 {first.id} 与 {second.id} 不一致",
            message_en=f"signed heads {first.id} and {second.id} are inconsistent",
            code="exchange.log.heads_inconsistent",
        )
    return {
        "first": head_dict(first),
        "second": head_dict(second),
        "proof": [p.hex() for p in tree.consistency_proof(first.tree_size, second.tree_size)],
    }
