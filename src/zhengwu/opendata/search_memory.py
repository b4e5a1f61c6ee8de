"""``package_search`` over arrays held in process memory: matching, filtering, sorting and facet counts.

Why: in SQL (``search.search_run_sql``) every match cost the database an index probe for the facet
counts and another for the sort, so an English word found in one dataset in fifteen took 170–215 ms at
100,000 datasets, and browsing everything over a second. Here, as in the catalog's search, the kernel's
token-keyed cache (``zhengwu.search.memory``) holds per process and per index token:

- the docs table: dataset ids (sorted), normalised titles, creation and modification times in
  microseconds, and each sortable column's rank as the database orders it (``RANK() OVER``), so a sort
  here is the database's sort (collation included), loaded in one read when the token changes;
- posting lists of queried terms, as positions in the docs table (least recently used first out);
- per facet field, the facet values of every dataset as a compressed table (offsets by dataset).

A search is then a few passes over boolean masks (each ``fq`` clause and each word is a union of
intersections of posting lists), one packed integer sort key with a partial sort for the page, and one
``bincount`` per facet over the hits' values: exact counts whatever the number of hits. The page's
ready package dictionaries and the current token come back in one statement; if the token differs
from the one the arrays belong to, the search runs again on the current index, so no process serves
results older than the index it reads. Every index write replaces the token (``search.index_write``,
``search.index_remove``) in its own transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Integer, String, Text, bindparam, column, text
from sqlalchemy.orm import Session

from zhengwu.opendata.search import (
    PRIVATE_TERM,
    PUBLIC_TERM,
    Clause,
    Lookup,
    SearchOutcome,
    SearchPlan,
    Visibility,
    prefix_upper,
)
from zhengwu.search.arrays import count_codes, gather_ranges, intersect, pack_order, page, positions
from zhengwu.search.memory import (
    BoolArray,
    IntArray,
    Postings,
    TokenCache,
    build_postings,
    database_key,
    fetch_rows,
)

# At most this many postings (positions and weights, 9 bytes each) are held per process: about 36 MB.
POSTING_BUDGET = 4_000_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)
# From this many hits, titles holding the query are found by one scan of all titles, not hit by hit.
TITLE_SCAN_FROM = 2_000

_TERM_SQL = "SELECT dataset_id FROM opendata_search_terms WHERE term = {p} ORDER BY dataset_id"
_PREFIX_SQL = "SELECT dataset_id FROM opendata_search_terms WHERE term >= {p} AND term < {p}"
_FACET_SQL = (
    "SELECT term, dataset_id FROM opendata_search_terms WHERE term >= {p} AND term < {p} ORDER BY term"
)
_TOKEN_SQL = text("SELECT token FROM opendata_search_state WHERE id = 1")
# The page's package dictionaries and the current token in one round trip, with (when organization or
# groups are counted) the names their facet titles need. The docs come first: PostgreSQL types each
# column of a UNION from its first typed branch.
_PAGE_SQL = (
    "SELECT 'p' AS kind, dataset_id, package_json, NULL AS extra FROM opendata_search_docs "
    "WHERE dataset_id IN :ids UNION ALL SELECT 's', NULL, token, NULL FROM opendata_search_state WHERE id = 1"
)
_DEPARTMENTS_SQL = " UNION ALL SELECT 'd', id, code, name FROM departments"
_GROUPS_SQL = " UNION ALL SELECT 'g', NULL, name, title FROM opendata_groups"
_COLUMNS = (
    column("kind", String()),
    column("dataset_id", Integer()),
    column("body", Text()),
    column("extra", Text()),
)
_PAGES = {
    (departments, groups): text(
        _PAGE_SQL + (_DEPARTMENTS_SQL if departments else "") + (_GROUPS_SQL if groups else "")
    )
    .bindparams(bindparam("ids", expanding=True))
    .columns(*_COLUMNS)
    for departments in (False, True)
    for groups in (False, True)
}


@dataclass(frozen=True)
class DocTable:
    """The indexed datasets by position; ``ids`` sorted ascending."""

    ids: IntArray
    title_keys: tuple[str, ...]
    titles_joined: str  # the title keys joined by newlines (a normalised title holds none)
    title_starts: IntArray  # where each title key starts in ``titles_joined``
    created: IntArray  # microseconds since the epoch
    modified: IntArray
    ranks: dict[str, IntArray]  # sort column → rank as the database orders it (1-based, ties equal)

    @property
    def size(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class FacetTable:
    """One facet field's values of every dataset: entry ``k`` says that the dataset at position
    ``rows[k]`` has the value ``values[codes[k]]``; ``codes[offsets[i]:offsets[i + 1]]`` are the codes
    of the dataset at position ``i``. Codes follow the values' order, so equal counts sort by code."""

    offsets: IntArray
    rows: IntArray
    codes: IntArray
    values: tuple[str, ...]  # the facet term without its ``<field>=`` prefix, sorted


