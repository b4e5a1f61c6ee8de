"""The SQL of one search: matching rows, their rank, the page of hits and the facet counts in one statement.

Matching reads postings only: each term is one range of the ``catalog_search_terms`` key; a word's ways
of being spelt combine with UNION, the words with INTERSECT. The matching docs rows go into a
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

from sqlalchemy import Integer, String, column, text
from sqlalchemy.orm import Session

from zhengwu.catalog.search.indexing import PACKED_FACETS, unpack_facets
from zhengwu.catalog.search.tokens import W_ELEMENT, W_NAME, W_SUMMARY, ParsedQuery
from zhengwu.db import UTCDateTime

FILTER_COLUMNS = {
    "provider": "provider_code",
    "category": "category",
    "topic": "topic_code",
    "share_type": "share_type",
    "open_type": "open_type",
    "delivery": "delivery",
    "update_frequency": "update_frequency",
}
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


def _nest(parts: list[str], op: str) -> str:
    # SQLite refuses a parenthesised compound inside another one: each operand is a plain SELECT.
    if len(parts) == 1:
        return parts[0]
    return f"SELECT resource_id FROM ({f' {op} '.join(parts)}) AS c"  # noqa: S608 - see module doc


def match_sql(parsed: ParsedQuery, max_weight: int, params: _Params) -> str:
    """A SELECT of the resource ids matching every word of ``parsed`` in fields up to ``max_weight``."""
    weight = f" AND weight <= {params.add(max_weight)}" if max_weight < W_ELEMENT else ""
    words: list[str] = []
    for word in parsed.words:
        alternatives: list[str] = []
        for alternative in word:
            terms: list[str] = []
            for term in alternative:
                if term.prefix:
                    upper = term.text[:-1] + chr(ord(term.text[-1]) + 1)
                    cond = f"term >= {params.add(term.text)} AND term < {params.add(upper)}"
                else:
                    cond = f"term = {params.add(term.text)}"
                terms.append(f"SELECT resource_id FROM catalog_search_terms WHERE {cond}{weight}")  # noqa: S608
            alternatives.append(_nest(terms, "INTERSECT"))
        words.append(_nest(alternatives, "UNION"))
    return _nest(words, "INTERSECT")


def _where(filters: Filters, params: _Params) -> list[str]:
    clauses: list[str] = []
    for name, col in FILTER_COLUMNS.items():
        values = filters.values.get(name)
        if values:
            clauses.append(f"d.{col} IN ({', '.join(params.add(v) for v in values)})")
    if filters.classification:
        prefix = filters.classification
        clauses.append(f"substr(d.classification, 1, {params.add(len(prefix))}) = {params.add(prefix)}")
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
    parsed: ParsedQuery,
    filters: Filters,
    code_query: str | None,
    *,
    page: int,
    page_size: int,
    postgres: bool,
) -> tuple[str, dict[str, Any]]:
    params = _Params()
    clauses = _where(filters, params)
    browse = parsed.empty or code_query is not None
    if code_query is not None:
        clauses.append(f"d.code = {params.add(code_query)}")
        rank = "0"
    elif parsed.empty:
        rank = str(RANK_BROWSE)
    else:
        key = params.add(parsed.key)
        rank = (
            f"CASE WHEN d.name_key = {key} THEN 0 "
            f"WHEN substr(d.name_key, 1, {params.add(len(parsed.key))}) = {key} THEN 1 "
            f"WHEN d.resource_id IN ({match_sql(parsed, W_NAME, params)}) THEN 2 "
            f"WHEN d.resource_id IN ({match_sql(parsed, W_SUMMARY, params)}) THEN 3 ELSE 4 END"
        )
        clauses.append(f"d.resource_id IN ({match_sql(parsed, W_ELEMENT, params)})")
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    order = (
        "published_at DESC, resource_id DESC" if browse else "rank, name_len, published_at DESC, resource_id"
    )
    # Identifiers and placeholders only are formatted in; every value is a bound parameter.
    limit, offset = params.add(page_size), params.add((page - 1) * page_size)
    cols = f"d.resource_id, d.name_len, d.published_at, d.facet_key, d.provider_id, d.topic_code, {rank}"
    matched = f"SELECT {cols} AS rank FROM catalog_search_docs AS d{where}"  # noqa: S608
    page_cols = "resource_id, rank, name_len, published_at"
    page_sql = f"SELECT {page_cols} FROM m ORDER BY {order} LIMIT {limit} OFFSET {offset}"  # noqa: S608
    hit_cols = (
        "'_hit', CAST(p.resource_id AS VARCHAR), CAST(NULL AS VARCHAR), p.rank, p.name_len, p.published_at"
    )
    hits = f"SELECT {hit_cols} FROM ({page_sql}) AS p"  # noqa: S608
    counts = _COUNTS_POSTGRES if postgres else _COUNTS_GENERIC
    sql = f"WITH m AS MATERIALIZED ({matched}) {hits} UNION ALL {counts}"
    return sql, params.values


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
    sql, values = _statement(parsed, filters, code_query, page=page, page_size=page_size, postgres=postgres)
    rows = db.execute(text(sql).columns(*_RESULT_COLUMNS), values).all()
    browse = parsed.empty or code_query is not None
    out = Rows(facets={name: {} for name in FILTER_COLUMNS})
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


__all__ = ["PACKED_FACETS", "Filters", "Rows", "match_sql", "search_rows"]
