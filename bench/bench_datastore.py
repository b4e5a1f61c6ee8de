# ruff: noqa: S608 - the benchmark formats fixed table and column names into its SQL.
"""Datastore at national size: ``datastore_search`` with a filter and the streamed CSV download.

Builds a 10,000,000-row datastore table on PostgreSQL in a fresh database (``INSERT ... SELECT
generate_series`` straight into a ``ds_<hex>`` table registered in ``datastore_tables``, indexed the
way ``datastore_create`` indexes filter fields, then vacuumed as autovacuum would), also times the
real loader (``datastore_create`` from a CSV file) on a smaller file, then starts a real server
(uvicorn, one worker) and measures:

* ``datastore_search`` over HTTP (``/api/3/action/datastore_search`` with ``filters``, the CKAN
  envelope, the total) p50/p95/p99, against the same two SQL statements run directly with psycopg
  (page + capped count + the planner's estimate above the cap), measured in the same run;
* ``/datastore/dump/<id>?format=csv`` downloaded with curl: MB/s and the server's peak RSS before and
  after, against a bare ``COPY (SELECT ...) TO STDOUT`` read with psycopg in the same run.

    .venv/bin/python bench/bench_datastore.py                 # 10,000,000 rows
    .venv/bin/python bench/bench_datastore.py --rows 2000000  # on a loaded machine

Keep runs short: the machine's two cores are shared. PostgreSQL: ZHENGWU_TEST_PG_ADMIN_URL or the
default local server.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from zhengwu.accounts.models import DepartmentLevel
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import DepartmentIn
from zhengwu.accounts.services import department_create
from zhengwu.db import Database, make_engine, upgrade, utcnow
from zhengwu.opendata.datastore.loader import create_indexes, execute_ddl
from zhengwu.opendata.datastore.models import DatastoreTable
from zhengwu.opendata.datastore.query import TOTAL_EXACT_LIMIT as CAP
from zhengwu.opendata.datastore.services import datastore_create
from zhengwu.opendata.packages import org_name_of
from zhengwu.opendata.services import dataset_create

PG_ADMIN_URL = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = os.environ.get("ZHENGWU_BENCH_DB", "zhengwu_bench_datastore")
PORT = int(os.environ.get("ZHENGWU_BENCH_PORT", "0"))
FIELDS = [
    {"id": "n", "type": "int"},
    {"id": "code", "type": "text"},
    {"id": "city", "type": "text"},
    {"id": "amount", "type": "numeric"},
    {"id": "day", "type": "date"},
    {"id": "label", "type": "text"},
    {"id": "lon", "type": "numeric"},
    {"id": "lat", "type": "numeric"},
]
CODES = 10_000
CITIES = 100


def fresh_database() -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=DB_NAME).render_as_string(hide_password=False)


def drop_database() -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    admin.dispose()


def build_table(database: Database, rows: int) -> tuple[str, str]:
    """A ``rows``-row table straight from SQL, registered and indexed like a loaded one."""
    table = "ds_" + uuid.uuid4().hex
    started = time.perf_counter()
    with database.session() as db:
        # The portal's actions reach a table through its resource: a public dataset of a publisher.
        system = Actor.system("bench")
        dept = department_create(
            db,
            actor=system,
            data=DepartmentIn(
                code="BENCH01", name="基准测试厅", level=DepartmentLevel.PROVINCIAL, region_code="330000"
            ),
        )
        dataset = dataset_create(
            db,
            actor=system,
            payload={
                "name": "bench-table",
                "title": "基准数据表",
                "owner_org": org_name_of(dept.code, dept.id),
                "resources": [{"name": "bench", "format": "CSV"}],
            },
        )
        resource_id = str(dataset["resources"][0]["id"])
        conn = db.connection()
        execute_ddl(
            conn,
            f'CREATE TABLE "{table}" ("_id" BIGINT NOT NULL, "n" BIGINT, "code" TEXT, "city" TEXT, '
            f'"amount" NUMERIC, "day" DATE, "label" TEXT, "lon" NUMERIC, "lat" NUMERIC)',
        )
        execute_ddl(
            conn,
            f"INSERT INTO \"{table}\" SELECT i, i, 'C' || lpad((i % {CODES})::text, 5, '0'), "
            f"'城市' || (i % {CITIES}), round((i % 100000) * 1.25, 2), DATE '2020-01-01' + (i % 1500), "
            f"'标签' || (i % 37), round(118 + (i % 1000) / 250.0, 4), round(28 + (i % 977) / 300.0, 4) "
            f"FROM generate_series(1, {rows}) AS i",
        )
        execute_ddl(conn, f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (_id)')
        create_indexes(conn, table, ["code", "city"])
        db.add(
            DatastoreTable(
                resource_id=resource_id,
                table_name=table,
                fields=FIELDS,
                indexes=["code", "city"],
                row_count=rows,
                is_open=True,
                source_format="csv",
                source_encoding="utf-8",
                source_sha256="",
                source_size=0,
                loaded_by="bench",
                loaded_at=utcnow(),
            )
        )
    # What autovacuum does shortly after a load commits (insert threshold): the visibility map that
    # lets the capped count be an index-only scan. VACUUM cannot run inside the load's transaction.
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'VACUUM ANALYZE "{table}"')
    print(f"built {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    return resource_id, table


def existing_table(database: Database) -> tuple[str, str, int]:
    """The bench table of a ``--keep`` run: resource id, table name, rows."""
    with database.session() as db:
        row = db.execute(
            text(
                "SELECT resource_id, table_name, row_count FROM datastore_tables "
                "WHERE loaded_by = 'bench' ORDER BY row_count DESC LIMIT 1"
            )
        ).one()
    return str(row[0]), str(row[1]), int(row[2])


def loader_throughput(database: Database, rows: int) -> dict[str, Any]:
    """The real loader on a CSV file of ``rows`` rows (two passes: inspect, then COPY)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "load.csv"
        with path.open("w", encoding="utf-8") as fh:
            fh.write("n,code,city,amount,day,label\n")
            for i in range(rows):
                amount = f"{i % 100000 * 1.25:.2f}"
                fh.write(
                    f"{i},C{i % CODES:05d},城市{i % CITIES},{amount},2024-01-{i % 28 + 1:02d},标签{i % 37}\n"
                )
        size = path.stat().st_size
        started = time.perf_counter()
        with database.session() as db:
            datastore_create(
                db, actor=Actor.system("bench"), resource_id=str(uuid.uuid4()), path=path, indexes=["code"]
            )
        seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "mb": round(size / 1e6, 1),
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "mean": round(statistics.mean(samples) * 1000, 2),
    }


