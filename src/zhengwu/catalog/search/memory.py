"""Index data held in process memory: the docs table and the posting lists of queried terms, as arrays.

Why: at 100,000 resources a broad word (“户籍”, in 44,000 entries) means tens of thousands of postings to
intersect, rank and count for the facets. Done in SQL that is a per-row cost of the database (about
0.5 µs per index entry on these machines, several times that under load) on every query; done over
numpy arrays it is a few vectorised passes (a millisecond for 44,000 hits), with exact counts.

What is held, per database:

- ``DocTable``: every indexed resource's facets, provider, topic, name key and its place in the two
  orders (search: newest first then id; browse: newest first then id descending), loaded in one read
  (about 0.2 s at 100,000 resources; a few MB).
- ``Postings``: a term's resource ids (sorted) with the term's best field weight, loaded on first use
  and kept in a least-recently-used cache bounded by the total number of postings (``POSTING_BUDGET``).
  Frequent terms are both the expensive ones to read and the ones queried over and over.

Both are keyed by the token of ``catalog_search_state``, which every index change replaces in its own
transaction (``indexing.touch_index``): a search reads the token first, so it never uses arrays older
than the index it sees, and a rolled-back change's (random) token never returns. Publications are rare
next to searches, so the docs table is reloaded seldom. The arrays are never modified once built, so
threads share them without locks; only the cache dictionaries are guarded. The cache, the posting lists
and the driver-cursor reads are the kernel's (``zhengwu.search.memory``, shared with the open data
portal's ``package_search``); what is catalog-specific here is the SQL and the docs table.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass

import numpy as np
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from zhengwu.search.memory import (
    IntArray,
    Postings,
    TokenCache,
    build_postings,
    database_key,
    fetch_rows,
)

# At most this many postings (9 bytes each: id and weight) are cached per process: about 36 MB.
POSTING_BUDGET = 4_000_000
# Document frequencies remembered (term → count) before the memo is emptied.
DF_BUDGET = 200_000

_DOCS_SQL = """
SELECT resource_id, name_key, provider_id, topic_code, classification, facet_key, name_len,
       ROW_NUMBER() OVER (ORDER BY published_at IS NULL, published_at DESC, resource_id) AS search_order,
       ROW_NUMBER() OVER (ORDER BY published_at IS NULL, published_at DESC, resource_id DESC) AS browse_order