_CACHE: TokenCache[DocTable] = TokenCache(memo_budget=1_000)


def _micros(value: dt.datetime) -> int:
    return (value - EPOCH) // MICROSECOND


# Read through the driver's cursor (a few times faster than SQLAlchemy rows at 100,000 datasets). Times
# come as microseconds on PostgreSQL (EXTRACT gives an exact numeric) and as SQLAlchemy's stored text
# on SQLite; the text columns are ranked by the database, so a sort here is the database's sort.
_DOCS_SQL = """
SELECT dataset_id, title_key, {created}, {modified},
       RANK() OVER (ORDER BY name), RANK() OVER (ORDER BY title_key)
FROM opendata_search_docs ORDER BY dataset_id"""
# (EXTRACT returns an exact numeric since PostgreSQL 14.)
_PG_MICROS = "CAST(EXTRACT(EPOCH FROM {0}) * 1000000 AS BIGINT)"


def _sqlite_micros(value: object) -> int:
    stamp = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return _micros(stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC))


def _dense_rank(values: IntArray) -> IntArray:
    ranks: IntArray = np.unique(values, return_inverse=True)[1].astype(np.int64).reshape(-1) + 1
    return ranks


def _load_docs(db: Session) -> DocTable:
    if db.get_bind().dialect.name == "postgresql":
        sql = _DOCS_SQL.format(
            created=_PG_MICROS.format("metadata_created"), modified=_PG_MICROS.format("metadata_modified")
        )
        rows = fetch_rows(db, sql, ())
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in range(6)]
        created = np.array(cols[2], dtype=np.int64)
        modified = np.array(cols[3], dtype=np.int64)
    else:
        rows = fetch_rows(db, _DOCS_SQL.format(created="metadata_created", modified="metadata_modified"), ())
        cols = list(zip(*rows, strict=True)) if rows else [() for _ in range(6)]
        created = np.array([_sqlite_micros(v) for v in cols[2]], dtype=np.int64)
        modified = np.array([_sqlite_micros(v) for v in cols[3]], dtype=np.int64)
    titles = tuple(str(t) for t in cols[1])
    lengths = np.array([len(t) + 1 for t in titles], dtype=np.int64)
    return DocTable(
        ids=np.array(cols[0], dtype=np.int64),
        title_keys=titles,
        titles_joined="\n".join(titles),
        title_starts=np.cumsum(lengths) - lengths,
        created=created,
        modified=modified,
        ranks={
            "name": np.array(cols[4], dtype=np.int64),
            "title_key": np.array(cols[5], dtype=np.int64),
            # Times rank as their values order (ties equal), which is how the database sorts them.
            "metadata_created": _dense_rank(created),
            "metadata_modified": _dense_rank(modified),
        },
    )


@dataclass(frozen=True)
class IndexView:
    """The index as one search sees it: the database, the token and the docs table of that token."""

    db: Session
    where: str
    token: str
    docs: DocTable

    def postings(self, lookup: Lookup) -> Postings:
        """The docs positions having a term (``eq``) or any term with a prefix (``prefix``), cached."""
        kind, term = lookup
        params: tuple[str, ...]
        if kind == "prefix":
            sql, params = _PREFIX_SQL, (term, prefix_upper(term))
        else:
            sql, params = _TERM_SQL, (term,)

        def load() -> Postings:
            found = build_postings(fetch_rows(self.db, sql, params), prefix=kind == "prefix")
            pos, present = positions(self.docs.ids, found.ids)
            return Postings(pos, found.weights[present])

        return _CACHE.postings(self.where, self.token, lookup, load, budget=POSTING_BUDGET)

    def facet_table(self, name: str) -> FacetTable:
        """The facet values of every dataset for the field ``name``, cached per token."""
        key = ("facet", name)
        held: FacetTable | None = _CACHE.memo_get(self.where, self.token, key)
        if held is not None:
            return held
        low = f"{name}="
        rows = fetch_rows(self.db, _FACET_SQL, (low, prefix_upper(low)))  # in term order
        terms = [t for t, _ in rows]
        ids = np.fromiter((i for _, i in rows), dtype=np.int64, count=len(rows))
        starts = [0, *(k for k in range(1, len(terms)) if terms[k] != terms[k - 1])]
        distinct = [str(terms[k]) for k in starts] if terms else []
        codes = np.repeat(np.arange(len(distinct)), np.diff([*starts, len(terms)])).astype(np.int64)
        # Codes in the values' order as Python sorts them (the SQL path's tie-break), whatever the
        # database's collation.
        by_value = sorted(range(len(distinct)), key=distinct.__getitem__)
        remap = np.empty(len(distinct), dtype=np.int64)
        remap[by_value] = np.arange(len(distinct))
        codes = remap[codes] if len(codes) else codes
        terms_sorted = [distinct[k] for k in by_value]
        order = np.argsort(ids, kind="stable")
        ids, codes = ids[order], codes[order]
        docs = self.docs
        at = np.minimum(np.searchsorted(docs.ids, ids), max(docs.size - 1, 0))
        present = docs.ids[at] == ids if docs.size else np.zeros(len(ids), dtype=bool)
        at, codes = at[present], codes[present]
        table = FacetTable(
            offsets=np.searchsorted(at, np.arange(docs.size + 1)).astype(np.int64),
            rows=at.astype(np.int64),
            codes=codes,
            values=tuple(t[len(low) :] for t in terms_sorted),
        )
        _CACHE.memo_put(self.where, self.token, key, table)
        return table