def start_server(url: str, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGWU_")}
    env.update({"ZHENGWU_DATABASE_URL": url, "ZHENGWU_DATA_DIR": str(data_dir)})
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "zhengwu.app:create_app", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("server did not start")


def rss_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def bench_search(base: str, pg_url: str, resource_id: str, table: str, queries: int) -> dict[str, Any]:
    rng = random.Random(7)
    codes = [f"C{rng.randrange(CODES):05d}" for _ in range(queries)]
    cities = [f"城市{rng.randrange(CITIES)}" for _ in range(queries)]
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=30) as client:
        for name, field, values in (
            ("code (1,000 matches)", "code", codes),
            ("city (100,000 matches)", "city", cities),
        ):
            client.post(
                "/api/3/action/datastore_search",
                json={"resource_id": resource_id, "filters": {field: values[0]}},
            )
            samples = []
            for value in values:
                started = time.perf_counter()
                r = client.post(
                    "/api/3/action/datastore_search",
                    json={"resource_id": resource_id, "filters": {field: value}},
                )
                samples.append(time.perf_counter() - started)
                assert r.status_code == 200 and r.json()["result"]["records"], r.text[:200]
            out[f"datastore_search {name}"] = percentiles(samples)
    raw_url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw_url) as conn:
        for name, field, values in (("code", "code", codes), ("city", "city", cities)):
            samples = []
            for value in values:
                started = time.perf_counter()
                cur = conn.execute(
                    f'SELECT _id, n, code, city, amount, day, label, lon, lat FROM "{table}" '
                    f'WHERE "{field}" = %s ORDER BY _id LIMIT 100',
                    (value,),
                )
                cur.fetchall()
                row = conn.execute(
                    f'SELECT count(*) FROM (SELECT 1 FROM "{table}" WHERE "{field}" = %s LIMIT {CAP + 1}) s',
                    (value,),
                ).fetchone()
                if row and row[0] > CAP:  # the same estimate datastore_search makes above the cap
                    conn.execute(
                        f'EXPLAIN (FORMAT JSON) SELECT 1 FROM "{table}" WHERE "{field}" = %s', (value,)
                    )
                samples.append(time.perf_counter() - started)
            out[f"baseline direct SQL {name}"] = percentiles(samples)
    return out


