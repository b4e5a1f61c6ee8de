"""Benchmark of the open data portal's usage recorder, printed as Markdown.

Measures, in one run with its baselines:
- the hot path: ``UsageRecorder.add`` per call, against a bare ``Counter`` increment (the floor);
- writing: events per second through batched flushes (one upsert batch per flush) against the naive way,
  one upsert statement per event, on the same database.

    createdb -h 127.0.0.1 -U postgres bench_odstats
    .venv/bin/python bench/bench_usage.py --url postgresql+psycopg://postgres@127.0.0.1:5432/bench_odstats

Keep it short: the machine's two cores are shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections import Counter
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from zhengwu.accounts.models import DepartmentLevel
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import DepartmentIn
from zhengwu.accounts.services import department_create
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.opendata.models import Dataset
from zhengwu.opendata.services import dataset_create
from zhengwu.opendata.stats.models import UsageCount, UsageKind
from zhengwu.opendata.stats.recorder import UsageRecorder

SYSTEM = Actor.system("bench")


def _datasets(database: Database, n: int) -> list[str]:
    with database.session() as db:
        dept = department_create(
            db,
            actor=SYSTEM,
            data=DepartmentIn(
                code=f"BENCH{time.time_ns() % 10**8}",
                name="基准测试部门",
                level=DepartmentLevel.PROVINCIAL,
                region_code="330000",
            ),
        )
        ids = []
        for i in range(n):
            pkg = dataset_create(
                db,
                actor=SYSTEM,
                payload={
                    "name": f"bench-{time.time_ns()}-{i}",
                    "title": f"基准数据集{i}",
                    "owner_org": dept.code,
                },
            )
            ids.append(str(pkg["id"]))
    return ids


def hot_path(ids: list[str], calls: int) -> tuple[float, float]:
    """Nanoseconds per call: the recorder's add, and a bare Counter increment of the same key shape."""
    recorder = UsageRecorder(None, max_events=10**12)
    start = time.perf_counter_ns()
    for i in range(calls):
        recorder.add(UsageKind.VIEW, dataset=ids[i % len(ids)])
    ns_add = (time.perf_counter_ns() - start) / calls
    bare: Counter[tuple[str, str, dt.date, str, str]] = Counter()
    today = dt.date.today()
    start = time.perf_counter_ns()
    for i in range(calls):
        bare[(ids[i % len(ids)], "", today, "view", "")] += 1
    ns_bare = (time.perf_counter_ns() - start) / calls
    return ns_add, ns_bare


def batched(database: Database, ids: list[str], events: int, batch: int) -> float:
    """Events per second written through the recorder, flushing every ``batch`` events."""
    recorder = UsageRecorder(database, interval=3600, max_events=10**12)
    start = time.perf_counter()
    for i in range(events):
        recorder.add(UsageKind.API, dataset=ids[i % len(ids)], detail="package_show")
        if (i + 1) % batch == 0:
            recorder.flush_now()
    recorder.flush_now()
    return events / (time.perf_counter() - start)


def naive(database: Database, ids: list[str], events: int) -> float:
    """Events per second written one upsert (and one commit) per event: what batching avoids."""
    with database.session() as db:  # resolved once, as a fair baseline: only the per-event write differs
        resolved = [int(x) for x in db.scalars(select(Dataset.id).where(Dataset.uuid.in_(ids)))]
    start = time.perf_counter()
    for i in range(events):
        with database.session() as db:
            _upsert_one(db, resolved[i % len(resolved)])
    return events / (time.perf_counter() - start)


def _upsert_one(db: Session, dataset_id: int) -> None:
    values: dict[str, Any] = {
        "dataset_id": dataset_id,
        "day": dt.date.today(),
        "kind": "api",
        "detail": "naive",
        "resource": "",
        "count": 1,
    }
    keys = ["dataset_id", "day", "kind", "detail", "resource"]
    stmt: Any
    if db.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(UsageCount).values(values)
        stmt = pg.on_conflict_do_update(index_elements=keys, set_={"count": UsageCount.count + 1})
    else:
        lite = sqlite.insert(UsageCount).values(values)
        stmt = lite.on_conflict_do_update(index_elements=keys, set_={"count": UsageCount.count + 1})
    db.execute(stmt)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--datasets", type=int, default=200)
    parser.add_argument("--calls", type=int, default=300_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--naive-events", type=int, default=2_000)
    args = parser.parse_args()
    database = Database(make_engine(args.url))
    upgrade(database.engine)
    ids = _datasets(database, args.datasets)
    load = os.getloadavg()
    ns_add, ns_bare = hot_path(ids, args.calls)
    per_s_batched = batched(database, ids, args.events, 1000)
    per_s_naive = naive(database, ids, args.naive_events)
    with database.session() as db:
        written = db.scalar(select(func.sum(UsageCount.count)).where(UsageCount.kind == "api")) or 0
        db.execute(delete(UsageCount))
    load_end = os.getloadavg()
    print(
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {database.backend}, "
        f"load {load[0]:.1f} → {load_end[0]:.1f}"
    )
    print()
    print("| | figure | ratio |")
    print("|---|---:|---:|")
    print(f"| bare `Counter` increment (baseline) | {ns_bare:.0f} ns/call | 1.0 |")
    print(f"| `UsageRecorder.add` (lock, key, day) | {ns_add:.0f} ns/call | {ns_add / ns_bare:.1f} |")
    print(f"| one upsert + commit per event (baseline) | {per_s_naive:,.0f} events/s | 1.0 |")
    print(
        f"| recorder, flush every 1,000 events ({args.datasets} datasets) | {per_s_batched:,.0f} events/s "
        f"| {per_s_batched / per_s_naive:.0f} |"
    )
    assert written == args.events + args.naive_events, (written, args.events + args.naive_events)
    database.dispose()


if __name__ == "__main__":
    main()
