"""One search over the index: its terms, matching, filtering, ranking, the page of hits and facet counts.

``plan_terms`` asks the vocabulary which spelling of each word occurs and how often (one small read).
Everything else runs over the arrays of ``memory.py``: the rarest term's sorted resource ids, narrowed by
a binary search in each other term's; the filters and the rank as vectorised passes over the docs
table; the page by a partial sort of one packed integer key (rank, name length, then newest first);
each facet counted with one ``bincount`` over the hits. Counts are exact, whatever the number of hits.

Before this, one SQL statement matched, ranked and counted (a materialised CTE of the hits with GROUPING
SETS); at 100,000 resources a broad word cost 100–200 ms of per-row database work on every query (see
docs/benchmarks.md, “Catalog search”).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import BigInteger, Integer, String, bindparam, column, text
from sqlalchemy.orm import Session

from zhengwu.catalog.search.indexing import PACKED_FACETS, facet_digit
from zhengwu.catalog.search.memory import DocTable, IndexView, Labels, held_view, index_view
from zhengwu.catalog.search.tokens import ParsedQuery, Term
from zhengwu.db import UTCDateTime
from zhengwu.search.arrays import count_codes, intersect
from zhengwu.search.arrays import page as page_of
from zhengwu.search.arrays import positions as id_positions
from zhengwu.search.memory import IntArray

BoolArray = npt.NDArray[np.bool_]

FACETS = ("provider", "category", "topic", "share_type", "open_type", "delivery", "update_frequency")
RANK_BROWSE = 5


@dataclass(frozen=True)
class Filters:
    """Facet filter values by facet name (several values of one facet: any of them), and a
    classification prefix."""

    values: dict[str, tuple[str, ...]]
    classification: str = ""


@dataclass
class Rows:
    """What a search found: hits (resource id, rank) in page order, facet counts
    as facet → value → (label or None, count), and the total."""

    hits: list[tuple[int, int]] = field(default_factory=list)
    facets: dict[str, dict[str, tuple[str | None, int]]] = field(default_factory=dict)
    total: int = 0
    pages: dict[int, PageDoc] = field(default_factory=dict)


@dataclass(frozen=True)
class PageDoc:
    """What the page shows of one hit: the resource and its snapshot in force (what was indexed)."""

    code: str
    published_version: int
    published_at: dt.datetime | None
    provider_code: str
    provider_name: str
    snapshot: dict[str, Any]


def _upper(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def plan_terms(view: IndexView, parsed: ParsedQuery) -> list[tuple[Term, int]] | None:
    """The terms the query needs, each with its document frequency, rarest first; None if some word
    cannot match at all (then nothing needs to be run).

    Per word, the first spelling whose terms all occur in the index is used (see ``tokens._cjk_word``).
    """
    exact = sorted({t.text for word in parsed.words for alt in word for t in alt if not t.prefix})
    prefixes = sorted({t.text for word in parsed.words for alt in word for t in alt if t.prefix})
    df = view.document_frequencies(exact) if exact else {}
    prefix_df = view.document_frequencies(prefixes, prefix=True) if prefixes else {}
    chosen: dict[Term, int] = {}
    for word in parsed.words:
        for alternative in word:
            counts = [(prefix_df if t.prefix else df).get(t.text, 0) for t in alternative]
            if all(counts):
                chosen.update(zip(alternative, counts, strict=True))
                break
        else:
            return None
    return sorted(chosen.items(), key=lambda item: item[1])


def _match(view: IndexView, terms: list[tuple[Term, int]]) -> tuple[IntArray, IntArray]:
    """Docs positions of the resources having every term, and the worst of the terms' best-field weights.

    From the rarest term's postings, each other term's sorted ids are searched for the candidates that
    remain, so the work follows the rarest term (“信息” is in almost every name).
    """
    lists = (
        view.postings(term.text, prefix=term.prefix, upper=_upper(term.text) if term.prefix else "")
        for term, _ in terms
    )
    ids, worst = intersect(lists)
    pos, present = id_positions(view.docs.ids, ids)
    return pos, worst[present]


def _filter_mask(labels: Labels, docs: DocTable, pos: IntArray, filters: Filters) -> BoolArray | None:
    """Which of the docs at ``pos`` pass the filters (None: no filter)."""
    mask: BoolArray | None = None

    def both(more: BoolArray) -> None:
        nonlocal mask
        mask = more if mask is None else mask & more

    for name, values in filters.values.items():
        if not values:
            continue
        if name == "provider":
            wanted = {int(i) for i, (code, _) in labels.departments.items() if code in values}
            index = [i for i, p in enumerate(docs.providers) if p in wanted]
            both(np.isin(docs.provider[pos], index))
        elif name == "topic":
            index = [i for i, t in enumerate(docs.topics) if t is not None and t in values]
            both(np.isin(docs.topic[pos], index))
        else:
            divisor, modulus, digits = facet_digit(name)
            wanted_digits = [digits[v] for v in values if v in digits]
            both(np.isin((docs.facet_key[pos] // divisor) % modulus, wanted_digits))
    if filters.classification:
        prefix = filters.classification
        inside = np.zeros(docs.size, dtype=bool)
        inside[docs.class_range(prefix, _upper(prefix))] = True
        both(inside[pos])
    return mask


def _rank(docs: DocTable, pos: IntArray, worst: IntArray, key: str) -> IntArray:
    """Rank of each hit: 0 exact name, 1 name prefix, 2 every word in the name, 3 in name, keywords,
    topic, provider or summary, 4 only through data elements."""
    rank = np.where(worst == 1, 2, np.where(worst <= 3, 3, 4)).astype(np.int64)
    prefix = np.zeros(docs.size, dtype=bool)
    prefix[docs.name_range(key, _upper(key))] = True
    rank[prefix[pos]] = 1
    exact = np.zeros(docs.size, dtype=bool)
    exact[docs.name_range(key, key + "\x00")] = True
    rank[exact[pos]] = 0
    return rank


def _page(order_key: IntArray, page: int, page_size: int) -> IntArray:
    """Indices into ``order_key`` of the requested page, in order: a partial sort of the first pages."""
    return page_of(order_key, (page - 1) * page_size, page_size)


def _counts(docs: DocTable, pos: IntArray, out: Rows) -> None:
    """Facet counts of the hits at ``pos``: one bincount per facet (the five small ones from the
    counts of their packed keys)."""
    packed = np.bincount(docs.facet_key[pos]) if len(pos) else np.zeros(1, dtype=np.int64)
    keys = np.flatnonzero(packed)
    for name, choices in PACKED_FACETS:
        divisor, modulus, _ = facet_digit(name)
        per = np.bincount((keys // divisor) % modulus, weights=packed[keys], minlength=modulus)
        for digit in np.flatnonzero(per[1:]) + 1:
            out.facets[name][choices[digit - 1]] = (None, int(per[digit]))
    providers = count_codes(docs.provider[pos], len(docs.providers))
    for i in np.flatnonzero(providers):
        out.facets["provider"][str(docs.providers[i])] = (None, int(providers[i]))
    topics = count_codes(docs.topic[pos], len(docs.topics))
    for i in np.flatnonzero(topics[1:]) + 1:
        out.facets["topic"][str(docs.topics[i])] = (None, int(topics[i]))


def _compute(
    view: IndexView,
    *,
    parsed: ParsedQuery,
    filters: Filters,
    page: int,
    page_size: int,
    code_query: str | None,
) -> Rows:
    docs = view.docs
    out = Rows(facets={name: {} for name in FACETS})
    browse = parsed.empty or code_query is not None
    if code_query is not None:
        found = view.db.execute(text("SELECT id FROM catalog_resources WHERE code = :c"), {"c": code_query})
        pos = docs.positions(np.array(sorted(int(i) for (i,) in found), dtype=np.int64))
        rank = np.zeros(len(pos), dtype=np.int64)
    elif parsed.empty:
        pos = np.arange(docs.size, dtype=np.int64)
        rank = np.full(len(pos), RANK_BROWSE, dtype=np.int64)
    else:
        terms = plan_terms(view, parsed)
        if terms is None:
            return out  # a word that no entry has
        pos, worst = _match(view, terms)
        rank = _rank(docs, pos, worst, parsed.key)
    mask = _filter_mask(view.labels, docs, pos, filters)
    if mask is not None:
        pos, rank = pos[mask], rank[mask]
    out.total = len(pos)
    _counts(docs, pos, out)
    if browse:
        order_key = docs.browse_order[pos]
    else:
        # rank, then shorter names, then newest first and id (search_order), packed into one integer.
        order_key = (rank << 48) | (np.minimum(docs.name_len[pos], 0xFFFF) << 32) | docs.search_order[pos]
    shown = _page(order_key, page, page_size)
    out.hits = [(int(docs.ids[pos[i]]), int(rank[i])) for i in shown]
    return out


# The page's resources with their snapshot in force, and (to check what the hits were computed from)
# the index token and the facet labels: one round trip, which matters most when the machine is busy.
_PAGE_SQL = """
SELECT 'r', CAST(r.id AS VARCHAR(20)), r.code, CAST(v.snapshot AS TEXT), r.published_version,
       r.provider_id, r.published_at