def _view(db: Session, token: str | None = None) -> IndexView:
    where = database_key(db)
    if token is None:
        held = _CACHE.held(where)
        if held is not None:
            return IndexView(db, where, held[0], held[1])
        token = str(db.execute(_TOKEN_SQL).scalar() or "")
    docs = _CACHE.docs(where, token, lambda: _load_docs(db))
    return IndexView(db, where, token, docs)


# --- Matching ----------------------------------------------------------------------------------------


def _mask(view: IndexView, lookup: Lookup) -> BoolArray:
    if lookup == ("eq", PUBLIC_TERM):
        # Every indexed dataset is public or private: the public ones are the others.
        public: BoolArray = ~_mask(view, ("eq", PRIVATE_TERM))
        return public
    out = np.zeros(view.docs.size, dtype=bool)
    out[view.postings(lookup).ids] = True
    return out


def _clause_mask(view: IndexView, alternatives: list[tuple[Lookup, ...]]) -> BoolArray:
    """Datasets matching any of the conjunctions (each: every lookup, from the rarest list)."""
    out = np.zeros(view.docs.size, dtype=bool)
    for conj in alternatives:
        if len(conj) == 1:
            out |= _mask(view, conj[0])
            continue
        if any(lk == ("eq", PUBLIC_TERM) for lk in conj):
            both = np.ones(view.docs.size, dtype=bool)
            for lk in conj:
                both &= _mask(view, lk)
            out |= both
            continue
        lists = sorted((view.postings(lk) for lk in conj), key=lambda p: len(p.ids))
        ids, _ = intersect(lists)
        out[ids] = True
    return out


def _matched(view: IndexView, plan: SearchPlan, vis: Visibility) -> BoolArray:
    """The datasets the search finds, as a mask over the docs table (the same sets as the SQL path)."""
    positive = [c for c in plan.clauses if not c.negated]
    negative: list[Clause] = [c for c in plan.clauses if c.negated]
    private = _mask(view, ("eq", PRIVATE_TERM))
    own = np.zeros(view.docs.size, dtype=bool)
    for term in vis.org_terms:
        own |= _mask(view, ("eq", term))
    if positive:
        matched = _clause_mask(view, positive[0].alternatives)
        for clause in positive[1:]:
            matched &= _clause_mask(view, clause.alternatives)
        if not vis.all_private:
            matched &= ~(private & ~own)
    elif vis.all_private:
        matched = np.ones(view.docs.size, dtype=bool)
    else:
        matched = ~private | (private & own)
    for clause in negative:
        matched &= ~_clause_mask(view, clause.alternatives)
    docs = view.docs
    for r in plan.ranges:
        values = docs.modified if r.column == "metadata_modified" else docs.created
        inside = np.ones(docs.size, dtype=bool)
        if r.low is not None:
            inside &= values >= _micros(r.low)
        if r.high is not None:
            inside &= values <= _micros(r.high)
        matched &= ~inside if r.negated else inside
    return matched


# --- Ordering and facets -----------------------------------------------------------------------------


def _order(docs: DocTable, pos: IntArray, plan: SearchPlan) -> list[tuple[IntArray, int, bool]]:
    """The sort columns of the hits at ``pos``: (values, size, descending), most significant first."""
    columns: list[tuple[IntArray, int, bool]] = []
    for name, desc in plan.order:
        if name == "score":
            if plan.title_needle:
                columns.append((_title_hits(docs, pos, plan.title_needle), 2, desc))
        elif name == "dataset_id":
            columns.append((pos, docs.size, desc))
        else:
            columns.append((docs.ranks[name][pos], docs.size + 1, desc))
    columns.append((pos, docs.size, True))  # the SQL path's last key: dataset_id DESC
    return columns


