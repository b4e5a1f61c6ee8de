# ruff: noqa: S608 - SQL text is assembled from fixed identifiers and placeholder names only (see below).
"""The SQL of one search: matching rows, their rank, the page of hits and the facet counts in one statement.

Matching reads postings only: the rarest term's postings are one range of the ``catalog_search_terms``
key, and each other term is one probe per candidate (see ``match_sql``). The matching docs rows go into a
materialised CTE ``m`` with their rank; the page of hits and the counts are read from it and come back
together as ``(facet, value, label, n, name_len, published_at)`` rows:

- ``('_hit', resource_id, NULL, rank, name_len, published_at)`` for the page (sorted again in Python:
  the order of a UNION ALL is not guaranteed);
- ``('_packed', facet_key, NULL, count, …)``: counts of the five small facets packed into one number;
- ``('provider', department id, …)``, ``('topic', topic code, …)`` and ``('_total', NULL, NULL, count, …)``.

PostgreSQL counts everything in one pass (GROUPING SETS); SQLite with one GROUP BY per group.

The statement is written as SQL text with bound parameters rather than built with SQLAlchemy's
expression language: building and caching the expression tree of a many-term query cost more client
time (about 10 ms) than running it. Every value is a bound parameter; only fixed identifiers and
placeholder names are formatted into the text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, String, bindparam, column, text
from sqlalchemy.orm import Session

from zhengwu.catalog.search.indexing import PACKED_FACETS, facet_digit, unpack_facets
from zhengwu.catalog.search.tokens import ParsedQuery, Term
from zhengwu.db import UTCDateTime

FACETS = ("provider", "category", "topic", "share_type", "open_type", "delivery", "update_frequency")
RANK_BROWSE = 5
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_RESULT_COLUMNS = (
    column("facet", String()),
    column("value", String()),
    column("label", String()),
    column("n", Integer()),
    column("name_len", Integer()),
    column("published_at", UTCDateTime()),
)


@dataclass(frozen=True)
class Filters:
    """Facet filter values by facet name (several values of one facet: any of them), and a
    classification prefix."""

    values: dict[str, tuple[str, ...]]
    classification: str = ""


@dataclass
class Rows:
    """What the statement returned, sorted out: hits (resource id, rank) in page order, facet counts
    as facet → value → (label or None, count), and the total."""

    hits: list[tuple[int, int]] = field(default_factory=list)
    facets: dict[str, dict[str, tuple[str | None, int]]] = field(default_factory=dict)
    total: int = 0


class _Params:
    """Collects bound parameters and hands out their placeholder names."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return ":" + name


