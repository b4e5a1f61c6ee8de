"""Index data held in process memory, keyed by an index token that every index write replaces.

Why: matching, ranking and facet counting in SQL cost the database a per-row amount of work (about
0.5 µs per index entry, several times that under load) on every query; over numpy arrays held by the
process they are a few vectorised passes. What makes that safe is the token: each domain keeps a
one-row state table (``catalog_search_state``, ``opendata_search_state``) whose random token is
replaced by :func:`touch_token` in the transaction of every index change. A search reads the token
(first, or together with its page of hits) and never uses arrays built under another token; a rolled
back change's random token never returns.

:class:`TokenCache` holds, per database, the domain's document table of the latest token, a
least-recently-used cache of posting lists bounded by a number of postings, and a memo of small
per-token values (document frequencies, facet tables). Cached objects are never modified once built,
so threads share them without locks; only the cache's dictionaries are guarded.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.orm import Session

IntArray = npt.NDArray[np.int64]
SmallArray = npt.NDArray[np.int8]
BoolArray = npt.NDArray[np.bool_]

DocsT = TypeVar("DocsT")


@dataclass(frozen=True)
class Postings:
    """A term's (or a prefix's) document ids, sorted and distinct, with a small weight each (0 when
    the index keeps none)."""

    ids: IntArray
    weights: SmallArray


EMPTY_POSTINGS = Postings(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int8))


def build_postings(rows: list[tuple[Any, ...]], *, prefix: bool) -> Postings:
    """Postings from rows of ``(id, weight)`` or ``(id,)`` sorted by id. For a prefix several terms of
    one document can match: one entry per document is kept, with its best (lowest) weight."""
    if not rows:
        return EMPTY_POSTINGS
    width = len(rows[0])
    pairs = np.array(rows, dtype=np.int64).reshape(-1, width)
    ids = pairs[:, 0].copy()
    weights = pairs[:, 1].astype(np.int8) if width > 1 else np.zeros(len(ids), dtype=np.int8)
    if prefix:
        order = np.lexsort((weights, ids))
        ids, weights = ids[order], weights[order]
        first = np.concatenate(([True], ids[1:] != ids[:-1]))
        ids, weights = ids[first], weights[first]
    return Postings(ids, weights)


def fetch_rows(db: Session, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
    """All rows of ``sql`` (``{p}`` marks each parameter) through the driver's own cursor, in the
    session's transaction: a few times faster than SQLAlchemy rows for tens of thousands of postings
    (binary transfer on PostgreSQL)."""
    raw = db.connection().connection.driver_connection
    if db.get_bind().dialect.name == "postgresql":
        with raw.cursor(binary=True) as cur:  # type: ignore[union-attr]
            cur.execute(sql.format(p="%s"), params)
            return list(cur.fetchall())
    return list(raw.execute(sql.format(p="?"), params).fetchall())  # type: ignore[union-attr]


def database_key(db: Session) -> str:
    """Which database ``db`` reads (the cache holds one set of arrays per database)."""
    return db.get_bind().engine.url.render_as_string(hide_password=True)


def touch_token(db: Session, table: str) -> None:
    """Record that an index changed: a new random token in ``table`` (row id 1), in the caller's
    transaction. ``table`` is a fixed name from the calling domain, never input."""
    token = {"token": secrets.token_hex(16)}
    if db.execute(text(f"UPDATE {table} SET token = :token WHERE id = 1"), token).rowcount == 0:  # type: ignore[attr-defined]  # noqa: S608
        db.execute(text(f"INSERT INTO {table} (id, token) VALUES (1, :token)"), token)  # noqa: S608


class TokenCache(Generic[DocsT]):
    """Per database: the document table of the latest token, an LRU of posting lists and a memo."""

    def __init__(self, memo_budget: int = 200_000) -> None:
        self.lock = threading.Lock()
        self.memo_budget = memo_budget
        self._docs: dict[str, tuple[str, DocsT]] = {}
        self._postings: OrderedDict[tuple[str, str, Hashable], Postings] = OrderedDict()
        self._size = 0
        self._memo: dict[tuple[str, str, Hashable], Any] = {}

    def held(self, where: str) -> tuple[str, DocsT] | None:
        """The token and document table last loaded for ``where``, if any."""
        with self.lock:
            return self._docs.get(where)

    def docs(self, where: str, token: str, load: Callable[[], DocsT]) -> DocsT:
        """The document table of ``token``: the held one, or ``load()`` (then everything held under an
        older token of that database is dropped)."""
        with self.lock:
            held = self._docs.get(where)
        if held is not None and held[0] == token:
            return held[1]
        docs = load()
        with self.lock:
            self._docs[where] = (token, docs)
            for key in [k for k in self._postings if k[0] == where and k[1] != token]:
                self._size -= len(self._postings.pop(key).ids)
            for key in [k for k in self._memo if k[0] == where and k[1] != token]:
                del self._memo[key]
        return docs

    def postings(
        self, where: str, token: str, key: Hashable, load: Callable[[], Postings], *, budget: int
    ) -> Postings:
        """A posting list, from the cache or ``load()``; at most ``budget`` postings stay held (a list
        larger than a quarter of the budget is not held at all)."""
        full = (where, token, key)
        with self.lock:
            found = self._postings.get(full)
            if found is not None:
                self._postings.move_to_end(full)
                return found
        postings = load()
        with self.lock:
            if full not in self._postings and len(postings.ids) <= budget // 4:
                self._postings[full] = postings
                self._size += len(postings.ids)
                while self._size > budget and self._postings:
                    _, old = self._postings.popitem(last=False)
                    self._size -= len(old.ids)
        return postings

    def memo_get(self, where: str, token: str, key: Hashable) -> Any | None:
        """A remembered per-token value, or None."""
        with self.lock:
            return self._memo.get((where, token, key))

    def memo_put(self, where: str, token: str, key: Hashable, value: Any) -> None:
        """Remember a per-token value (the memo is emptied when it outgrows its budget)."""
        with self.lock:
            if len(self._memo) > self.memo_budget:
                self._memo.clear()
            self._memo[(where, token, key)] = value

    def clear(self) -> None:
        """Forget everything held."""
        with self.lock:
            self._docs.clear()
            self._postings.clear()
            self._size = 0
            self._memo.clear()
