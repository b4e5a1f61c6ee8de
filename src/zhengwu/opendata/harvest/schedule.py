"""Running due harvest sources: once (``zhengwu opendata harvest run --due``, for cron or a systemd
timer) or from a lightweight thread inside ``zhengwu serve`` (``ZHENGWU_OPENDATA_HARVEST_SCHEDULER``,
off by default).

Each source runs in a session of its own, so one failing source never stops the others; the per-source
lock makes it safe to have a timer and the in-process thread (or two nodes) on the same database: the
second run of a source is refused and simply skipped here.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from zhengwu.accounts.permissions import Actor
from zhengwu.db import Database
from zhengwu.errors import Conflict
from zhengwu.opendata.harvest.runner import DEFAULT_TIMEOUT, harvest_job_run
from zhengwu.opendata.harvest.schemas import JobOut
from zhengwu.opendata.harvest.services import harvest_sources_due

log = logging.getLogger(__name__)


@dataclass
class DueRun:
    """What a pass over the due sources did with one source."""

    source: str
    job: JobOut | None
    skipped_reason: str = ""


def harvest_run_due(
    database: Database, *, actor: Actor, timeout: float = DEFAULT_TIMEOUT, trigger: str = "schedule"
) -> list[DueRun]:
    """Run every due source once; a source another process is running is skipped, not waited for."""
    with database.session() as db:
        names = harvest_sources_due(db)
    done = []
    for name in names:
        try:
            with database.session() as db:
                job = harvest_job_run(db, actor=actor, source=name, trigger=trigger, timeout=timeout)
            done.append(DueRun(name, job))
        except Conflict as exc:
            done.append(DueRun(name, None, exc.message))
    return done


class HarvestScheduler:
    """A daemon thread that runs due sources every ``tick_seconds`` until stopped."""

    def __init__(
        self, database: Database, *, tick_seconds: float = 60.0, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.database = database
        self.tick_seconds = tick_seconds
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="harvest-scheduler", daemon=True)

    def start(self) -> HarvestScheduler:
        """Start the thread; returns self."""
        self._thread.start()
        return self

    def stop(self, wait: float = 5.0) -> None:
        """Ask the thread to stop after the source it is running, and wait a little for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(wait)

    def _loop(self) -> None:
        actor = Actor.system("harvest-scheduler")
        while not self._stop.is_set():
            try:
                for run in harvest_run_due(self.database, actor=actor, timeout=self.timeout):
                    log.info("harvest %s: %s", run.source, run.job.status if run.job else run.skipped_reason)
            except Exception:  # the scheduler must outlive a failed pass (database restart, ...)
                log.exception("harvest scheduler pass failed")
            self._stop.wait(self.tick_seconds)