def _upper(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def plan_terms(db: Session, parsed: ParsedQuery) -> list[tuple[Term, int]] | None:
    """The terms the query needs, each with its document frequency, rarest first; None if some word
    cannot match at all (then nothing needs to be run).

    Per word, the first spelling whose terms all occur in the index is used (see ``tokens._cjk_word``).
    """
    exact = sorted({t.text for word in parsed.words for alt in word for t in alt if not t.prefix})
    df: dict[str, int] = {}
    if exact:
        query = text("SELECT term, df FROM catalog_search_vocab WHERE term IN :terms AND df > 0")
        query = query.bindparams(bindparam("terms", expanding=True))
        df = {term: int(n) for term, n in db.execute(query, {"terms": exact})}
    prefix_sql = text(
        "SELECT COALESCE(SUM(df), 0) FROM catalog_search_vocab WHERE term >= :lo AND term < :hi"
    )
    chosen: dict[Term, int] = {}
    for word in parsed.words:
        for alternative in word:
            counts = []
            for term in alternative:
                if term.prefix:
                    lo, hi = term.text, _upper(term.text)
                    counts.append(int(db.execute(prefix_sql, {"lo": lo, "hi": hi}).scalar() or 0))
                else:
                    counts.append(df.get(term.text, 0))
            if all(counts):
                chosen.update(zip(alternative, counts, strict=True))
                break
        else:
            return None
    return sorted(chosen.items(), key=lambda item: item[1])


def match_sql(terms: list[tuple[Term, int]], params: _Params, *, postgres: bool) -> str:
    """A SELECT of resources having every term: ``resource_id``, ``w`` (the worst of the terms' best-field
    weights) and the facet and ordering columns the postings carry.

    It starts from the rarest term's postings and probes the others for those candidates only, so its
    cost follows the rarest term, not the commonest (“信息” is in almost every name).
    """
    driver, df = terms[0]
    # The LIMIT never cuts (a term has exactly df postings; the bound is generous all the same): it tells
    # the planner how many candidates there are, which its statistics cannot know for a rare term, so a
    # few hundred candidates are looked up by key instead of joined against a scan of every doc.
    bound = params.add(2 * df + 1000)
    carried = "facet_key, provider_id, topic_code, name_len, published_at"
    if driver.prefix:
        lo, hi = params.add(driver.text), params.add(_upper(driver.text))
        # Several terms of one resource can share the prefix: one row per resource, its best weight.
        start = (
            "SELECT resource_id, MIN(weight) AS w, MIN(facet_key) AS facet_key, "
            "MIN(provider_id) AS provider_id, MIN(topic_code) AS topic_code, MIN(name_len) AS name_len, "
            "MIN(published_at) AS published_at "
            f"FROM catalog_search_terms WHERE term >= {lo} AND term < {hi} GROUP BY resource_id LIMIT {bound}"
        )
    else:
        first = params.add(driver.text)
        start = (
            f"SELECT resource_id, weight AS w, {carried} FROM catalog_search_terms "
            f"WHERE term = {first} LIMIT {bound}"
        )
    columns = ["c0.resource_id", "c0.w AS w0", *(f"c0.{c}" for c in carried.split(", "))]
    joins: list[str] = []
    conditions: list[str] = []
    for i, (term, _) in enumerate(terms[1:], start=1):
        if term.prefix:
            lo, hi = params.add(term.text), params.add(_upper(term.text))
            columns.append(
                f"(SELECT MIN(weight) FROM catalog_search_terms WHERE term >= {lo} AND term < {hi} "
                f"AND resource_id = c0.resource_id) AS w{i}"
            )
            conditions.append(f"w{i} IS NOT NULL")
        else:
            joins.append(
                f"JOIN catalog_search_terms AS t{i} ON t{i}.term = {params.add(term.text)} "
                f"AND t{i}.resource_id = c0.resource_id"
            )
            columns.append(f"t{i}.weight AS w{i}")
    weights = [f"w{i}" for i in range(len(terms))]
    worst = (
        weights[0] if len(weights) == 1 else ("GREATEST" if postgres else "MAX") + f"({', '.join(weights)})"
    )
    inner = f"SELECT {', '.join(columns)} FROM ({start}) AS c0 {' '.join(joins)}"
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT resource_id, {worst} AS w, {carried} FROM ({inner}) AS x{where}"


def _where(filters: Filters, params: _Params, *, docs: bool) -> list[str]:
    clauses: list[str] = []
    for name, values in filters.values.items():
        if not values:
            continue
        if name == "provider":
            codes = ", ".join(params.add(v) for v in values)
            clauses.append(f"d.provider_id IN (SELECT id FROM departments WHERE code IN ({codes}))")
        elif name == "topic":
            clauses.append(f"d.topic_code IN ({', '.join(params.add(v) for v in values)})")
        else:
            divisor, modulus, digits = facet_digit(name)
            wanted = ", ".join(str(digits[v]) for v in values if v in digits) or "-1"
            clauses.append(f"(d.facet_key / {divisor}) % {modulus} IN ({wanted})")
    if filters.classification:
        prefix = filters.classification
        length, value = params.add(len(prefix)), params.add(prefix)
        if docs:
            clauses.append(f"substr(d.classification, 1, {length}) = {value}")
        else:
            clauses.append(
                "d.resource_id IN (SELECT resource_id FROM catalog_search_docs "
                f"WHERE substr(classification, 1, {length}) = {value})"
            )
    return clauses


_COUNTS_POSTGRES = """
SELECT CASE f.g WHEN 3 THEN '_packed' WHEN 5 THEN 'provider' WHEN 6 THEN 'topic' ELSE '_total' END,
       CASE f.g WHEN 3 THEN CAST(f.facet_key AS VARCHAR) WHEN 5 THEN CAST(f.provider_id AS VARCHAR)
                WHEN 6 THEN f.topic_code END,
       CAST(NULL AS VARCHAR), f.n, CAST(NULL AS INTEGER), CAST(NULL AS TIMESTAMPTZ)
FROM (SELECT facet_key, provider_id, topic_code, GROUPING(facet_key, provider_id, topic_code) AS g,
             count(*) AS n
      FROM m GROUP BY GROUPING SETS ((facet_key), (provider_id), (topic_code), ())) AS f"""
# GROUPING() sets bit 2 - i when key i is *not* grouped in the row's set: 3 = (facet_key),
# 5 = (provider_id), 6 = (topic_code), 7 = the grand total.

_COUNTS_GENERIC = """
SELECT '_packed', CAST(facet_key AS VARCHAR), NULL, count(*), NULL, NULL FROM m GROUP BY facet_key
UNION ALL SELECT 'provider', CAST(provider_id AS VARCHAR), NULL, count(*), NULL, NULL
  FROM m GROUP BY provider_id
UNION ALL SELECT 'topic', topic_code, NULL, count(*), NULL, NULL FROM m GROUP BY topic_code
UNION ALL SELECT '_total', NULL, NULL, count(*), NULL, NULL FROM m"""


def _statement(
    terms: list[tuple[Term, int]] | None,
    parsed: ParsedQuery,
    filters: Filters,
    code_query: str | None,
    *,
    page: int,
    page_size: int,
    postgres: bool,
) -> tuple[str, dict[str, Any]]:
    params = _Params()
    browse = parsed.empty or code_query is not None
    fulltext = not browse and bool(terms)
    clauses = _where(filters, params, docs=not fulltext)
    source = "catalog_search_docs AS d"
    if code_query is not None:
        code = params.add(code_query)
        clauses.append(f"d.resource_id IN (SELECT id FROM catalog_resources WHERE code = {code})")
        rank = "0"
    elif not fulltext or terms is None:
        rank = str(RANK_BROWSE)
    else:
        key, upper = params.add(parsed.key), params.add(_upper(parsed.key))
        exact = f"SELECT resource_id FROM catalog_search_docs WHERE name_key = {key}"
        prefix = f"SELECT resource_id FROM catalog_search_docs WHERE name_key >= {key} AND name_key < {upper}"
        rank = (
            f"CASE WHEN d.resource_id IN ({exact}) THEN 0 WHEN d.resource_id IN ({prefix}) THEN 1 "
            "WHEN d.w = 1 THEN 2 WHEN d.w <= 3 THEN 3 ELSE 4 END"
        )
        source = f"({match_sql(terms, params, postgres=postgres)}) AS d"
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    order = (
        "published_at DESC, resource_id DESC" if browse else "rank, name_len, published_at DESC, resource_id"
    )
    # Identifiers and placeholders only are formatted in; every value is a bound parameter.
    limit, offset = params.add(page_size), params.add((page - 1) * page_size)
    cols = f"d.resource_id, d.name_len, d.published_at, d.facet_key, d.provider_id, d.topic_code, {rank}"
    matched = f"SELECT {cols} AS rank FROM {source}{where}"
    page_cols = "resource_id, rank, name_len, published_at"
    page_sql = f"SELECT {page_cols} FROM m ORDER BY {order} LIMIT {limit} OFFSET {offset}"
    hit_cols = (
        "'_hit', CAST(p.resource_id AS VARCHAR), CAST(NULL AS VARCHAR), p.rank, p.name_len, p.published_at"
    )
    hits = f"SELECT {hit_cols} FROM ({page_sql}) AS p"
    counts = _COUNTS_POSTGRES if postgres else _COUNTS_GENERIC
    sql = f"WITH m AS MATERIALIZED ({matched}) {hits} UNION ALL {counts}"
    return sql, params.values


def _run_cached_cost(db: Session, statement: Any, values: dict[str, Any]) -> Any:
    """Run on PostgreSQL with ``random_page_cost`` 1.1 for this statement only.

    The index is small and hot (or on SSD): looking up a few thousand candidates by key is then far
    cheaper than the default cost of 4 per random page makes it look, and without this the planner hashes
    every doc row even for a word with a thousand hits (16 ms instead of 3 ms at 100,000 resources).
    """
    saved = db.execute(
        text("SELECT current_setting('random_page_cost'), set_config('random_page_cost', '1.1', true)")
    ).scalar_one()
    try:
        return db.execute(statement, values).all()
    finally:
        db.execute(text("SELECT set_config('random_page_cost', :v, true)"), {"v": saved})


def _sort_key(browse: bool, rank: int, name_len: int, published_at: Any, rid: int) -> tuple[Any, ...]:
    stamp = (published_at - _EPOCH).total_seconds() if isinstance(published_at, dt.datetime) else 0.0
    return (-stamp, -rid) if browse else (rank, name_len, -stamp, rid)


def search_rows(
    db: Session,
    *,
    parsed: ParsedQuery,
    filters: Filters,
    page: int,
    page_size: int,
    code_query: str | None,
) -> Rows:
    """Run the search statement and sort its rows into hits, facet counts and the total."""
    postgres = db.get_bind().dialect.name == "postgresql"
    terms = None if parsed.empty or code_query is not None else plan_terms(db, parsed)
    if terms is None and not parsed.empty and code_query is None:
        return Rows(facets={name: {} for name in FACETS})  # a word that no entry has
    sql, values = _statement(
        terms, parsed, filters, code_query, page=page, page_size=page_size, postgres=postgres
    )
    statement = text(sql).columns(*_RESULT_COLUMNS)
    rows = _run_cached_cost(db, statement, values) if postgres else db.execute(statement, values).all()
    browse = parsed.empty or code_query is not None
    out = Rows(facets={name: {} for name in FACETS})
    found: list[tuple[tuple[Any, ...], int, int]] = []
    for facet, value, _label, n, name_len, published_at in rows:
        if facet == "_hit":
            rid = int(value)
            found.append((_sort_key(browse, int(n), int(name_len), published_at, rid), rid, int(n)))
        elif facet == "_total":
            out.total = int(n)
        elif facet == "_packed":
            for name, choice in unpack_facets(int(value)).items():
                if choice is not None:
                    out.facets[name][choice] = (None, out.facets[name].get(choice, (None, 0))[1] + int(n))
        elif value is not None:
            out.facets[facet][str(value)] = (None, int(n))
    out.hits = [(rid, rank) for _, rid, rank in sorted(found)]
    _label_groups(db, out)
    return out


def _label_groups(db: Session, out: Rows) -> None:
    """Provider groups come back by department id: name them by code and current name; topics by name."""
    by_id = out.facets["provider"]
    if by_id:
        # All departments in one small read: the list is short, and one statement is cheaper than an IN.
        names = {
            str(i): (code, name)
            for i, code, name in db.execute(text("SELECT id, code, name FROM departments"))
        }
        out.facets["provider"] = {names[k][0]: (names[k][1], n) for k, (_, n) in by_id.items() if k in names}
    topics = out.facets["topic"]
    if topics:
        labels = {code: name for code, name in db.execute(text("SELECT code, name FROM catalog_topics"))}
        out.facets["topic"] = {code: (labels.get(code, code), n) for code, (_, n) in topics.items()}


__all__ = ["PACKED_FACETS", "Filters", "Rows", "match_sql", "plan_terms", "search_rows"]
