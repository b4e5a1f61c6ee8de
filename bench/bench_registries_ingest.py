"""Benchmark registry ingestion: N synthetic persons from a CSV, full validation, into PostgreSQL.

Run: ``.venv/bin/python bench/bench_registries_ingest.py [--persons 1000000]`` (10,000,000 for the issue's
figure). Needs a PostgreSQL server (``--admin-url``, default the test suite's); the database ``--database``
is dropped and recreated (and dropped again at the end unless ``--keep``).

Measured in the same run, on the same file:

* **bare COPY**: ``COPY ... FROM STDIN (FORMAT csv, HEADER)`` of the file into an unindexed table with
  the same typed columns, no validation, no history: the floor any loader is compared against;
* **ingest**: :func:`zhengwu.registries.ingest.ingest` — encoding detection, every row validated with
  the kernel's rules, staging, duplicate check, versions + current-state upsert, batch record, audit.
* **re-run**: the same file again (fingerprint hit: nothing changes), and the same rows in a new file
  (every row compared, no version written).

Each timed phase starts settled (``CHECKPOINT`` and ``sync``, the bare table dropped before the ingest),
so that neither pays for writing out the other's pages. ``--repeat N`` measures N pairs, each into a new
database, and reports the medians: on a shared machine one pair can be several seconds off either way.

Targets (issue 5): ingest ≥ 50,000 rows/s and ≥ 1/3 of the bare COPY speed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from zhengwu.accounts.models import Department, DepartmentLevel
from zhengwu.accounts.permissions import Actor
from zhengwu.db import Database, upgrade
from zhengwu.registries.ingest import ingest
from zhengwu.synthetic import generate_persons, write_batches

DEFAULT_ADMIN = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BARE_TABLE = """CREATE TABLE bare_persons (
    resident_id text, name text, sex text, birth_date date, ethnicity text, household_region_code text,
    household_address text, current_region_code text, phone text, status text, death_date date)"""


def fresh_database(admin_url: str, name: str, *, drop_only: bool = False) -> str:
    """Drop database ``name`` and create it again (or only drop it)."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if not drop_only:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def bare_copy(database: Database, path: Path) -> float:
    with database.engine.begin() as conn:
        conn.execute(text(BARE_TABLE))
    started = time.perf_counter()
    with database.engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy("COPY bare_persons FROM STDIN (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as fh,
        ):
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
    return time.perf_counter() - started


def settle(database: Database) -> None:
    """Start the next measurement clean: drop the bare table, write out every dirty buffer and page."""
    with database.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bare_persons"))
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))
    os.sync()


def run_ingest(
    database: Database, path: Path, errors: Path, count: int, label: str
) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    last = [started]

    def progress(rows: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 10:
            print(
                f"  {label}: {rows:,} rows, {rows / (now - started):,.0f} rows/s", file=sys.stderr, flush=True
            )
            last[0] = now

    with database.session() as db:
        result = ingest(
            db,
            actor=Actor.system("bench"),
            registry="population",
            source="BENCH",
            path=path,
            error_dir=errors,
            progress=progress,
        )
    seconds = time.perf_counter() - started
    out = {
        k: getattr(result, k)
        for k in ("status", "rows_read", "inserted", "updated", "unchanged", "rows_invalid", "duplicate_of")
    }
    return seconds, out


def prepare(admin_url: str, name: str) -> Database:
    """A new database ``name`` at the current schema with the benchmark's department."""
    database = Database.from_url(fresh_database(admin_url, name))
    upgrade(database.engine)
    with database.session() as db:
        db.add(
            Department(
                code="BENCH", name="基准测试部门", level=DepartmentLevel.PROVINCIAL, region_code="330000"
            )
        )
    return database


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--persons", "--count", dest="count", type=int, default=1_000_000, help="persons (default 1,000,000)"
    )
    parser.add_argument("--database", default="bench_regperf_ingest", help="database name (dropped!)")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument(
        "--admin-url", default=DEFAULT_ADMIN, help="PostgreSQL URL of a database to create ours from"
    )
    parser.add_argument("--no-rerun", action="store_true", help="skip the idempotent re-runs")
    parser.add_argument(
        "--repeat", type=int, default=1, help="pairs of bare COPY and ingest, each into a new database"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-registries-") as tmp:
        path = Path(tmp) / "persons.csv"
        started = time.perf_counter()
        write_batches(generate_persons(count=args.count), path, progress=False)
        print(
            f"generated {args.count:,} persons in {time.perf_counter() - started:.1f} s "
            f"({path.stat().st_size / 1e6:,.0f} MB)",
            flush=True,
        )
        copies: list[float] = []
        ingests: list[float] = []
        for run in range(1, args.repeat + 1):
            database = prepare(args.admin_url, args.database)
            print(f"run {run}: load average {load_average()} before it", flush=True)
            settle(database)
            copy_s = bare_copy(database, path)
            print(
                f"bare COPY      {args.count:>12,} rows {copy_s:8.2f} s {args.count / copy_s:>12,.0f} rows/s"
                f"  (load average {load_average()})",
                flush=True,
            )
            settle(database)
            ingest_s, result = run_ingest(database, path, Path(tmp) / "errors", args.count, "ingest")
            print(
                f"ingest         {args.count:>12,} rows {ingest_s:8.2f} s {args.count / ingest_s:>12,.0f} "
                f"rows/s  ratio to COPY {copy_s / ingest_s:.3f}  {result}  (load average {load_average()})",
                flush=True,
            )
            copies.append(copy_s)
            ingests.append(ingest_s)
            if run < args.repeat:
                database.dispose()
        copy_s, ingest_s = statistics.median(copies), statistics.median(ingests)
        rate = args.count / ingest_s
        report: dict[str, object] = {
            "count": args.count,
            "runs": args.repeat,
            "bare_copy_s": [round(c, 2) for c in copies],
            "ingest_s": [round(i, 2) for i in ingests],
            "ratio_per_run": [round(c / i, 3) for c, i in zip(copies, ingests, strict=True)],
            "median_bare_copy_s": round(copy_s, 2),
            "median_ingest_s": round(ingest_s, 2),
            "ingest_rows_s": round(rate),
            "ratio_of_medians": round(copy_s / ingest_s, 3),
            "meets_50k": rate >= 50_000,
            "meets_third_of_copy": copy_s / ingest_s >= 1 / 3,
        }
        if not args.no_rerun:
            again_s, again = run_ingest(database, path, Path(tmp) / "errors", args.count, "same file")
            print(f"same file      {again_s:8.2f} s  {again}", flush=True)
            copy_path = Path(tmp) / "persons-again.csv"
            copy_path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
            same_s, same = run_ingest(database, copy_path, Path(tmp) / "errors", args.count, "same rows")
            print(
                f"same rows      {args.count:>12,} rows {same_s:8.2f} s "
                f"{args.count / same_s:>12,.0f} rows/s  {same}",
                flush=True,
            )
            report |= {"same_file_s": round(again_s, 2), "same_rows_s": round(same_s, 2)}
        report["load_average"] = load_average()
        print(json.dumps(report))
    database.dispose()
    if not args.keep:
        fresh_database(args.admin_url, args.database, drop_only=True)


if __name__ == "__main__":
    main()