def _title_hits(docs: DocTable, pos: IntArray, needle: str) -> IntArray:
    """1 where the title key of the doc at ``pos`` contains ``needle`` (the SQL path's ``LIKE``)."""
    if len(pos) < TITLE_SCAN_FROM:
        keys = docs.title_keys
        return np.fromiter((needle in keys[i] for i in pos), dtype=np.int64, count=len(pos))
    # Many hits: one C-speed scan of all titles instead of a Python test per hit.
    found: list[int] = []
    text, at = docs.titles_joined, docs.titles_joined.find(needle)
    while at >= 0:
        found.append(at)
        end = text.find("\n", at + len(needle))  # one hit per title is enough: on to the next title
        at = text.find(needle, end + 1) if end >= 0 else -1
    hit = np.zeros(docs.size, dtype=np.int64)
    if found:
        hit[np.searchsorted(docs.title_starts, np.array(found, dtype=np.int64), side="right") - 1] = 1
    picked: IntArray = hit[pos]
    return picked


def _page_positions(docs: DocTable, pos: IntArray, plan: SearchPlan) -> IntArray:
    if plan.rows <= 0 or plan.start >= len(pos):
        return np.empty(0, dtype=np.int64)
    columns = _order(docs, pos, plan)
    key = pack_order(columns)
    if key is not None:
        chosen = page(key, plan.start, plan.rows)
    else:
        # Too many columns to pack into one integer: a full sort by columns (np.lexsort: last is first).
        sortable = [(size - 1 - values) if desc else values for values, size, desc in columns]
        chosen = np.lexsort(sortable[::-1])[plan.start : plan.start + plan.rows]
    picked: IntArray = pos[chosen]
    return picked


def _facets(
    view: IndexView, matched: BoolArray, pos: IntArray, plan: SearchPlan
) -> dict[str, list[tuple[str, int]]]:
    """Exact counts per facet value of the hits, as ``search.split_facets`` orders and cuts them."""
    out: dict[str, list[tuple[str, int]]] = {}
    for name in plan.facet_fields:
        table = view.facet_table(name)
        if len(pos) * 8 < view.docs.size:
            codes = table.codes[gather_ranges(table.offsets, pos)]  # few hits: their slices
        else:
            codes = table.codes[matched[table.rows]]  # many: one pass over every entry
        counts = count_codes(codes, len(table.values))
        kept = np.flatnonzero(counts >= max(plan.facet_mincount, 1))
        kept = kept[np.lexsort((kept, -counts[kept]))]  # most frequent first, then by value
        if plan.facet_limit >= 0:
            kept = kept[: plan.facet_limit]
        out[name] = [(table.values[c], int(counts[c])) for c in kept]
    return out


def _compute(view: IndexView, plan: SearchPlan, vis: Visibility) -> tuple[int, list[int], dict[str, Any]]:
    docs = view.docs
    matched = _matched(view, plan, vis)
    pos = np.flatnonzero(matched).astype(np.int64)
    facets = _facets(view, matched, pos, plan)
    shown = _page_positions(docs, pos, plan)
    return len(pos), [int(i) for i in docs.ids[shown]], facets


def _read_page(db: Session, ids: list[int], plan: SearchPlan, outcome: SearchOutcome) -> str:
    """Fill in the page's packages (and the names for facet titles); returns the current token."""
    token = ""
    bodies: dict[int, str] = {}
    want_departments = "organization" in plan.facet_fields
    want_groups = "groups" in plan.facet_fields
    departments: list[tuple[int, str, str]] = []
    groups: dict[str, str] = {}
    for kind, row_id, body, extra in db.execute(_PAGES[(want_departments, want_groups)], {"ids": ids}):
        if kind == "p":
            bodies[int(row_id)] = str(body)
        elif kind == "s":
            token = str(body)
        elif kind == "d":
            departments.append((int(row_id), str(body), str(extra)))
        else:
            groups[str(body)] = str(extra)
    outcome.packages = [json.loads(bodies[i]) for i in ids if i in bodies]
    outcome.departments = departments if want_departments else None
    outcome.groups = groups if want_groups else None
    return token


def search_run(db: Session, plan: SearchPlan, vis: Visibility) -> SearchOutcome:
    """Run a parsed search over the in-memory index: the total, the page of package dictionaries in
    order and the facet counts, as ``search.search_run_sql`` gives them.

    The hits are computed from the index as this process last saw it; the read of the page returns
    the current token too, and when the index changed meanwhile the search runs again on the current
    index. A search whose terms are held is thus one round trip.
    """
    view = _view(db)
    for attempt in range(3):
        count, ids, facets = _compute(view, plan, vis)
        outcome = SearchOutcome(count=count, packages=[], facets=facets)
        token = _read_page(db, ids, plan, outcome)
        if token == view.token or attempt == 2:
            return outcome
        view = _view(db, token)
    raise AssertionError("unreachable")


def clear_cache() -> None:
    """Forget everything held (tests, or after restoring a database from a backup)."""
    _CACHE.clear()
