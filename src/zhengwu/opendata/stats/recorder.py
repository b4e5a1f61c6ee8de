"""The in-process usage recorder: counts in memory on the hot path, upserts in batches.

A page view, a download or a CKAN call only adds one to a counter in a dict under a lock (about a
microsecond); the counts reach ``opendata_usage_counts`` in one batch of upserts every
``opendata_usage_flush_seconds``, as soon as ``opendata_usage_flush_events`` events are pending, when a
statistics page is read, and when the application shuts down. Counts name the dataset or resource by
its CKAN id as the caller gave it; the batch resolves them to datasets (one query per batch, not per
event) and drops what does not exist (a mistyped id counts nothing).

Nothing personal is kept, not even in memory: no IP address, no account, no user agent. Views from
obvious robots (crawlers, monitors, command-line clients, headless browsers; no User-Agent at all) are
not counted; downloads and API calls are counted whoever makes them, since scripts are what an API is
for.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from zhengwu.db import BEIJING, Database
from zhengwu.opendata.models import Dataset, Distribution
from zhengwu.opendata.stats.models import UsageCount, UsageKind

log = logging.getLogger("zhengwu.opendata.usage")

BOT_USER_AGENT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|archiver|scrapy|headless|phantomjs|lighthouse|monitor|uptime|"
    r"pingdom|curl/|wget/|python-requests|python-urllib|httpx|aiohttp|go-http-client|java/|okhttp|"
    r"libwww|facebookexternalhit|preview|feedfetcher|yandex|baiduspider|sogou|360spider|bytespider",
    re.IGNORECASE,
)
UUID_IN_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# CKAN actions that concern one dataset, and where each names it.
DATASET_ACTIONS = frozenset({"package_show"})
RESOURCE_ACTIONS = frozenset({"resource_show", "datastore_search", "datastore_info"})


class Key(NamedTuple):
    """One pending counter: a dataset (CKAN id or name) or else a resource (CKAN id), day, kind, detail."""

    dataset: str
    resource: str
    day: dt.date
    kind: str
    detail: str


def is_bot(user_agent: str | None) -> bool:
    """Whether a User-Agent is an obvious robot (or missing): its page views are not counted."""
    return not user_agent or not user_agent.strip() or bool(BOT_USER_AGENT.search(user_agent))


def today() -> dt.date:
    """The current day in Beijing time: the day a count belongs to."""
    return dt.datetime.now(BEIJING).date()


class UsageRecorder:
    """Counters of one process for one database.

    ``database`` is where the recorder flushes on its own (a background thread, and :meth:`close`);
    without one (the tests' applications, whose data lives in a rolled-back session), counts are
    flushed only into a session handed to :meth:`flush`.
    """

    def __init__(self, database: Database | None, *, interval: float = 10.0, max_events: int = 1000) -> None:
        self._database = database
        self._interval = interval
        self._max_events = max(1, max_events)
        self._lock = threading.Lock()
        self._pending: Counter[Key] = Counter()
        self._events = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._day = today()
        self._day_ends = 0.0

    # --- the hot path ---------------------------------------------------------------------------------

    def add(
        self,
        kind: UsageKind,
        *,
        dataset: str = "",
        resource: str = "",
        detail: str = "",
        day: dt.date | None = None,
        count: int = 1,
    ) -> None:
        """Count ``count`` uses of a dataset (or of the dataset of ``resource``) on ``day`` (today)."""
        if not (dataset or resource) or count <= 0:
            return
        if day is None:
            # The day changes once a day: computing the Beijing date on every call would cost more
            # than everything else here.
            now = time.time()
            if now >= self._day_ends:
                self._day = today()
                midnight = dt.datetime.combine(self._day + dt.timedelta(days=1), dt.time(), BEIJING)
                self._day_ends = midnight.timestamp()
            day = self._day
        key = Key(dataset[:100], resource[:36], day, kind.value, detail[:64])
        with self._lock:
            self._pending[key] += count
            self._events += count
            full = self._events >= self._max_events
            start = self._database is not None and self._thread is None and not self._stop.is_set()
            if start:
                self._thread = threading.Thread(target=self._run, name="opendata-usage", daemon=True)
        if start and self._thread is not None:
            self._thread.start()
        if full:
            self._wake.set()

    @property
    def pending(self) -> int:
        """How many events wait to be flushed."""
        with self._lock:
            return self._events

    # --- flushing -------------------------------------------------------------------------------------

    def _take(self) -> Counter[Key]:
        with self._lock:
            pending, self._pending = self._pending, Counter()
            self._events = 0
        return pending

    def _give_back(self, pending: Counter[Key]) -> None:
        # A failed batch is not lost: its counts join whatever arrived meanwhile, for the next batch.
        with self._lock:
            self._pending.update(pending)
            self._events += sum(pending.values())

    def flush(self, db: Session) -> int:
        """Upsert every pending count into ``db`` (the caller commits); return the events written."""
        pending = self._take()
        if not pending:
            return 0
        try:
            with db.begin_nested():
                written = _upsert(db, _resolve(db, pending))
        except Exception:
            self._give_back(pending)
            raise
        return written

    def flush_now(self) -> int:
        """Flush into the recorder's own database in a transaction of its own (0 without a database)."""
        if self._database is None:
            return 0
        with self._database.session() as db:
            return self.flush(db)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.flush_now()
            except Exception as exc:  # the database may be away for a while; the counts wait in memory
                log.warning("usage counts not flushed (%s); kept for the next batch", type(exc).__name__)

    def close(self) -> None:
        """Stop the background flushing and flush what is pending (at the application's shutdown)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=30)
        try:
            self.flush_now()
        except Exception as exc:
            log.warning("usage counts lost at shutdown (%s)", type(exc).__name__)


def _resolve(db: Session, pending: Mapping[Key, int]) -> Counter[tuple[int, dt.date, str, str, str]]:
    """Pending counts keyed by dataset row id; counts of unknown datasets and resources are dropped."""
    dataset_refs = {k.dataset for k in pending if k.dataset}
    resource_refs = {k.resource for k in pending if k.resource}
    datasets: dict[str, int] = {}
    for chunk in _chunks(sorted(dataset_refs)):
        for uuid, name, row_id in db.execute(
            select(Dataset.uuid, Dataset.name, Dataset.id).where(
                Dataset.uuid.in_(chunk) | Dataset.name.in_(chunk)
            )
        ):
            datasets[uuid] = datasets[name] = int(row_id)
    resources: dict[str, int] = {}
    for chunk in _chunks(sorted(resource_refs)):
        for uuid, dataset_id in db.execute(
            select(Distribution.uuid, Distribution.dataset_id).where(Distribution.uuid.in_(chunk))
        ):
            resources[uuid] = int(dataset_id)
    rows: Counter[tuple[int, dt.date, str, str, str]] = Counter()
    for key, count in pending.items():
        dataset_id = datasets.get(key.dataset) if key.dataset else resources.get(key.resource)
        if dataset_id is None or (key.resource and key.resource not in resources):
            continue
        rows[(dataset_id, key.day, key.kind, key.detail, key.resource)] += count
    return rows


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _upsert(db: Session, rows: Mapping[tuple[int, dt.date, str, str, str], int]) -> int:
    """Add the counts to their rows (insert or add), in key order so concurrent batches never deadlock."""
    if not rows:
        return 0
    values = [
        {"dataset_id": d, "day": day, "kind": kind, "detail": detail, "resource": res, "count": n}
        for (d, day, kind, detail, res), n in sorted(rows.items())
    ]
    keys = ["dataset_id", "day", "kind", "detail", "resource"]
    stmt: Any
    if db.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(UsageCount)
        stmt = pg.on_conflict_do_update(
            index_elements=keys, set_={"count": UsageCount.count + pg.excluded["count"]}
        )
    else:
        lite = sqlite.insert(UsageCount)
        stmt = lite.on_conflict_do_update(
            index_elements=keys, set_={"count": UsageCount.count + lite.excluded["count"]}
        )
    for start in range(0, len(values), 500):
        db.execute(stmt, values[start : start + 500])
    return sum(rows.values())


# --- what the web layer calls --------------------------------------------------------------------------


def recorder_of(request: Request) -> UsageRecorder | None:
    """The application's recorder (``app.state.usage``), if it has one."""
    recorder = getattr(request.app.state, "usage", None)
    return recorder if isinstance(recorder, UsageRecorder) else None


def record_view(request: Request, dataset: str) -> None:
    """Count a view of a dataset's page, unless a robot asked for it."""
    recorder = recorder_of(request)
    if recorder is not None and not is_bot(request.headers.get("user-agent")):
        recorder.add(UsageKind.VIEW, dataset=dataset)


def record_download(request: Request, resource: str, fmt: str) -> None:
    """Count a download of a resource (a datastore dump) in format ``fmt``."""
    recorder = recorder_of(request)
    if recorder is not None:
        recorder.add(UsageKind.DOWNLOAD, resource=resource, detail=fmt.lower())


def record_api_call(request: Request, action: str, params: Mapping[str, Any], result: Any) -> None:
    """Count a successful CKAN call that concerns one dataset (show, search of its tables)."""
    recorder = recorder_of(request)
    if recorder is None:
        return
    if action in DATASET_ACTIONS and isinstance(result, dict):
        recorder.add(UsageKind.API, dataset=str(result.get("id") or ""), detail=action)
    elif action in RESOURCE_ACTIONS:
        resource = result.get("id") if action == "resource_show" and isinstance(result, dict) else None
        resource = resource or params.get("resource_id") or params.get("id")
        if isinstance(resource, str):
            recorder.add(UsageKind.API, resource=resource.strip(), detail=action)
    elif action == "datastore_search_sql":
        sql = params.get("sql")
        named = UUID_IN_TEXT.findall(sql if isinstance(sql, str) else "")
        for resource in sorted({m.lower() for m in named}):
            recorder.add(UsageKind.API, resource=resource, detail=action)
