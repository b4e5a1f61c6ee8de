"""Harvesting (级联) from a real CKAN-compatible portal: first, unchanged and slightly changed runs.

A remote portal (this platform, ``zhengwu serve`` on SQLite, port 18350) holds N datasets; the local
portal (a fresh PostgreSQL database) harvests it through the CKAN Action API. Timed in the same run:

- baseline: paging ``package_search`` of the remote with httpx alone (rows=100, sort=id asc), i.e. what
  reading the remote costs without importing anything;
- the first job (every dataset created), a second job over the unchanged remote (every dataset
  skipped: ids-only listing plus an empty ``fq=metadata_modified`` pass), a third job after 1 % of the
  remote datasets changed.

    .venv/bin/python bench/bench_harvest.py                  # 2,000 datasets
    .venv/bin/python bench/bench_harvest.py --datasets 500   # quick look
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from zhengwu.accounts.models import DepartmentLevel
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import DepartmentIn
from zhengwu.accounts.services import department_create
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.opendata.harvest.runner import harvest_job_run
from zhengwu.opendata.harvest.services import harvest_source_create, source_validate
from zhengwu.opendata.services import dataset_create, dataset_update

PG_ADMIN_URL = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BENCH_DB = "bench_harvest"
PORT = 18350
SYSTEM = Actor.system("bench")
WORDS = ["公交", "地铁", "学校", "医院", "停车", "充电", "公园", "供水", "预算", "气象", "人口", "旅游"]


def _dept(db: Session, code: str, name: str) -> str:
    data = DepartmentIn(code=code, name=name, level=DepartmentLevel.PROVINCIAL, region_code="330000")
    return department_create(db, actor=SYSTEM, data=data).code


def seed_remote(url: str, n: int) -> list[str]:
    database = Database(make_engine(url))
    upgrade(database.engine)
    names = []
    with database.session() as db:
        code = _dept(db, "R001", "远端市数据局")
        for i in range(n):
            a, b = WORDS[i % len(WORDS)], WORDS[(i * 7) % len(WORDS)]
            made = dataset_create(
                db,
                actor=SYSTEM,
                payload={
                    "name": f"ds-{i:06d}",
                    "title": f"{a}{b}数据 {i}",
                    "notes": f"{a}与{b}的开放数据，第 {i} 号。",
                    "owner_org": code.lower(),
                    "tags": [{"name": a}, {"name": b}],
                    "resources": [{"name": "CSV", "url": f"https://example.org/{i}.csv", "format": "csv"}],
                },
            )
            names.append(made["name"])
    database.dispose()
    return names


def change_remote(url: str, names: list[str]) -> None:
    database = Database(make_engine(url))
    with database.session() as db:
        for name in names:
            dataset_update(db, actor=SYSTEM, ref=name, payload={"notes": "已更新"}, patch=True)
    database.dispose()


def fresh_pg() -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=BENCH_DB).render_as_string(hide_password=False)


def drop_pg() -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
    admin.dispose()


def baseline(base: str) -> float:
    start = time.perf_counter()
    offset = 0
    with httpx.Client(timeout=60) as client:
        while True:
            body = client.get(
                f"{base}/api/3/action/package_search",
                params={"q": "*:*", "rows": 100, "start": offset, "sort": "id asc"},
            ).json()["result"]
            offset += len(body["results"])
            if not body["results"] or offset >= body["count"]:
                break
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", type=int, default=2000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_harvest_"))
    remote_url = f"sqlite:///{tmp / 'remote.db'}"
    t0 = time.perf_counter()
    names = seed_remote(remote_url, args.datasets)
    print(f"remote seeded with {len(names)} datasets in {time.perf_counter() - t0:.1f} s")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGWU_")}
    log = open(tmp / "serve.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "zhengwu", "--data-dir", str(tmp), "--database-url", remote_url),
            *("serve", "--port", str(PORT)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**env, "ZHENGWU_LOG_LEVEL": "WARNING"},
    )
    base = f"http://127.0.0.1:{PORT}"
    local_url = fresh_pg()
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        database = Database(make_engine(local_url))
        upgrade(database.engine)
        with database.session() as db:
            code = _dept(db, "L001", "省数据局")
            harvest_source_create(
                db,
                actor=SYSTEM,
                data=source_validate(
                    {"name": "city", "title": "市门户", "url": base, "backend": "ckan", "organization": code}
                ),
            )
        raw = baseline(base)
        rows = []
        for label in ("first (all created)", "second (unchanged)"):
            start = time.perf_counter()
            with database.session() as db:
                job = harvest_job_run(db, actor=SYSTEM, source="city", timeout=120)
            rows.append((label, time.perf_counter() - start, job))
        change_remote(remote_url, names[::100])
        start = time.perf_counter()
        with database.session() as db:
            job = harvest_job_run(db, actor=SYSTEM, source="city", timeout=120)
        rows.append(("third (1 % changed)", time.perf_counter() - start, job))
        database.dispose()
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
        drop_pg()
    print(f"load: {os.getloadavg()}  (shared 2-core machine: absolute numbers are distorted)")
    print(f"baseline: package_search paging alone, {args.datasets} datasets: {raw:.2f} s")
    for label, seconds, job in rows:
        print(
            f"{label:22s} {seconds:7.2f} s  ({seconds / raw:5.2f}x baseline)  created {job.created} "
            f"updated {job.updated} skipped {job.skipped} deleted {job.deleted} failed {job.failed}"
        )


if __name__ == "__main__":
    main()
