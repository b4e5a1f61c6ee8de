"""The message log writer process: frames, group commit over a Unix socket, failure and shutdown."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from zhengwu.crypto import sm3_hash
from zhengwu.db import Database, upgrade
from zhengwu.errors import ValidationError
from zhengwu.exchange.logwriter import (
    LogWriterClient,
    PgLog,
    _iso_us,
    decode_entry,
    decode_fields,
    encode_entry,
    fast_leaf,
    spawn_writer,
    writer_database,
)
from zhengwu.exchange.merkle import SM3
from zhengwu.exchange.messagelog import (
    LogEntry,
    LoggedCall,
    leaf_bytes,
    messagelog_append,
    messagelog_body_key,
    record_fields,
)
from zhengwu.exchange.models import ExchangeLogRecord
from zhengwu.exchange.verify import messagelog_verify

STARTED = dt.datetime(2026, 11, 23, 18, 0, 0, 123456, tzinfo=dt.UTC)


def _entry(i: int, **changes: object) -> LogEntry:
    fields: dict[str, object] = {
        "xroad_id": f"w-{i}",
        "request_id": f"r-{i}",
        "client_id": "CN-DEV/GOV/91330000MA27XYZ12X/APP",
        "started_at": STARTED,
        "finished_at": STARTED + dt.timedelta(microseconds=1500 + i),
        "http_status": 200,
        "request_body": b"",
        "response_body": b'{"n":%d}' % i,
    }
    fields.update(changes)
    return LogEntry(**fields)  # type: ignore[arg-type]


def test_frame_round_trip_keeps_every_field() -> None:
    entry = _entry(
        7,
        service_id="CN-DEV/GOV/91330000MA27XYZ12X/REG/org",
        user_id="张三",
        issue="工单-42",
        purpose="企业开办审核",
        grant_id=12,
        error_type=None,
        request_body=b"\x00\xff body",
    )
    frame = encode_entry(99, entry)
    assert int.from_bytes(frame[:4], "little") == len(frame) - 4
    seq, back = decode_entry(frame[4:])
    assert seq == 99
    assert back == entry
    # Nones and empties stay distinct; a timestamp keeps its microseconds.
    _, plain = decode_entry(encode_entry(1, _entry(1))[4:])
    assert plain.service_id is None and plain.grant_id is None and plain.request_body == b""
    assert plain.finished_at.microsecond == (123456 + 1501) % 1_000_000


def test_frame_with_trailing_bytes_is_refused() -> None:
    frame = encode_entry(1, _entry(1))
    with pytest.raises(ValueError, match="trailing"):
        decode_entry(frame[4:] + b"x")


def test_writer_process_commits_every_record_once(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    writer = spawn_writer(empty_database_url, body_key=messagelog_body_key("a-test-secret"))

    async def run() -> list[LoggedCall]:
        client = LogWriterClient(writer.socket_path)
        await client.connect()
        try:
            return await asyncio.gather(
                *(client.write(_entry(i, grant_id=i % 3 or None, purpose="审核")) for i in range(300))
            )
        finally:
            await client.aclose()

    try:
        calls = asyncio.run(run())
    finally:
        writer.stop()
    assert writer.process.returncode == 0
    assert sorted(c.leaf_index for c in calls) == list(range(300))
    try:
        with database.session() as db:
            records = {r.xroad_id: r for r in db.scalars(select(ExchangeLogRecord))}
            assert len(records) == 300
            for i, call in enumerate(calls):
                record = records[f"w-{i}"]
                assert record.leaf_index == call.leaf_index
                # The hash the gateway was acknowledged is the leaf of what is stored.
                assert SM3.hash_leaf(leaf_bytes(record_fields(record))) == call.leaf_hash
                assert record.grant_id == (i % 3 or None) and record.purpose == "审核"
                assert record.request_body is not None  # bodies kept, encrypted, as configured
            assert messagelog_verify(db).ok
    finally:
        database.dispose()


def test_client_refuses_a_bad_entry_before_sending(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    writer = spawn_writer(empty_database_url)

    async def run() -> None:
        client = LogWriterClient(writer.socket_path)
        try:
            with pytest.raises(ValidationError) as bad:
                await client.write(_entry(1, purpose="x" * 1001))
            assert bad.value.field == "purpose"
            with pytest.raises(ValidationError) as naive:
                await client.write(_entry(2, started_at=dt.datetime(2026, 1, 1)))
            assert naive.value.field == "started_at"
            # The writer is unaffected: the next good entry is the first leaf.
            assert (await client.write(_entry(3))).leaf_index == 0
        finally:
            await client.aclose()

    try:
        asyncio.run(run())
    finally:
        writer.stop()
        database.dispose()


def test_lost_writer_fails_the_waiting_call_and_the_next_one(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    writer = spawn_writer(empty_database_url)

    async def run() -> None:
        client = LogWriterClient(writer.socket_path)
        await client.write(_entry(1))
        os.kill(writer.process.pid, signal.SIGKILL)
        writer.process.wait()
        with pytest.raises(ConnectionError):
            await client.write(_entry(2))
        with pytest.raises(OSError):  # nothing listens any more: the gateway answers MessageLogFailed
            await client.write(_entry(3))
        await client.aclose()

    try:
        asyncio.run(run())
    finally:
        writer.stop()
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(ExchangeLogRecord)) == 1
    database.dispose()


def test_writer_process_exits_when_its_parent_pipe_closes(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    writer = spawn_writer(empty_database_url)
    assert writer.process.poll() is None
    writer.stop(timeout=20)
    assert writer.process.returncode == 0
    assert not writer.directory.exists()
    database.dispose()


_TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), _TEXT), min_size=6, max_size=6),
    grant_id=st.one_of(st.none(), st.integers(0, 2**62)),
    numbers=st.lists(st.integers(0, 2**40), min_size=4, max_size=4),
)
def test_fast_leaf_is_the_leaf_of_the_record(
    texts: list[str | None], grant_id: int | None, numbers: list[int]
) -> None:
    """The writer process's orjson leaf is byte for byte :func:`leaf_bytes` of the stored fields."""
    started = STARTED + dt.timedelta(microseconds=numbers[0])
    row = {
        "leaf_index": numbers[1],
        "logged_at": started + dt.timedelta(microseconds=numbers[2]),
        "xroad_id": texts[0] or "x",
        "request_id": texts[1] or "r",
        "client_id": texts[2] or "c",
        "service_id": texts[3],
        "user_id": texts[4],
        "issue": texts[5],
        "started_at": started,
        "finished_at": started,
        "http_status": 200 + numbers[3] % 300,
        "error_type": texts[3],
        "request_size": numbers[3],
        "response_size": numbers[2],
        "request_hash": "ab" * 32,
        "response_hash": "cd" * 32,
        "request_body": None if grant_id is None else b"\x00body",
        "response_body": None,
        "grant_id": grant_id,
        "purpose": texts[5],
    }
    us = (started - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    payload = {
        "v": 1,
        "leaf_index": row["leaf_index"],
        "logged_at": row["logged_at"].isoformat(timespec="microseconds"),  # type: ignore[attr-defined]
        "xroad_id": row["xroad_id"],
        "request_id": row["request_id"],
        "client_id": row["client_id"],
        "service_id": row["service_id"],
        "user_id": row["user_id"],
        "issue": row["issue"],
        "started_at": _iso_us(us),
        "finished_at": _iso_us(us),
        "http_status": row["http_status"],
        "error_type": row["error_type"],
        "request_size": row["request_size"],
        "response_size": row["response_size"],
        "request_hash": row["request_hash"],
        "response_hash": row["response_hash"],
        "request_body_sm3": None if row["request_body"] is None else sm3_hash(b"\x00body").hex(),
        "response_body_sm3": None,
    }
    if grant_id is not None:
        payload["grant_id"] = grant_id
    if texts[5] is not None:
        payload["purpose"] = texts[5]
    assert fast_leaf(payload) == leaf_bytes(row)


def test_pg_batch_rereads_the_counter_after_another_writer(empty_pg_database_url: str) -> None:
    """The one-statement batch (PostgreSQL's path) inserts nothing if another writer moved the counter,
    then retries."""
    database = Database.from_url(empty_pg_database_url)
    upgrade(database.engine)
    pg = PgLog(writer_database(database), None)
    try:
        first = pg.write([decode_fields(encode_entry(i, _entry(i))[4:]) for i in range(3)])
        with database.session() as db:
            other = messagelog_append(db, _entry(100))  # another writer, e.g. the platform's thread
        again = pg.write([decode_fields(encode_entry(i, _entry(i, grant_id=5))[4:]) for i in range(3, 5)])
    finally:
        pg.close()
    assert [i for i, _ in first] == [0, 1, 2] and other.leaf_index == 3
    assert [i for i, _ in again] == [4, 5]
    with database.session() as db:
        stored = {r.leaf_index: r for r in db.scalars(select(ExchangeLogRecord))}
        assert sorted(stored) == [0, 1, 2, 3, 4, 5]
        for index, leaf_hash in first + again:
            assert SM3.hash_leaf(leaf_bytes(record_fields(stored[index]))) == leaf_hash
        assert messagelog_verify(db).ok
    database.dispose()
