"""The message log writer process: frames, group commit over a Unix socket, failure and shutdown."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal

import pytest
from sqlalchemy import func, select

from zhengwu.db import Database, upgrade
from zhengwu.errors import ValidationError
from zhengwu.exchange.logwriter import LogWriterClient, decode_entry, encode_entry, spawn_writer
from zhengwu.exchange.merkle import SM3
from zhengwu.exchange.messagelog import LogEntry, LoggedCall, leaf_bytes, messagelog_body_key, record_fields
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
