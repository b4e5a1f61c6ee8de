"""``package_search`` over in-memory arrays (search_memory.py): the same results as the SQL path, and
never older than the index a search sees."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from factories import make_department
from factories_opendata import make_dataset, make_publisher
from zhengwu.accounts.permissions import Actor
from zhengwu.opendata import search_memory, services
from zhengwu.opendata.models import Dataset
from zhengwu.opendata.search import (
    FACET_FIELDS,
    IndexEntry,
    SearchPlan,
    Visibility,
    facet_term,
    index_remove,
    index_write,
    parse_fq,
    parse_sort,
    search_run_sql,
    split_q,
    text_clauses,
)

ANON = Actor.anonymous()
WORDS = ["交通", "公交线路", "教育", "学校", "医院", "卫生", "环境", "空气质量", "东川市", "西岭县", "公积金"]
ENGLISH = ["traffic", "transport", "school", "health", "air", "bus", "budget"]
ORGS = ["d001", "d002", "d003"]
TAGS = ["交通", "教育", "卫生", "环境", "traffic", "open", "年度"]
FORMATS = ["CSV", "XLSX", "JSON", "PDF", "API"]
GROUPS = ["topic-01", "topic-02", "topic-03"]
LICENSES = ["cn-gov-open", "cc-by-4.0", "cc-zero"]
# Few distinct times, some on a whole second: ties in every sort, and range bounds equal to values.
STAMPS = [
    dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2024, 6, 1, 12, 30, tzinfo=dt.UTC),
    dt.datetime(2024, 6, 1, 12, 30, 0, 250_000, tzinfo=dt.UTC),
    dt.datetime(2025, 3, 15, 8, tzinfo=dt.UTC),
    dt.datetime(2025, 11, 30, 23, 59, 59, tzinfo=dt.UTC),
]


def _stamp_text(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _corpus(db: Session, rng: random.Random, size: int) -> None:
    """``size`` datasets with random titles, texts, facets, visibility and times, indexed directly."""
    dept = make_department(db, name="随机测试厅").id
    titles = [f"{rng.choice(WORDS)}{rng.choice(WORDS)}" for _ in range(size // 3)]
    entries = []
    for i in range(size):
        title = (
            rng.choice(titles) if rng.random() < 0.5 else f"{rng.choice(WORDS)}{rng.choice(ENGLISH)}数据{i}"
        )
        name = f"rnd-{rng.randrange(10_000):04d}-{i}"
        created, modified = rng.choice(STAMPS), rng.choice(STAMPS)
        row = Dataset(
            uuid=str(uuid.uuid4()),
            name=name,
            title=title,
            organization_id=dept,
            private=rng.random() < 0.2,
            metadata_created=created,
            metadata_modified=modified,
        )
        db.add(row)
        db.flush()
        org = rng.choice(ORGS)
        tags = rng.sample(TAGS, rng.randint(0, 3))
        facets = {
            "organization": [org],
            "groups": rng.sample(GROUPS, rng.randint(0, 2)),
            "tags": tags,
            "res_format": sorted(rng.sample(FORMATS, rng.randint(1, 3))),
            "license_id": [rng.choice(LICENSES)],
            "open_type": [rng.choice(["open", "conditional"])],
            "update_frequency": [rng.choice(["daily", "monthly", ""])],
            "spatial": [rng.choice(["990100", "990200"])],
        }
        notes = f"{rng.choice(WORDS)}的开放数据 {rng.choice(ENGLISH)} {rng.choice(ENGLISH)}"
        entries.append(
            IndexEntry(
                dataset_id=row.id,
                name=name,
                title=title,
                package={"id": row.uuid, "name": name, "title": title, "organization": org},
                metadata_created=created,
                metadata_modified=modified,
                text_fields=[title, name.replace("-", " "), *tags],
                long_fields=[notes],
                facets=facets,
                public=not row.private,
            )
        )
    index_write(db, entries)


def _fq(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(0, 3)):
        kind = rng.randrange(9)
        sign = "-" if rng.random() < 0.25 else ""
        if kind == 0:
            parts.append(f"{sign}organization:{rng.choice(ORGS)}")
        elif kind == 1:
            parts.append(f"{sign}tags:{rng.choice(TAGS)}")
        elif kind == 2:
            parts.append(f"{sign}res_format:({rng.choice(FORMATS)} OR {rng.choice(FORMATS)})")
        elif kind == 3:
            parts.append(f"organization:{rng.choice(ORGS)} OR groups:{rng.choice(GROUPS)}")
        elif kind == 4:
            low, high = rng.choice(STAMPS), rng.choice(STAMPS)
            low_text = "*" if rng.random() < 0.3 else _stamp_text(low)
            parts.append(f"{sign}metadata_modified:[{low_text} TO {_stamp_text(high)}]")
        elif kind == 5:
            parts.append(f"{sign}metadata_created:[{_stamp_text(rng.choice(STAMPS))} TO *]")
        elif kind == 6:
            parts.append(f"{sign}groups:*")
        elif kind == 7:
            parts.append(f"capacity:{rng.choice(['public', 'private'])}")
        else:
            parts.append(f'{sign}license_id:"{rng.choice(LICENSES)}"')
    return " ".join(parts)


def _q(rng: random.Random) -> str:
    kind = rng.randrange(7)
    if kind == 0:
        return ""
    if kind == 1:
        return rng.choice(WORDS)
    if kind == 2:
        return f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
    if kind == 3:
        return rng.choice(ENGLISH)[: rng.randint(2, 6)]
    if kind == 4:
        return f"{rng.choice(WORDS)[:2]} tags:{rng.choice(TAGS)}"
    if kind == 5:
        return f"{rng.choice(WORDS)}{rng.choice(ENGLISH)}"
    return rng.choice(["公", "数据", "学", "*:*", "text:交通"])


def _plan(rng: random.Random) -> SearchPlan:
    """A random plan built as ``dataset_search`` builds it, from the real parsers."""
    plan = SearchPlan(
        rows=rng.choice([0, 1, 3, 10, 40]),
        start=rng.choice([0, 0, 1, 5, 30]),
        facet_limit=rng.choice([-1, 2, 50]),
        facet_mincount=rng.choice([1, 1, 2]),
    )
    free, fielded = split_q(_q(rng))
    clauses, plan.title_needle = text_clauses(free)
    plan.clauses += clauses
    for source, name in ((fielded, "q"), (_fq(rng), "fq")):
        if source:
            more, ranges = parse_fq(source, name)
            plan.clauses += more
            plan.ranges += ranges
    plan.order = parse_sort(
        rng.choice(
            [
                "",
                "score desc, metadata_modified desc",
                "name asc",
                "id asc",
                "metadata_modified desc",
                "title_string asc",
                "metadata_created asc, name desc",
                "score asc, title_string desc, metadata_modified asc",
            ]
        )
    )
    plan.facet_fields = rng.sample(FACET_FIELDS, rng.randint(0, 4))
    return plan


def _visibility(rng: random.Random) -> Visibility:
    kind = rng.randrange(3)
    if kind == 0:
        return Visibility()
    if kind == 1:
        return Visibility(all_private=True)
    return Visibility(org_terms=(facet_term("organization", rng.choice(ORGS)),))


def test_in_memory_search_gives_the_sql_results_on_a_random_corpus(db: Session, monkeypatch: Any) -> None:
    rng = random.Random(20261123)
    _corpus(db, rng, 160)
    search_memory.clear_cache()
    compared = 0
    for i in range(400):
        plan, vis = _plan(rng), _visibility(rng)
        expected = search_run_sql(db, plan, vis)
        # Both ways of finding the titles that hold the query: hit by hit, and one scan of all titles.
        monkeypatch.setattr(search_memory, "TITLE_SCAN_FROM", 0 if i % 2 else 2_000)
        got = search_memory.search_run(db, plan, vis)
        assert got.count == expected.count, (plan, vis)
        assert got.packages == expected.packages, (plan, vis)
        assert got.facets == expected.facets, (plan, vis)
        compared += bool(expected.count)
    assert compared > 150  # most random searches find something: the comparison is not vacuous


def test_a_search_sees_each_index_change_and_not_a_rolled_back_one(db: Session) -> None:
    pub = make_publisher(db, name="省交通运输厅")
    make_dataset(db, pub, name="bus-routes", title="公交线路站点")

    def names(q: str) -> set[str]:
        return {p["name"] for p in services.dataset_search(db, actor=ANON, q=q, rows=50)["results"]}

    def token() -> str:
        return str(db.execute(text("SELECT token FROM opendata_search_state WHERE id = 1")).scalar_one())

    assert names("公交") == {"bus-routes"}
    before = token()
    savepoint = db.begin_nested()
    make_dataset(db, pub, name="bus-stops", title="公交站台位置")
    assert token() != before
    assert names("公交") == {"bus-routes", "bus-stops"}  # held under the new token
    savepoint.rollback()
    assert token() == before
    assert names("公交") == {"bus-routes"}
    assert services.dataset_search(db, actor=ANON)["count"] == 1
    services.dataset_delete(db, actor=pub.actor, ref="bus-routes")
    assert token() != before
    assert names("公交") == set()


def test_index_writes_and_removals_replace_the_token(db: Session) -> None:
    pub = make_publisher(db)
    out = make_dataset(db, pub, title="空气质量日报")
    dataset_id = db.execute(
        text("SELECT id FROM opendata_datasets WHERE uuid = :u"), {"u": out["id"]}
    ).scalar()
    seen = {str(db.execute(text("SELECT token FROM opendata_search_state")).scalar_one())}
    index_remove(db, [int(dataset_id or 0)])
    seen.add(str(db.execute(text("SELECT token FROM opendata_search_state")).scalar_one()))
    index_write(db, [])  # nothing written: the token stays
    seen.add(str(db.execute(text("SELECT token FROM opendata_search_state")).scalar_one()))
    assert len(seen) == 2
    assert db.execute(text("SELECT count(*) FROM opendata_search_state")).scalar_one() == 1


def _search(db: Session, **kwargs: Any) -> dict[str, Any]:
    return services.dataset_search(db, actor=ANON, **kwargs)


def test_results_stay_exact_when_no_posting_list_is_held(db: Session, monkeypatch: Any) -> None:
    search_memory.clear_cache()
    monkeypatch.setattr(search_memory, "POSTING_BUDGET", 1)
    pub = make_publisher(db)
    for i in range(5):
        make_dataset(
            db, pub, name=f"air-{i}", title=f"空气质量{i}", tags=[{"name": "环境" if i % 2 else "年度"}]
        )
    found = _search(db, q="空气", fq="tags:环境", facet_fields=["tags"], sort="name asc")
    assert found["count"] == 2
    assert [p["name"] for p in found["results"]] == ["air-1", "air-3"]
    assert found["facets"]["tags"] == {"环境": 2}
    search_memory.clear_cache()
