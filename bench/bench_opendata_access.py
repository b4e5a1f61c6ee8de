"""Conditional opening: the cost of the key check and usage record on ``datastore_search``.

Two datasets of one publisher carry the same 10,000-row table: one open, one conditional. Calls of the
CKAN ``datastore_search`` action (the portal's action registry, in process: no HTTP) alternate between
the open table read anonymously (the baseline) and the conditional one read with an approved
application's key (token resolution, key check, rate limiter, daily-quota count, usage insert). Each
call is its own transaction, committed, as a request would be. Prints p50/p95 of both in the same run
and the machine load.

    .venv/bin/python bench/bench_opendata_access.py --calls 2000

PostgreSQL: ZHENGWU_TEST_PG_ADMIN_URL or the default local server; a fresh database, dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import time
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from zhengwu.accounts.models import DepartmentLevel, Role, User
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import DepartmentIn, UserIn
from zhengwu.accounts.services import (
    actor_for_user,
    configure_password_hashing,
    department_create,
    token_authenticate,
    user_create,
)
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.opendata.access.services import (
    applicant_register,
    application_approve,
    application_create,
    key_issue,
)
from zhengwu.opendata.ckan.datastore_actions import datastore_search
from zhengwu.opendata.datastore.services import datastore_create
from zhengwu.opendata.packages import org_name_of
from zhengwu.opendata.services import dataset_create

PG_ADMIN_URL = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = "zhengwu_bench_condopen"
SYSTEM = Actor.system("bench")
PASSWORD = "Bench@2026xx"  # noqa: S105 - an account of a throwaway database


def _admin(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


def _records(n: int) -> list[dict[str, Any]]:
    return [{"n": i, "city": f"城市{i % 50}", "amount": i * 1.5} for i in range(n)]


def _setup(database: Database, rows: int) -> tuple[str, str, str]:
    """(open resource id, conditional resource id, key)."""
    with database.session() as db:
        dept = department_create(
            db,
            actor=SYSTEM,
            data=DepartmentIn(
                code="B0001", name="基准测试局", level=DepartmentLevel.PROVINCIAL, region_code="330000"
            ),
        )
        admin = user_create(
            db,
            actor=SYSTEM,
            data=UserIn(
                username="benchadmin",
                display_name="基准",
                password=PASSWORD,
                department_id=dept.id,
                roles=[Role.DATA_ADMIN],
            ),
        )
        provider = actor_for_user(db.get(User, admin.id))  # type: ignore[arg-type]
        org = org_name_of(dept.code, dept.id)
        ids = []
        for name, open_type in (("bench-open", "open"), ("bench-conditional", "conditional")):
            pkg = dataset_create(
                db,
                actor=provider,
                payload={
                    "name": name,
                    "title": name,
                    "owner_org": org,
                    "open_type": open_type,
                    "resources": [{"name": "table", "url": "https://example.org/t.csv", "format": "csv"}],
                },
            )
            rid = str(pkg["resources"][0]["id"])
            datastore_create(
                db,
                actor=SYSTEM,
                resource_id=rid,
                records=_records(rows),
                indexes=["city"],
                is_open=open_type == "open",
            )
            ids.append(rid)
        person = applicant_register(
            db,
            actor=Actor.anonymous(),
            data={
                "kind": "company",
                "username": "benchco",
                "password": PASSWORD,
                "name": "基准公司",
                "identifier": "91330106MA2CFXLJ2E",
                "phone": "13800000000",
            },
        )
        applicant = actor_for_user(db.get(User, person.user_id))  # type: ignore[arg-type]
        today = dt.date.today()
        made = application_create(
            db,
            actor=applicant,
            data={
                "dataset": "bench-conditional",
                "purpose": "基准测试用的申请，测量密钥检查的开销。",
                "use_start": today.isoformat(),
                "use_end": (today + dt.timedelta(days=30)).isoformat(),
                "contact_name": "基准",
                "contact_phone": "13800000000",
            },
        )
        application_approve(
            db,
            actor=provider,
            application_id=made.id,
            data={
                "valid_until": (today + dt.timedelta(days=30)).isoformat(),
                "rate_per_minute": 6000,
                "daily_quota": 10_000_000,
            },
        )
        key = key_issue(db, actor=applicant, application_id=made.id).key
    return ids[0], ids[1], key


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    configure_password_hashing(fast=True)
    _admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{DB_NAME}"')
    url = make_url(PG_ADMIN_URL).set(database=DB_NAME).render_as_string(hide_password=False)
    database = Database(make_engine(url))
    try:
        upgrade(database.engine)
        open_rid, cond_rid, key = _setup(database, args.rows)
        params = {"filters": {"city": "城市7"}, "limit": 10}
        timings: dict[str, list[float]] = {"open, anonymous": [], "conditional, with key": []}
        for i in range(args.calls * 2):
            label = "open, anonymous" if i % 2 == 0 else "conditional, with key"
            start = time.perf_counter()
            with database.session() as db:
                if i % 2 == 0:
                    out = datastore_search(db, Actor.anonymous(), {**params, "resource_id": open_rid})
                else:
                    actor = token_authenticate(db, raw=key)
                    out = datastore_search(db, actor, {**params, "resource_id": cond_rid})
            timings[label].append((time.perf_counter() - start) * 1000)
            assert len(out["records"]) == 10
        load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
        print(f"datastore_search, {args.rows} rows, filter + limit 10, {args.calls} calls each, PostgreSQL")
        for label, values in timings.items():
            print(f"  {label:24s} p50 {statistics.median(values):6.2f} ms   p95 {_p(values, 95):6.2f} ms")
        base, keyed = (statistics.median(v) for v in timings.values())
        print(f"  key check + usage record: +{keyed - base:.2f} ms at p50 ({keyed / base:.2f}×)")
        print(f"  load: {load}")
    finally:
        database.dispose()
        _admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