def bench_download(base: str, pg_url: str, resource_id: str, table: str, server_pid: int) -> dict[str, Any]:
    before = rss_kib(server_pid, "VmRSS")
    started = time.perf_counter()
    result = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            f"{base}/datastore/dump/{resource_id}?format=csv",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    size = int(result.stdout.strip())
    peak = rss_kib(server_pid, "VmHWM")
    after = rss_kib(server_pid, "VmRSS")
    raw_url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    started = time.perf_counter()
    copied = 0
    with psycopg.connect(raw_url) as conn, conn.cursor() as cur:
        sql = (
            f'COPY (SELECT _id, n, code, city, amount, day, label, lon, lat FROM "{table}" ORDER BY _id) '
            "TO STDOUT WITH (FORMAT csv, HEADER true)"
        )
        with cur.copy(sql) as copy:
            for data in copy:
                copied += len(data)
    copy_seconds = time.perf_counter() - started
    # The C baseline: psql's \copy of the same rows to /dev/null (what PostgreSQL can deliver here).
    dbname = make_url(pg_url).database or ""
    url = make_url(pg_url)
    started = time.perf_counter()
    subprocess.run(
        ["psql", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres",
         "-d", dbname, "-q", "-c",
         f"\\copy (SELECT _id, n, code, city, amount, day, label, lon, lat FROM \"{table}\" ORDER BY _id) "
         "TO '/dev/null' WITH (FORMAT csv, HEADER true)"],
        check=True,
    )  # fmt: skip
    psql_seconds = time.perf_counter() - started
    return {
        "download_mb": round(size / 1e6, 1),
        "download_s": round(seconds, 2),
        "download_mb_per_s": round(size / 1e6 / seconds, 1),
        "server_rss_before_mib": round(before / 1024, 1),
        "server_rss_after_mib": round(after / 1024, 1),
        "server_peak_rss_mib": round(peak / 1024, 1),
        "baseline_copy_mb": round(copied / 1e6, 1),
        "baseline_copy_s": round(copy_seconds, 2),
        "baseline_copy_mb_per_s": round(copied / 1e6 / copy_seconds, 1),
        "baseline_psql_s": round(psql_seconds, 2),
        "baseline_psql_mb_per_s": round(copied / 1e6 / psql_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--load-rows", type=int, default=300_000, help="rows for the loader throughput")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--reuse", action="store_true", help="time the table a --keep run left")
    args = parser.parse_args()
    report: dict[str, Any] = {"rows": args.rows, "cpus": os.cpu_count(), "load_avg": os.getloadavg()}
    if args.reuse:
        url = make_url(PG_ADMIN_URL).set(database=DB_NAME).render_as_string(hide_password=False)
        database = Database(make_engine(url))
    else:
        url = fresh_database()
        database = Database(make_engine(url))
        upgrade(database.engine)
    try:
        if args.reuse:
            resource_id, table, report["rows"] = existing_table(database)
        else:
            report["loader"] = loader_throughput(database, args.load_rows)
            print(json.dumps(report["loader"]), flush=True)
            resource_id, table = build_table(database, args.rows)
        with tempfile.TemporaryDirectory() as tmp:
            port = PORT or 8765 + os.getpid() % 1000
            server = start_server(url, Path(tmp), port)
            try:
                base = f"http://127.0.0.1:{port}"
                report["search"] = bench_search(base, url, resource_id, table, args.queries)
                print(json.dumps(report["search"], ensure_ascii=False), flush=True)
                report["download"] = bench_download(base, url, resource_id, table, server.pid)
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        database.dispose()
        if not args.keep:
            drop_database()
    print(json.dumps(report, ensure_ascii=False, indent=2))
    print_table(report)


def print_table(report: dict[str, Any]) -> None:
    """The numbers as a table, with the load average at the start and at the end."""
    start = ", ".join(f"{v:.1f}" for v in report["load_avg"])
    end = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\n{report['rows']:,} rows; load average at start {start}, at end {end}")
    print(f"{'measurement':44} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, values in report.get("search", {}).items():
        print(f"{name:44} {values['p50']:>8} {values['p95']:>8} {values['p99']:>8}")
    down = report.get("download")
    if down:
        print(f"{'download':44} {'MB':>8} {'s':>8} {'MB/s':>8}")
        print(f"{'CSV dump over HTTP (curl)':44} {down['download_mb']:>8} {down['download_s']:>8} "
              f"{down['download_mb_per_s']:>8}")  # fmt: skip
        print(f"{'baseline: COPY read by psycopg Copy':44} {down['baseline_copy_mb']:>8} "
              f"{down['baseline_copy_s']:>8} {down['baseline_copy_mb_per_s']:>8}")  # fmt: skip
        print(f"{'baseline: psql copy to /dev/null':44} {down['baseline_copy_mb']:>8} "
              f"{down['baseline_psql_s']:>8} {down['baseline_psql_mb_per_s']:>8}")  # fmt: skip
        print(f"server RSS before / peak / after: {down['server_rss_before_mib']} / "
              f"{down['server_peak_rss_mib']} / {down['server_rss_after_mib']} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
