"""Group commit: many threads append through one writer; every record lands once, indices 0..n-1."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace

import pytest
from sqlalchemy import delete, func, select

from zhengwu.crypto import sm2_generate_keypair
from zhengwu.db import Database, upgrade
from zhengwu.errors import ValidationError
from zhengwu.exchange.messagelog import (
    LogEntry,
    LoggedCall,
    MessageLogWriter,
    messagelog_sign_head,
    write_batch,
)
from zhengwu.exchange.models import ExchangeLogCounter, ExchangeLogLeaf, ExchangeLogRecord
from zhengwu.exchange.verify import messagelog_verify

THREADS = 8
PER_THREAD = 60


def _entry(thread: int, i: int) -> LogEntry:
    now = dt.datetime.now(dt.UTC)
    return LogEntry(
        xroad_id=f"t{thread}-{i}",
        request_id=f"r{thread}-{i}",
        client_id="CN-DEV/GOV/X/Y",
        started_at=now,
        finished_at=now,
        http_status=200,
        request_body=b"{}",
        response_body=b'{"ok":1}',
    )


def test_many_threads_one_writer(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    results: dict[str, LoggedCall] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(t: int, writer: MessageLogWriter) -> None:
        try:
            for i in range(PER_THREAD):
                call = writer.append(_entry(t, i))
                # append returned: the record must already be visible to another connection.
                with database.session() as check:
                    stored = check.scalar(
                        select(ExchangeLogRecord.xroad_id).where(
                            ExchangeLogRecord.leaf_index == call.leaf_index
                        )
                    )
                    assert stored == f"t{t}-{i}"
                with lock:
                    results[f"t{t}-{i}"] = call
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    try:
        with MessageLogWriter(database, max_batch=50) as writer:
            threads = [threading.Thread(target=worker, args=(t, writer)) for t in range(THREADS)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        assert not errors, errors
        n = THREADS * PER_THREAD
        assert len(results) == n
        assert sorted(c.leaf_index for c in results.values()) == list(range(n))
        assert writer.records == n and writer.batches < n  # batched, not one transaction per call
        with database.session() as db:
            assert db.scalar(select(func.count()).select_from(ExchangeLogRecord)) == n
            assert db.scalar(select(func.count(func.distinct(ExchangeLogRecord.xroad_id)))) == n
            assert db.scalar(select(func.max(ExchangeLogLeaf.leaf_index))) == n - 1
            private, _ = sm2_generate_keypair()
            messagelog_sign_head(db, private_pem=private)
        with database.session() as db:
            result = messagelog_verify(db)
            assert result.ok, result.reason
            assert result.records == n and result.heads == 1
    finally:
        database.dispose()


def test_two_writers_share_one_gap_free_sequence(empty_database_url: str) -> None:
    """Two writers (as two gateway processes would) still get distinct, gap-free indices."""
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    try:
        with MessageLogWriter(database) as a, MessageLogWriter(database, max_wait=0.002) as b:
            futures = [(a if i % 2 else b).submit(_entry(i % 2, i)) for i in range(200)]
            calls = [f.result(timeout=60) for f in futures]
        assert sorted(c.leaf_index for c in calls) == list(range(200))
        with database.session() as db:
            assert messagelog_verify(db).ok
    finally:
        database.dispose()


def test_bad_entries_are_refused_before_queueing(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    naive = dt.datetime(2026, 1, 1)
    try:
        with MessageLogWriter(database) as writer:
            with pytest.raises(ValidationError) as err:
                writer.submit(
                    LogEntry(
                        xroad_id="x",
                        request_id="r",
                        client_id="c",
                        started_at=naive,
                        finished_at=naive,
                        http_status=200,
                    )
                )
            assert err.value.field == "started_at"
            with pytest.raises(ValidationError):
                writer.submit(replace(_entry(0, 0), http_status=42))
            assert writer.append(_entry(0, 1)).leaf_index == 0
    finally:
        database.dispose()


def test_failed_batch_fails_its_callers(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)  # not migrated: the insert must fail
    try:
        with MessageLogWriter(database) as writer:
            future = writer.submit(_entry(0, 0))
            exc = future.exception(timeout=30)
        assert exc is not None
    finally:
        database.dispose()


def test_two_writers_like_two_gateway_processes_share_one_sequence(empty_database_url: str) -> None:
    # Two Database objects: two connection pools, as two gateway processes would have.
    first, second = Database.from_url(empty_database_url), Database.from_url(empty_database_url)
    upgrade(first.engine)
    try:
        with MessageLogWriter(first, max_batch=20) as w1, MessageLogWriter(second, max_batch=20) as w2:
            futures = [(w1 if i % 2 else w2).submit(_entry(i % 2, i)) for i in range(400)]
            calls = [f.result(timeout=60) for f in futures]
        assert sorted(c.leaf_index for c in calls) == list(range(400))
        with first.session() as db:
            assert messagelog_verify(db).ok
    finally:
        first.dispose()
        second.dispose()


def test_a_rolled_back_batch_gives_its_indices_back(empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    try:
        with database.session() as db:
            write_batch(db, [_entry(0, i) for i in range(3)])
        db = database.sessionmaker()
        try:
            write_batch(db, [_entry(1, i) for i in range(5)])
            db.rollback()
        finally:
            db.close()
        with database.session() as db:
            again = write_batch(db, [_entry(2, 0)])
            assert [c.leaf_index for c in again] == [3] and again[0].id is not None
        with database.session() as db:
            # A database whose counter row went missing rebuilds it from the leaves on its next write.
            db.execute(delete(ExchangeLogCounter))
        with database.session() as db:
            assert [c.leaf_index for c in write_batch(db, [_entry(3, 0)], with_ids=False)] == [4]
            assert db.scalar(select(ExchangeLogCounter.next_leaf_index)) == 5
        with database.session() as db:
            assert messagelog_verify(db).ok
    finally:
        database.dispose()
