# ruff: noqa: S608 - the benchmark formats fixed table and column names into its bulk-load SQL.
"""CKAN ``package_search`` at national size: 100,000 open datasets, Chinese and English queries, facets.

Times the served path (matching, sorting and facet counts over arrays in process memory,
``opendata/search_memory.py``) and, in the same run and on the same queries, the SQL path it replaced
(``search.search_run_sql``) and a title ``LIKE`` scan.

Builds a synthetic portal in a fresh PostgreSQL database (titles, descriptions, tags and topics composed
from the vocabularies of the catalog benchmark; one English keyword per dataset), writes the search index
with the real ``entry_terms`` (jieba) and bulk COPY, then times the whole ``dataset_search`` use case
(parsing, the SQL, facet counts over five fields, the page of ready package dictionaries) for typical
queries, and, as a baseline in the same run, ``title LIKE '%word%'`` with a count and a GROUP BY of
publishers (what a portal without an index does).

    .venv/bin/python bench/bench_package_search.py                      # 100,000 datasets
    .venv/bin/python bench/bench_package_search.py --datasets 10000     # quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from bench_catalog_search import ASPECTS, DEPT_KINDS, REGIONS, SUBJECTS, machine_info, pct
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.opendata import search_memory, services
from zhengwu.opendata.search import STATE_TABLE, IndexEntry, entry_terms, search_run_sql
from zhengwu.opendata.services import dataset_search
from zhengwu.search.memory import touch_token

PG_ADMIN_URL = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BENCH_DB = os.environ.get("ZHENGWU_BENCH_DB", "zhengwu_bench_package_search")
READER = Actor.anonymous()
FACETS = ["organization", "groups", "tags", "res_format", "license_id"]
ENGLISH = ["traffic", "education", "health", "housing", "employment", "environment", "tourism", "water",
           "energy", "agriculture", "budget", "population", "weather", "transport", "culture"]  # fmt: skip
FORMATS = ["CSV", "XLSX", "JSON", "API", "GEOJSON", "PDF"]
LICENSES = ["cn-gov-open", "cc-by-4.0", "cc-zero", "odc-by"]
FREQ = ["daily", "weekly", "monthly", "quarterly", "yearly", "irregular"]


def fresh_database() -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=BENCH_DB).render_as_string(hide_password=False)


def drop_database() -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
    admin.dispose()


class Portal:
    """The synthetic portal, generated dataset by dataset."""

    def __init__(self, n: int, seed: int = 11) -> None:
        self.n = n
        self.rng = random.Random(seed)
        self.departments = [
            (i + 1, f"D{i + 1:03d}", f"{region}{kind}")
            for i, (region, kind) in enumerate((r, k) for r in REGIONS[:6] for k in DEPT_KINDS)
        ]
        self.groups = [(i + 1, f"topic-{i + 1:02d}", s) for i, s in enumerate(SUBJECTS[:40:2])]
        weights = [1 / (i + 1) ** 0.6 for i in range(len(SUBJECTS))]
        self.rng.shuffle(weights)
        self.subject_weights = weights
        self.titles: list[str] = []

    def datasets(self) -> Iterator[tuple[tuple[Any, ...], IndexEntry]]:
        rng = self.rng
        now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        for i in range(1, self.n + 1):
            dept = self.departments[rng.randrange(len(self.departments))]
            subject = rng.choices(SUBJECTS, self.subject_weights)[0]
            aspect = rng.choice(ASPECTS)
            region = rng.choice(REGIONS) if rng.random() < 0.6 else ""
            title = f"{region}{subject}{aspect}"
            if len(self.titles) < 2000:
                self.titles.append(title)
            english = rng.choice(ENGLISH)
            name = f"ds-{i:06d}"
            tags = sorted({subject, aspect[:10], english})
            group = self.groups[rng.randrange(len(self.groups))] if rng.random() < 0.7 else None
            fmts = sorted(set(rng.sample(FORMATS, rng.randint(1, 3))))
            lic = rng.choice(LICENSES)
            modified = now - dt.timedelta(minutes=i)
            notes = (
                f"{region or '全省'}{subject}{aspect}的开放数据，由{dept[2]}按{rng.choice(FREQ)}更新，"
                f"供社会公众查询和开发利用 ({english} open data)。"
            )
            ds_uuid = str(uuid.UUID(int=rng.getrandbits(128)))
            org = {"id": str(uuid.UUID(int=dept[0])), "name": dept[1].lower(), "title": dept[2],
                   "type": "organization", "is_organization": True, "state": "active"}  # fmt: skip
            package = {
                "id": ds_uuid,
                "name": name,
                "title": title,
                "notes": notes,
                "type": "dataset",
                "state": "active",
                "private": False,
                "license_id": lic,
                "owner_org": org["id"],
                "organization": org,
                "metadata_created": modified.replace(tzinfo=None).isoformat(),
                "metadata_modified": modified.replace(tzinfo=None).isoformat(),
                "tags": [{"name": t, "display_name": t, "state": "active"} for t in tags],
                "groups": [{"name": group[1], "title": group[2]}] if group else [],
                "resources": [
                    {
                        "id": str(uuid.UUID(int=rng.getrandbits(128))),
                        "format": f,
                        "url": f"https://x.org/{name}.{f}",
                    }
                    for f in fmts
                ],
                "num_resources": len(fmts),
                "num_tags": len(tags),
            }
            entry = IndexEntry(
                dataset_id=i,
                name=name,
                title=title,
                package=package,
                metadata_created=modified,
                metadata_modified=modified,
                text_fields=[title, name.replace("-", " "), dept[2], *tags, *([group[2]] if group else [])],
                long_fields=[notes],
                facets={
                    "organization": [dept[1].lower()],
                    "groups": [group[1]] if group else [],
                    "tags": tags,
                    "res_format": fmts,
                    "license_id": [lic],
                    "open_type": ["open"],
                    "update_frequency": [rng.choice(FREQ)],
                    "spatial": ["990100"],
                },
            )
            row = (
                i,
                ds_uuid,
                name,
                title,
                notes,
                dept[0],
                lic,
                modified,
                modified,
                group[0] if group else None,
            )
            yield row, entry


DATASET_COLUMNS = (
    "id, uuid, name, title, notes, organization_id, license_id, metadata_created, metadata_modified, "
    "version, url, maintainer, maintainer_email, open_type, open_conditions, update_frequency, "
    "spatial_region_code, private, state, extras, catalog_code"
)


def load(url: str, portal: Portal) -> int:
    """Bulk-load datasets and their index rows with COPY; returns the number of postings."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    postings = 0
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO departments (id, code, name, level, region_code, is_active, created_at, updated_at) "
            "VALUES (%s, %s, %s, 'city', '990100', true, now(), now())",
            portal.departments,
        )
        cur.executemany(
            "INSERT INTO opendata_groups (id, uuid, name, title, description, created) "
            "VALUES (%s, gen_random_uuid()::text, %s, %s, '', now())",
            portal.groups,
        )
        ds_buf: list[tuple[Any, ...]] = []
        grp_buf: list[tuple[Any, ...]] = []
        doc_buf: list[tuple[Any, ...]] = []
        term_buf: list[tuple[Any, ...]] = []
        facet_buf: list[tuple[Any, ...]] = []

        def flush() -> None:
            with cur.copy(f"COPY opendata_datasets ({DATASET_COLUMNS}) FROM STDIN") as cp:
                for r in ds_buf:
                    cp.write_row(r)
            with cur.copy("COPY opendata_dataset_groups (dataset_id, group_id) FROM STDIN") as cp:
                for r in grp_buf:
                    cp.write_row(r)
            with cur.copy(
                "COPY opendata_search_docs (dataset_id, name, title_key, metadata_created, "
                "metadata_modified, package_json) FROM STDIN"
            ) as cp:
                for r in doc_buf:
                    cp.write_row(r)
            with cur.copy("COPY opendata_search_terms (term, dataset_id) FROM STDIN") as cp:
                for r in term_buf:
                    cp.write_row(r)
            with cur.copy("COPY opendata_search_facets (dataset_id, term) FROM STDIN") as cp:
                for r in facet_buf:
                    cp.write_row(r)
            for buf in (ds_buf, grp_buf, doc_buf, term_buf, facet_buf):
                buf.clear()

        for row, entry in portal.datasets():
            i, ds_uuid, name, title, notes, dept_id, lic, created, modified, group_id = row
            ds_buf.append(
                (
                    i,
                    ds_uuid,
                    name,
                    title,
                    notes,
                    dept_id,
                    lic,
                    created,
                    modified,
                    "",
                    "",
                    "",
                    "",
                    "open",
                    "",
                    "monthly",
                    "990100",
                    False,
                    "active",
                    "{}",
                    "",
                )
            )
            if group_id:
                grp_buf.append((i, group_id))
            doc_buf.append(
                (i, name, title.lower(), created, modified, json.dumps(entry.package, ensure_ascii=False))
            )
            terms, facets = entry_terms(entry)
            postings += len(terms)
            term_buf.extend((t, i) for t in terms)
            facet_buf.extend((i, t) for t in facets)
            if len(ds_buf) >= 5000:
                flush()
        flush()
        for table in ("departments", "opendata_groups", "opendata_datasets"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        conn.commit()
    with Session(create_engine(url)) as db:
        touch_token(db, STATE_TABLE)  # a bulk load is an index write too
        db.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return postings


def queries(portal: Portal, rng: random.Random, per_type: int) -> dict[str, list[dict[str, Any]]]:
    """Typical portal queries (kind → keyword arguments of dataset_search), every one with facets."""
    words = [
        "公积金",
        "不动产",
        "营业执照",
        "养老保险",
        "驾驶证",
        "排污许可",
        "低保",
        "学籍",
        "专利",
        "网约车",
        "宅基地",
        "殡葬",
        "供热",
        "护照",
        "林权",
        "商标",
        "校车",
        "户籍",
        "医保",
        "公交",
    ]
    orgs = [d[1].lower() for d in portal.departments]
    return {
        "chinese_word": [{"q": w} for w in rng.sample(words, min(per_type, len(words)))],
        "chinese_two_words": [
            {"q": f"{rng.choice(REGIONS[1:])} {rng.choice(words)}"} for _ in range(per_type)
        ],
        "title_exact": [{"q": t} for t in rng.sample(portal.titles, per_type)],
        "english_word": [{"q": rng.choice(ENGLISH)} for _ in range(per_type)],
        "word_and_fq": [
            {"q": rng.choice(words), "fq": f"organization:{rng.choice(orgs)} OR res_format:CSV"}
            for _ in range(per_type)
        ],
        "harvester_fq": [
            {"fq": f"organization:{rng.choice(orgs)} -res_format:PDF", "sort": "metadata_modified desc"}
            for _ in range(per_type)
        ],
        "browse": [{"q": ""}],
    }


TYPICAL = ("chinese_word", "chinese_two_words", "title_exact", "english_word", "word_and_fq", "harvester_fq")


def _baseline(db: Session, like: str) -> None:
    # What a portal without an index does: scan titles, count, count per publisher, take a page.
    where = "FROM opendata_datasets WHERE title LIKE :w"
    db.execute(text(f"SELECT count(*) {where}"), {"w": like}).all()
    db.execute(text(f"SELECT organization_id, count(*) {where} GROUP BY organization_id"), {"w": like}).all()
    db.execute(text(f"SELECT id, title {where} ORDER BY metadata_modified DESC LIMIT 10"), {"w": like}).all()


def timed(call: Callable[[], Any], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--per-type", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="query the database a --keep run left")
    args = parser.parse_args()
    print(machine_info())
    portal = Portal(args.datasets)
    if args.reuse:
        url = make_url(PG_ADMIN_URL).set(database=BENCH_DB).render_as_string(hide_password=False)
        database = Database(make_engine(url))
        for _ in portal.datasets():  # the same random stream: same titles and organizations
            pass
    else:
        url = fresh_database()
        database = Database(make_engine(url))
        upgrade(database.engine)
        t0 = time.perf_counter()
        postings = load(url, portal)
        print(f"loaded {args.datasets:,} datasets, {postings:,} postings in {time.perf_counter() - t0:.1f} s")
    rng = random.Random(3)
    results: dict[tuple[str, str], list[float]] = {}
    hits: dict[str, list[int]] = {}
    baseline: list[float] = []
    first: list[float] = []
    try:
        with Session(database.engine) as db:
            started = time.perf_counter()
            dataset_search(db, actor=READER, facet_fields=FACETS, q="交通")
            first.append((time.perf_counter() - started) * 1000)  # loads the docs table (and jieba)
            for kind, calls in queries(portal, rng, args.per_type).items():
                for kwargs in calls:
                    call: Callable[[], Any] = lambda kw=kwargs: dataset_search(  # noqa: E731
                        db, actor=READER, facet_fields=FACETS, **kw
                    )
                    for mode, run in (("memory", search_memory.search_run), ("sql", search_run_sql)):
                        services.search_run = run  # type: ignore[assignment]
                        out = call()  # warm (a term's first use reads its posting list)
                        if mode == "memory":
                            hits.setdefault(kind, []).append(out["count"])
                        results.setdefault((kind, mode), []).extend(timed(call, args.reps))
                    services.search_run = search_memory.search_run
                    word = str(kwargs.get("q") or "").split(" ")[-1] or "数据"
                    baseline += timed(lambda w=f"%{word}%": _baseline(db, w), args.reps)
        print(f"first search of the process (loads the docs table and jieba): {first[0]:.0f} ms")
        print(f"{'query type':22} {'median hits':>11} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
              f" {'SQL p50':>8} {'SQL p95':>8}")  # fmt: skip
        typical: dict[str, list[float]] = {"memory": [], "sql": []}
        for kind in hits:
            mem, sql = results[(kind, "memory")], results[(kind, "sql")]
            if kind in TYPICAL:
                typical["memory"] += mem
                typical["sql"] += sql
            print(
                f"{kind:22} {int(statistics.median(hits[kind])):>11,} {pct(mem, 50):>8.1f} "
                f"{pct(mem, 95):>8.1f} {pct(mem, 99):>8.1f} {pct(sql, 50):>8.1f} {pct(sql, 95):>8.1f}"
            )
        mem, sql = typical["memory"], typical["sql"]
        print(
            f"{'TYPICAL (all above)':22} {'':>11} {pct(mem, 50):>8.1f} {pct(mem, 95):>8.1f} "
            f"{pct(mem, 99):>8.1f} {pct(sql, 50):>8.1f} {pct(sql, 95):>8.1f}"
        )
        print(f"{'baseline LIKE scan':22} {'':>11} {pct(baseline, 50):>8.1f} {pct(baseline, 95):>8.1f}")
        print(f"load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    finally:
        database.dispose()
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    main()
