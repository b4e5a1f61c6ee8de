"""The kernel's array kernels (zhengwu/search/arrays.py) against plain Python on random inputs."""

from __future__ import annotations

import random

import numpy as np

from zhengwu.search.arrays import count_codes, gather_ranges, intersect, pack_order, page, positions
from zhengwu.search.memory import Postings, build_postings


def _postings(ids: set[int], rng: random.Random) -> Postings:
    ordered = sorted(ids)
    return Postings(
        np.array(ordered, dtype=np.int64), np.array([rng.randint(1, 5) for _ in ordered], dtype=np.int8)
    )


def test_intersect_keeps_common_ids_and_their_highest_weight() -> None:
    rng = random.Random(5)
    for _ in range(200):
        lists = [_postings({rng.randrange(60) for _ in range(rng.randint(0, 40))}, rng) for _ in range(3)]
        lists.sort(key=lambda p: len(p.ids))
        ids, worst = intersect(lists)
        common = set.intersection(*(set(p.ids.tolist()) for p in lists))
        assert ids.tolist() == sorted(common)
        for i, weight in zip(ids.tolist(), worst.tolist(), strict=True):
            assert weight == max(int(p.weights[p.ids.tolist().index(i)]) for p in lists)
    assert intersect([])[0].tolist() == []


def test_positions_drop_ids_the_table_lacks() -> None:
    table = np.array([2, 5, 9, 14], dtype=np.int64)
    pos, present = positions(table, np.array([1, 5, 9, 20], dtype=np.int64))
    assert pos.tolist() == [1, 2]
    assert present.tolist() == [False, True, True, False]
    assert positions(np.empty(0, dtype=np.int64), np.array([3], dtype=np.int64))[0].tolist() == []


def test_gather_ranges_concatenates_the_slices_of_the_rows() -> None:
    offsets = np.array([0, 2, 2, 5, 6], dtype=np.int64)  # rows 0..3 own [0,2) [2,2) [2,5) [5,6)
    assert gather_ranges(offsets, np.array([0, 2, 3], dtype=np.int64)).tolist() == [0, 1, 2, 3, 4, 5]
    assert gather_ranges(offsets, np.array([1], dtype=np.int64)).tolist() == []
    assert gather_ranges(offsets, np.array([3, 0], dtype=np.int64)).tolist() == [5, 0, 1]


def test_packed_order_and_page_sort_like_python() -> None:
    rng = random.Random(9)
    for _ in range(100):
        n = rng.randint(0, 80)
        a = np.array([rng.randrange(3) for _ in range(n)], dtype=np.int64)
        b = np.array([rng.randrange(50) for _ in range(n)], dtype=np.int64)
        c = np.arange(n, dtype=np.int64)  # distinct last key
        key = pack_order([(a, 3, True), (b, 50, False), (c, max(n, 1), True)])
        assert key is not None
        start, size = rng.randint(0, 30), rng.randint(0, 15)
        expected = sorted(range(n), key=lambda i: (-a[i], b[i], -c[i]))[start : start + size]
        assert page(key, start, size).tolist() == expected
    assert pack_order([(np.zeros(1, dtype=np.int64), 2**40, False)] * 2) is None


def test_counts_and_prefix_postings() -> None:
    assert count_codes(np.array([2, 0, 2], dtype=np.int64), 4).tolist() == [1, 0, 2, 0]
    assert count_codes(np.empty(0, dtype=np.int64), 3).tolist() == [0, 0, 0]
    merged = build_postings([(3, 2), (3, 1), (7, 4)], prefix=True)
    assert merged.ids.tolist() == [3, 7]
    assert merged.weights.tolist() == [1, 4]
    assert build_postings([(4,), (9,)], prefix=False).weights.tolist() == [0, 0]