FROM catalog_resources AS r
JOIN catalog_resource_versions AS v ON v.resource_id = r.id AND v.version = r.published_version
WHERE r.id IN :ids
UNION ALL SELECT 's', token, NULL, NULL, NULL, NULL, NULL FROM catalog_search_state WHERE id = 1
UNION ALL SELECT 'd', CAST(id AS VARCHAR(20)), code, name, NULL, NULL, NULL FROM departments
UNION ALL SELECT 't', code, name, NULL, NULL, NULL, NULL FROM catalog_topics"""
# (The resources come first: PostgreSQL types each column of a UNION from its first typed branch.)
_PAGE = (
    text(_PAGE_SQL)
    .bindparams(bindparam("ids", expanding=True))
    .columns(
        column("kind", String()),
        column("k", String()),
        column("a", String()),
        column("b", String()),
        column("version", Integer()),
        column("provider_id", BigInteger()),
        column("published_at", UTCDateTime()),
    )
)


def _read_page(db: Session, ids: list[int]) -> tuple[str, Labels, dict[int, PageDoc]]:
    token = ""
    departments: dict[str, tuple[str, str]] = {}
    topics: dict[str, str] = {}
    found: list[tuple[int, str, str, int, int, dt.datetime | None]] = []
    for kind, key, first, second, version, provider_id, published_at in db.execute(_PAGE, {"ids": ids}):
        if kind == "s":
            token = str(key)
        elif kind == "d":
            departments[str(key)] = (str(first), str(second))
        elif kind == "t":
            topics[str(key)] = str(first)
        else:
            found.append((int(key), str(first), str(second), int(version), int(provider_id), published_at))
    pages: dict[int, PageDoc] = {}
    for rid, code, snapshot, version, provider_id, published_at in found:
        provider = departments.get(str(provider_id), ("", ""))
        snap = json.loads(snapshot) if snapshot else {}
        pages[rid] = PageDoc(code, version, published_at, provider[0], provider[1], snap)
    return token, Labels(departments, topics), pages


def _provider_ids(labels: Labels, filters: Filters) -> set[str]:
    codes = filters.values.get("provider", ())
    return {i for i, (code, _) in labels.departments.items() if code in codes} if codes else set()


def search_rows(
    db: Session,
    *,
    parsed: ParsedQuery,
    filters: Filters,
    page: int,
    page_size: int,
    code_query: str | None,
) -> Rows:
    """Match, filter, rank and count over the in-memory index (see ``memory.py``): the page of hits in
    order with their snapshots, exact facet counts and the total.

    The hits are computed from the index as this process last saw it, and the read of the page's rows
    returns the current token too: when the index changed meanwhile (or a filtered department did), the
    search runs again on the current index. A search is thus one round trip when nothing changed.
    """
    view = held_view(db)
    for attempt in range(3):
        out = _compute(
            view, parsed=parsed, filters=filters, page=page, page_size=page_size, code_query=code_query
        )
        token, labels, pages = _read_page(db, [rid for rid, _ in out.hits])
        current = token == view.token and _provider_ids(labels, filters) == _provider_ids(
            view.labels, filters
        )
        view = index_view(db, (token, labels))
        if current or attempt == 2:
            out.pages = pages
            _label_groups(labels, out)
            return out
    raise AssertionError("unreachable")


def _label_groups(labels: Labels, out: Rows) -> None:
    """Provider groups come back by department id: name them by code and current name; topics by name."""
    by_id = out.facets["provider"]
    names = labels.departments
    out.facets["provider"] = {names[k][0]: (names[k][1], n) for k, (_, n) in by_id.items() if k in names}
    topics = out.facets["topic"]
    out.facets["topic"] = {code: (labels.topics.get(code, code), n) for code, (_, n) in topics.items()}


__all__ = ["PACKED_FACETS", "Filters", "PageDoc", "Rows", "plan_terms", "search_rows"]
