"""Vectorised steps of a search over in-memory index arrays (numpy), shared by every domain's search.

- :func:`intersect`: documents having every term, walking from the rarest list and narrowing the
  candidates by binary search in each next list, so the work follows the rarest term.
- :func:`positions`: where sorted document ids sit in a sorted id table.
- :func:`gather_ranges`: the flat indices of several ``offsets[i]:offsets[i+1]`` slices of a
  compressed (CSR) table, e.g. the facet values of the hits.
- :func:`pack_order` and :func:`page`: a sort key of several integer columns packed into one integer,
  then only the requested page sorted after a partial sort (``argpartition``).
- :func:`count_codes`: counts per value code with one ``bincount``: exact facet counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from zhengwu.search.memory import IntArray, Postings

_EMPTY = np.empty(0, dtype=np.int64)


def intersect(lists: Iterable[Postings]) -> tuple[IntArray, IntArray]:
    """Ids present in every posting list and, per id, the highest of its weights across the lists.

    Give the lists rarest first (``lists`` may be lazy: once nothing is left, the rest are not read).
    No list at all gives nothing.
    """
    ids: IntArray | None = None
    worst: IntArray = _EMPTY
    for postings in lists:
        if ids is None:
            ids, worst = postings.ids, postings.weights.astype(np.int64)
            continue
        if not len(ids) or not len(postings.ids):
            return _EMPTY, worst[:0]
        at = np.minimum(np.searchsorted(postings.ids, ids), len(postings.ids) - 1)
        found = postings.ids[at] == ids
        ids = ids[found]
        worst = np.maximum(worst[found], postings.weights[at[found]])
    if ids is None:
        return _EMPTY, worst
    return ids, worst


def positions(table_ids: IntArray, ids: IntArray) -> tuple[IntArray, IntArray]:
    """Positions in ``table_ids`` (sorted) of the sorted ``ids`` that it holds, and which of ``ids``
    those are (a boolean mask over ``ids``)."""
    if not len(table_ids) or not len(ids):
        return _EMPTY, np.zeros(len(ids), dtype=bool)
    pos = np.minimum(np.searchsorted(table_ids, ids), len(table_ids) - 1)
    present = table_ids[pos] == ids
    return pos[present], present


def gather_ranges(offsets: IntArray, rows: IntArray) -> IntArray:
    """Indices ``offsets[r]:offsets[r + 1]`` of every row ``r`` of ``rows``, concatenated."""
    starts = offsets[rows]
    lengths = offsets[rows + 1] - starts
    total = int(lengths.sum())
    if not total:
        return _EMPTY
    # Each index is its slice's start plus its rank inside the slice.
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    out: IntArray = shift + np.arange(total, dtype=np.int64)
    return out


def count_codes(codes: IntArray, size: int) -> IntArray:
    """How many times each code in ``range(size)`` occurs."""
    counts: IntArray = np.bincount(codes, minlength=size) if len(codes) else np.zeros(size, dtype=np.int64)
    return counts


def pack_order(columns: Sequence[tuple[IntArray, int, bool]]) -> IntArray | None:
    """One int64 sort key from integer columns ``(values in range(size), size, descending)``, the first
    column most significant; None when the sizes do not fit in 63 bits (then sort by columns)."""
    span = 1
    for _, size, _ in columns:
        span *= max(size, 1)
    if span >= 2**62:
        return None
    key: IntArray = np.zeros(len(columns[0][0]) if columns else 0, dtype=np.int64)
    for values, size, descending in columns:
        key = key * max(size, 1) + ((size - 1 - values) if descending else values)
    return key


def page(order_key: IntArray, start: int, size: int) -> IntArray:
    """Indices into ``order_key`` of the items ``start:start + size`` in key order; only the first
    ``start + size`` are sorted (a partial sort). Keys should be distinct for a stable answer."""
    wanted = start + size
    if size <= 0 or start >= len(order_key):
        return _EMPTY
    if len(order_key) > wanted:
        first = np.argpartition(order_key, wanted - 1)[:wanted]
    else:
        first = np.arange(len(order_key))
    first = first[np.argsort(order_key[first], kind="stable")]
    return first[start:wanted]
