"""Benchmark the credit registry on PostgreSQL: 双公示 ingestion and the credit check.

Run: ``.venv/bin/python bench/bench_credit.py [--records 20000] [--checks 2000]``. Needs a PostgreSQL
server (``--admin-url``, default the test suite's); a database ``zhengwu_bench_credit`` is dropped and
recreated. Setup (not measured): synthetic persons and entities through the registries' ingestion,
a black and a red list with measures, one entity in ten on a list.

Measured in the same run:

* **bare COPY** of the records file into an unindexed table (no validation, no history): the floor;
* **ingest**: :func:`zhengwu.registries.credit.ingest.ingest_credit` of the same file — every row
  validated (identifiers, codes, dates and their order), subject looked up in the entity registry,
  current row and first version written, batch and audit records;
* **credit check**: :func:`zhengwu.registries.credit.services.credit_check` in-process (authorization,
  one join query, audit record), against the **baseline** of the same number of primary-key reads of
  the entity registry in the same session.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from zhengwu.accounts.models import Department, DepartmentLevel
from zhengwu.accounts.permissions import Actor
from zhengwu.db import Database, upgrade
from zhengwu.registries.credit.ingest import ingest_credit
from zhengwu.registries.credit.lists import entry_add, list_create, measure_create
from zhengwu.registries.credit.models import ListType, MeasureKind
from zhengwu.registries.credit.schemas import EntryIn, ListIn, MeasureIn, MeasureItemOut
from zhengwu.registries.credit.services import credit_check
from zhengwu.registries.ingest import ingest
from zhengwu.registries.models import Entity
from zhengwu.synthetic import generate_entities, generate_persons, write_batches

DEFAULT_ADMIN = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BENCH_DB = "zhengwu_bench_credit"
COLUMNS = [
    "decision_number",
    "kind",
    "subject_id",
    "subject_name",
    "category",
    "content",
    "basis",
    "decision_date",
]
SYSTEM = Actor.system("bench")


def fresh_database(admin_url: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    return make_url(admin_url).set(database=BENCH_DB).render_as_string(hide_password=False)


def setup(database: Database, tmp: Path, entities: int) -> list[tuple[str, str]]:
    with database.session() as db:
        db.add(
            Department(
                code="BENCH", name="基准测试部门", level=DepartmentLevel.PROVINCIAL, region_code="330000"
            )
        )
    persons_csv, entities_csv = tmp / "persons.csv", tmp / "entities.csv"
    write_batches(generate_persons(count=entities * 2), persons_csv, progress=False)
    write_batches(generate_entities(count=entities, persons_count=entities * 2), entities_csv, progress=False)
    with database.session() as db:
        for registry, path in (("population", persons_csv), ("entities", entities_csv)):
            ingest(db, actor=SYSTEM, registry=registry, source="BENCH", path=path, error_dir=tmp / "errors")
    with database.session() as db:
        rows = db.execute(select(Entity.uscc, Entity.name).order_by(Entity.uscc)).all()
        list_create(
            db,
            actor=SYSTEM,
            data=ListIn(
                code="BLK", name="黑名单", list_type=ListType.BLACK, issuing_department="BENCH", basis="办法"
            ),
        )
        list_create(
            db,
            actor=SYSTEM,
            data=ListIn(
                code="RED", name="红名单", list_type=ListType.RED, issuing_department="BENCH", basis="办法"
            ),
        )
        for code, kind in (("BLK", MeasureKind.PUNISHMENT), ("RED", MeasureKind.REWARD)):
            for n, item in enumerate(("ITEM-1", "*")):
                measure_create(
                    db,
                    actor=SYSTEM,
                    list_code=code,
                    data=MeasureIn(
                        code=f"{code}-{n}",
                        kind=kind,
                        implementing_department="BENCH",
                        content="措施",
                        basis="备忘录",
                        items=[MeasureItemOut(code=item, name="事项")],
                    ),
                )
        for n, (uscc, name) in enumerate(rows[::10]):
            entry_add(
                db,
                actor=SYSTEM,
                list_code="BLK" if n % 2 else "RED",
                data=EntryIn(
                    decision_number=f"认定-{n}",
                    subject_id=uscc,
                    subject_name=name,
                    reason="原因",
                    basis="依据",
                    period_from=dt.date.today() - dt.timedelta(days=10),
                ),
            )
    return [(u, n) for u, n in rows]


def write_records(path: Path, subjects: list[tuple[str, str]], count: int) -> None:
    today = dt.date.today()
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for n in range(count):
            uscc, name = subjects[n % len(subjects)]
            day = today - dt.timedelta(days=1 + n % 700)
            writer.writerow(
                [
                    f"罚〔2026〕{n}号",
                    "行政处罚",
                    uscc,
                    name,
                    "罚款",
                    "罚款",
                    "条例第四十八条",
                    day.isoformat(),
                ]
            )


def bare_copy(database: Database, path: Path) -> float:
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE bare_records (" + ", ".join(f"{c} text" for c in COLUMNS) + ")"))
    started = time.perf_counter()
    with database.engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy("COPY bare_records FROM STDIN (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as fh,
        ):
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
    return time.perf_counter() - started


def timed(calls: list[float]) -> dict[str, float]:
    ordered = sorted(calls)
    return {
        "calls_s": round(len(calls) / sum(calls)),
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--checks", type=int, default=2_000)
    parser.add_argument("--entities", type=int, default=5_000)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN)
    args = parser.parse_args()
    database = Database.from_url(fresh_database(args.admin_url))
    upgrade(database.engine)
    with tempfile.TemporaryDirectory(prefix="bench-credit-") as name:
        tmp = Path(name)
        subjects = setup(database, tmp, args.entities)
        path = tmp / "records.csv"
        write_records(path, subjects, args.records)
        copy_s = bare_copy(database, path)
        started = time.perf_counter()
        with database.session() as db:
            result = ingest_credit(
                db, actor=SYSTEM, kind="records", source="BENCH", path=path, error_dir=tmp / "errors"
            )
        ingest_s = time.perf_counter() - started
        assert result.status == "applied", result.errors[:3]
        checks: list[float] = []
        lookups: list[float] = []
        with database.session() as db:
            for n in range(args.checks):
                uscc = subjects[(n * 7) % len(subjects)][0]
                t0 = time.perf_counter()
                db.get(Entity, uscc)
                lookups.append(time.perf_counter() - t0)
                db.expunge_all()
            for n in range(args.checks):
                uscc = subjects[(n * 7) % len(subjects)][0]
                t0 = time.perf_counter()
                credit_check(db, actor=SYSTEM, subject_id=uscc, item_code="ITEM-1")
                checks.append(time.perf_counter() - t0)
        report = {
            "records": args.records,
            "bare_copy_rows_s": round(args.records / copy_s),
            "ingest_rows_s": round(args.records / ingest_s),
            "ratio_to_copy": round(copy_s / ingest_s, 3),
            "check": timed(checks),
            "baseline_pk_lookup": timed(lookups),
        }
        print(json.dumps(report, ensure_ascii=False))
    database.dispose()


if __name__ == "__main__":
    main()