FROM catalog_search_docs ORDER BY resource_id"""
_DF_SQL = "SELECT term, df FROM catalog_search_vocab WHERE term IN :terms AND df > 0"
_PREFIX_DF_SQL = "SELECT COALESCE(SUM(df), 0) FROM catalog_search_vocab WHERE term >= :lo AND term < :hi"
# The token and the facet labels in one round trip: the departments and topics are short lists.
_STATE_SQL = """
SELECT 's', token, NULL, NULL FROM catalog_search_state WHERE id = 1
UNION ALL SELECT 'd', CAST(id AS VARCHAR(20)), code, name FROM departments
UNION ALL SELECT 't', code, name, NULL FROM catalog_topics"""
# Read through the driver's own cursor (binary on PostgreSQL): a few times faster than through
# SQLAlchemy rows for tens of thousands of postings. ``{p}`` is the driver's placeholder.
_TERM_SQL = "SELECT resource_id, weight FROM catalog_search_terms WHERE term = {p} ORDER BY resource_id"
_PREFIX_SQL = "SELECT resource_id, weight FROM catalog_search_terms WHERE term >= {p} AND term < {p}"


@dataclass(frozen=True)
class DocTable:
    """The docs rows as arrays, by position; ``ids`` sorted ascending."""

    ids: IntArray
    facet_key: IntArray
    provider: IntArray  # index into ``providers``
    providers: tuple[int, ...]
    topic: IntArray  # index into ``topics``; 0 is “no topic”
    topics: tuple[str | None, ...]
    name_len: IntArray
    search_order: IntArray
    browse_order: IntArray
    name_keys: tuple[str, ...]  # sorted, with ``name_pos`` the position of each
    name_pos: IntArray
    classes: tuple[str, ...]  # sorted, with ``class_pos``
    class_pos: IntArray

    @property
    def size(self) -> int:
        return len(self.ids)

    def positions(self, ids: IntArray) -> IntArray:
        """Positions of the given (sorted) resource ids; ids without a docs row are dropped."""
        if not len(self.ids) or not len(ids):
            return np.empty(0, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, len(self.ids) - 1)
        found: IntArray = pos[self.ids[pos] == ids]
        return found

    def name_range(self, lo: str, hi: str) -> IntArray:
        """Positions of the docs whose name key is in [lo, hi)."""
        start, end = bisect.bisect_left(self.name_keys, lo), bisect.bisect_left(self.name_keys, hi)
        return self.name_pos[start:end]

    def class_range(self, lo: str, hi: str) -> IntArray:
        """Positions of the docs whose classification is in [lo, hi)."""
        start, end = bisect.bisect_left(self.classes, lo), bisect.bisect_left(self.classes, hi)
        return self.class_pos[start:end]


def _build_docs(rows: list[tuple[object, ...]]) -> DocTable:
    count = len(rows)
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in range(9)]
    ids, name_keys, provider_ids, topic_codes, classes, facet_keys, name_lens, s_order, b_order = cols
    providers = tuple(sorted({int(p) for p in provider_ids}))
    provider_index = {p: i for i, p in enumerate(providers)}
    topics: tuple[str | None, ...] = (None, *sorted({str(t) for t in topic_codes if t is not None}))
    topic_index = {t: i for i, t in enumerate(topics)}
    keys = [str(k) for k in name_keys]
    name_order = sorted(range(count), key=keys.__getitem__)
    class_list = [str(c or "") for c in classes]
    class_order = sorted(range(count), key=class_list.__getitem__)
    return DocTable(
        ids=np.array(ids, dtype=np.int64),
        facet_key=np.array(facet_keys, dtype=np.int64),
        provider=np.array([provider_index[int(p)] for p in provider_ids], dtype=np.int64),
        providers=providers,
        topic=np.array([topic_index[None if t is None else str(t)] for t in topic_codes], dtype=np.int64),
        topics=topics,
        name_len=np.array(name_lens, dtype=np.int64),
        search_order=np.array(s_order, dtype=np.int64),
        browse_order=np.array(b_order, dtype=np.int64),
        name_keys=tuple(keys[i] for i in name_order),
        name_pos=np.array(name_order, dtype=np.int64),
        classes=tuple(class_list[i] for i in class_order),
        class_pos=np.array(class_order, dtype=np.int64),
    )


@dataclass(frozen=True)
class Labels:
    """Current names for facet values, read with the token: departments by id, topics by code."""

    departments: dict[str, tuple[str, str]]
    topics: dict[str, str]


# The docs table and posting lists (the kernel's token-keyed cache), and the facet labels last read.
_CACHE: TokenCache[DocTable] = TokenCache(DF_BUDGET)
_LABELS: dict[str, Labels] = {}
_LABELS_LOCK = threading.Lock()


@dataclass(frozen=True)
class IndexView:
    """The index as one search sees it: the database, its token, its docs table, facet labels."""

    db: Session
    where: str
    token: str
    docs: DocTable
    labels: Labels

    def document_frequencies(self, terms: list[str], *, prefix: bool = False) -> dict[str, int]:
        """How many resources have each term (a prefix: the sum over its terms), from the vocabulary;
        remembered per token. Terms no resource has are left out."""
        out: dict[str, int] = {}
        missing: list[str] = []
        for term in terms:
            n = _CACHE.memo_get(self.where, self.token, ("df", term, prefix))
            if n is None:
                missing.append(term)
            elif n:
                out[term] = n
        found: dict[str, int] = {}
        if missing and prefix:
            for term in missing:
                upper = term[:-1] + chr(ord(term[-1]) + 1)
                found[term] = int(
                    self.db.execute(text(_PREFIX_DF_SQL), {"lo": term, "hi": upper}).scalar() or 0
                )
        elif missing:
            query = text(_DF_SQL).bindparams(bindparam("terms", expanding=True))
            found = {t: 0 for t in missing} | {
                t: int(n) for t, n in self.db.execute(query, {"terms": missing})
            }
        for term, n in found.items():
            _CACHE.memo_put(self.where, self.token, ("df", term, prefix), n)
        out.update((t, n) for t, n in found.items() if n)
        return out

    def postings(self, term: str, *, prefix: bool = False, upper: str = "") -> Postings:
        """A term's postings (or those of every term in [term, upper) when ``prefix``), cached."""
        sql, params = (_PREFIX_SQL, (term, upper)) if prefix else (_TERM_SQL, (term,))
        return _CACHE.postings(
            self.where,
            self.token,
            (term, prefix),
            lambda: build_postings(fetch_rows(self.db, sql, params), prefix=prefix),
            budget=POSTING_BUDGET,
        )


def read_state(db: Session) -> tuple[str, Labels]:
    """The index token and the current facet labels, in one read."""
    token = ""
    departments: dict[str, tuple[str, str]] = {}
    topics: dict[str, str] = {}
    for kind, key, first, second in db.execute(text(_STATE_SQL)):
        if kind == "s":
            token = str(key)
        elif kind == "d":
            departments[str(key)] = (str(first), str(second))
        else:
            topics[str(key)] = str(first)
    return token, Labels(departments, topics)


def held_view(db: Session) -> IndexView:
    """The index as this process last saw it for ``db``'s database, without asking the database (the
    caller checks the token afterwards, in the same read as the page of hits); read afresh when nothing
    is held yet."""
    where = database_key(db)
    held = _CACHE.held(where)
    with _LABELS_LOCK:
        labels = _LABELS.get(where)
    if held is None or labels is None:
        return index_view(db)
    return IndexView(db, where, held[0], held[1], labels)


def index_view(db: Session, state: tuple[str, Labels] | None = None) -> IndexView:
    """The current index of ``db``'s database (``state`` as just read, or read now): the docs table is
    loaded again when the token changed."""
    where = database_key(db)
    token, labels = state if state is not None else read_state(db)
    with _LABELS_LOCK:
        _LABELS[where] = labels
    docs = _CACHE.docs(where, token, lambda: _build_docs(fetch_rows(db, _DOCS_SQL, ())))
    return IndexView(db, where, token, docs, labels)


def clear_cache() -> None:
    """Forget everything held (tests, or after restoring a database from a backup)."""
    _CACHE.clear()
    with _LABELS_LOCK:
        _LABELS.clear()
