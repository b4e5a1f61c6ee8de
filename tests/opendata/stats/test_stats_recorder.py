"""The usage recorder: counts in memory, exact after a flush, nothing lost under threads or failures."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories_opendata import make_dataset, make_publisher
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.opendata.services import dataset_by_ref
from zhengwu.opendata.stats.models import UsageCount, UsageKind
from zhengwu.opendata.stats.recorder import UsageRecorder, is_bot, today


def _counts(db: Session, dataset_id: int) -> dict[tuple[str, str, str], int]:
    rows = db.execute(
        select(UsageCount.kind, UsageCount.detail, UsageCount.resource, UsageCount.count).where(
            UsageCount.dataset_id == dataset_id
        )
    ).tuples()
    return {(k, d, r): n for k, d, r, n in rows}


def _dataset_id(db: Session, pkg: dict[str, Any]) -> int:
    return dataset_by_ref(db, pkg["id"]).id


def test_counts_are_exact_after_flush_and_added_on_the_next(db: Session) -> None:
    pub = make_publisher(db)
    pkg = make_dataset(db, pub, name="air-quality")
    resource = pkg["resources"][0]["id"]
    recorder = UsageRecorder(None)
    for _ in range(7):
        recorder.add(UsageKind.VIEW, dataset=pkg["id"])
    recorder.add(UsageKind.VIEW, dataset="air-quality", count=3)  # by name, as a page knows it
    for _ in range(4):
        recorder.add(UsageKind.DOWNLOAD, resource=resource, detail="csv")
    recorder.add(UsageKind.API, dataset=pkg["id"], detail="package_show")
    recorder.add(UsageKind.API, resource="00000000-0000-0000-0000-000000000000", detail="datastore_search")
    recorder.add(UsageKind.VIEW, dataset="no-such-dataset")
    assert recorder.pending == 17
    assert recorder.flush(db) == 15  # the unknown dataset and resource count nothing
    assert recorder.pending == 0
    dataset_id = _dataset_id(db, pkg)
    assert _counts(db, dataset_id) == {
        ("view", "", ""): 10,
        ("download", "csv", resource): 4,
        ("api", "package_show", ""): 1,
    }
    recorder.add(UsageKind.VIEW, dataset=pkg["id"], count=2)
    recorder.add(UsageKind.VIEW, dataset=pkg["id"], day=today() - dt.timedelta(days=1))
    assert recorder.flush(db) == 3
    assert recorder.flush(db) == 0
    rows = db.execute(
        select(UsageCount.day, UsageCount.count).where(
            UsageCount.dataset_id == dataset_id, UsageCount.kind == "view"
        )
    ).all()
    assert sorted((d.isoformat(), n) for d, n in rows) == sorted(
        [(today().isoformat(), 12), ((today() - dt.timedelta(days=1)).isoformat(), 1)]
    )


def test_concurrent_increments_and_flushes_lose_nothing(db: Session) -> None:
    pub = make_publisher(db)
    pkg = make_dataset(db, pub)
    recorder = UsageRecorder(None)
    threads, per_thread = 8, 2_500
    lock = threading.Lock()  # the test session is not thread-safe: flushes take turns, adds do not
    start = threading.Barrier(threads + 1)
    done = threading.Event()

    def hammer() -> None:
        start.wait()
        for _ in range(per_thread):
            recorder.add(UsageKind.VIEW, dataset=pkg["id"])

    def flusher() -> None:
        start.wait()
        while not done.is_set():
            with lock:
                recorder.flush(db)
            time.sleep(0.001)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    flushing = threading.Thread(target=flusher)
    for t in [*workers, flushing]:
        t.start()
    for t in workers:
        t.join()
    done.set()
    flushing.join()
    with lock:
        recorder.flush(db)
    assert _counts(db, _dataset_id(db, pkg)) == {("view", "", ""): threads * per_thread}


def test_a_failed_flush_keeps_the_counts_for_the_next(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    pub = make_publisher(db)
    pkg = make_dataset(db, pub)
    recorder = UsageRecorder(None)
    recorder.add(UsageKind.VIEW, dataset=pkg["id"], count=5)

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("database away")

    monkeypatch.setattr("zhengwu.opendata.stats.recorder._upsert", broken)
    with pytest.raises(RuntimeError):
        recorder.flush(db)
    assert recorder.pending == 5
    recorder.add(UsageKind.VIEW, dataset=pkg["id"])
    monkeypatch.undo()
    assert recorder.flush(db) == 6
    assert _counts(db, _dataset_id(db, pkg)) == {("view", "", ""): 6}


def test_background_flush_after_n_events_and_flush_at_close(empty_database_url: str) -> None:
    database = Database(make_engine(empty_database_url))
    upgrade(database.engine)
    try:
        with database.session() as db:
            pkg = make_dataset(db, make_publisher(db))
        # A long interval: only the event threshold (and close) may write.
        recorder = UsageRecorder(database, interval=3600, max_events=10)
        for _ in range(10):
            recorder.add(UsageKind.DOWNLOAD, resource=pkg["resources"][0]["id"], detail="csv")
        deadline = time.monotonic() + 20
        written = 0
        while time.monotonic() < deadline:
            with database.session() as db:
                written = int(db.scalar(select(UsageCount.count)) or 0)
            if written == 10:
                break
            time.sleep(0.05)
        assert written == 10
        recorder.add(UsageKind.VIEW, dataset=pkg["id"], count=3)
        recorder.close()  # the application's shutdown
        recorder.add(UsageKind.VIEW, dataset=pkg["id"])  # after close: kept, never flushed by a thread
        with database.session() as db:
            assert _counts(db, _dataset_id(db, pkg)) == {
                ("download", "csv", pkg["resources"][0]["id"]): 10,
                ("view", "", ""): 3,
            }
    finally:
        database.dispose()


@pytest.mark.parametrize(
    ("agent", "bot"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36", False),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0", False),
        ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", True),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/124.0", True),
        ("curl/8.5.0", True),
        ("python-requests/2.32", True),
        ("", True),
        (None, True),
    ],
)
def test_obvious_bots(agent: str | None, bot: bool) -> None:
    assert is_bot(agent) is bot
