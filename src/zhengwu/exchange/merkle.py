"""Append-only Merkle trees in the shape of RFC 6962 §2.1, with the hash injected (SM3 by default).

* Leaf hash ``H(0x00 || leaf)``, interior node ``H(0x01 || left || right)``, the empty tree ``H()``.
* The tree hash of ``D[n]`` splits at ``k``, the largest power of two smaller than ``n`` (§2.1).
* Audit paths ``PATH(m, D[n])`` (§2.1.1) and consistency proofs ``PROOF(m, D[n])`` (§2.1.2), exactly
  as RFC 6962 defines them; verification follows the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2,
  which check a proof without rebuilding any tree.

:class:`MerkleTree` keeps the hash of every complete, aligned subtree ("perfect" subtrees of size
``2^h`` starting at a multiple of ``2^h``), about ``2n`` hashes. Every left child in the RFC
decomposition is such a subtree, so the hash of any range the algorithms ask for costs O(log n)
node hashes and a proof O(log² n) at worst, instead of the O(n) of the literal recursive definition.
The literal definitions are kept too (``reference_*``) as the oracle for tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from zhengwu.crypto import sm3_hash
from zhengwu.errors import ValidationError

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


@dataclass(frozen=True)
class MerkleHasher:
    """The hash function of a tree and RFC 6962's domain separation of leaves and nodes."""

    name: str
    digest: Callable[[bytes], bytes]
    size: int

    def hash_leaf(self, data: bytes) -> bytes:
        """``H(0x00 || data)``."""
        return self.digest(LEAF_PREFIX + data)

    def hash_children(self, left: bytes, right: bytes) -> bytes:
        """``H(0x01 || left || right)``."""
        return self.digest(NODE_PREFIX + left + right)

    def empty_root(self) -> bytes:
        """The hash of the empty tree, ``H()`` (RFC 6962 §2.1)."""
        return self.digest(b"")


SM3 = MerkleHasher("sm3", sm3_hash, 32)
#: SHA-256, the hash of RFC 6962 itself: used to check the algorithms against its published vectors.
SHA256 = MerkleHasher("sha256", lambda data: hashlib.sha256(data).digest(), 32)


def largest_power_of_two_below(n: int) -> int:
    """``k``, the largest power of two with ``k < n`` (``n`` ≥ 2), where RFC 6962 splits a tree."""
    if n < 2:
        raise ValueError("n must be at least 2")
    return 1 << ((n - 1).bit_length() - 1)


def _bad(code: str, message: str, message_en: str, field: str, **details: int) -> ValidationError:
    return ValidationError(
        message, message_en=message_en, code=f"exchange.merkle.{code}", field=field, details=dict(details)
    )


class MerkleTree:
    """An append-only tree of leaf hashes with every complete aligned subtree hash cached."""

    def __init__(self, hasher: MerkleHasher = SM3) -> None:
        self.hasher = hasher
        # _levels[h][i] is the hash of leaves [i * 2^h, (i + 1) * 2^h); _levels[0] are the leaf hashes.
        self._levels: list[list[bytes]] = [[]]

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Sequence[bytes], hasher: MerkleHasher = SM3) -> MerkleTree:
        """A tree over existing leaf hashes, built level by level (faster than appending one by one)."""
        tree = cls(hasher)
        level = list(leaf_hashes)
        tree._levels = [level]
        node = hasher.hash_children
        while len(level) >= 2:
            level = [node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            tree._levels.append(level)
        return tree

    @classmethod
    def from_leaves(cls, leaves: Sequence[bytes], hasher: MerkleHasher = SM3) -> MerkleTree:
        """A tree over raw leaf data (each is hashed as a leaf first)."""
        return cls.from_leaf_hashes([hasher.hash_leaf(d) for d in leaves], hasher)

    def truncated(self, size: int) -> MerkleTree:
        """A new tree of the first ``size`` leaves, sharing no lists with this one (O(n) reference copy)."""
        self._check_size(size)
        other = MerkleTree(self.hasher)
        other._levels = [level[: size >> h] for h, level in enumerate(self._levels)] if size else [[]]
        return other

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def leaf_hash(self, index: int) -> bytes:
        """The hash of leaf ``index``."""
        self._check_index(index, self.size)
        return self._levels[0][index]

    def append(self, leaf_hash: bytes) -> int:
        """Add one leaf hash; returns its index. Completes any subtree this leaf closes."""
        index = len(self._levels[0])
        self._levels[0].append(leaf_hash)
        h, i = 0, index
        # A leaf with an odd position closes a perfect subtree at every level where it is a right child.
        while i & 1:
            if len(self._levels) <= h + 1:
                self._levels.append([])
            level = self._levels[h]
            self._levels[h + 1].append(self.hasher.hash_children(level[i - 1], level[i]))
            h += 1
            i >>= 1
        return index

    def append_data(self, data: bytes) -> int:
        """Hash ``data`` as a leaf and append it."""
        return self.append(self.hasher.hash_leaf(data))

    def range_hash(self, start: int, end: int) -> bytes:
        """``MTH(D[start:end])``, the RFC 6962 tree hash of a range of leaves (any range)."""
        if not 0 <= start <= end <= self.size:
            raise _bad(
                "bad_range",
                f"范围 [{start}, {end}) 超出树的大小 {self.size}",
                f"range [{start}, {end}) is outside a tree of size {self.size}",
                "range",
                start=start,
                end=end,
                size=self.size,
            )
        return self._range(start, end)

    def _range(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return self.hasher.empty_root()
        if n & (n - 1) == 0 and start % n == 0:
            h = n.bit_length() - 1
            return self._levels[h][start >> h]
        k = largest_power_of_two_below(n) if n & (n - 1) else n // 2
        return self.hasher.hash_children(self._range(start, start + k), self._range(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the first ``size`` leaves (default: all)."""
        return self.range_hash(0, self.size if size is None else size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path ``PATH(index, D[size])`` of RFC 6962 §2.1.1."""
        size = self.size if size is None else size
        self._check_size(size)
        self._check_index(index, size)
        proof: list[bytes] = []
        start, end, m = 0, size, index
        # Iterative form of the recursion: the path is collected leaf-to-root, so build it reversed.
        while end - start > 1:
            k = largest_power_of_two_below(end - start)
            if m < k:
                proof.append(self._range(start + k, end))
                end = start + k
            else:
                proof.append(self._range(start, start + k))
                start += k
                m -= k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """``PROOF(old_size, D[new_size])`` of RFC 6962 §2.1.2 (empty when the sizes are equal or 0)."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise _bad(
                "bad_sizes",
                f"一致性证明要求 0 ≤ 旧大小 ≤ 新大小，实际为 {old_size} 与 {new_size}",
                f"a consistency proof needs 0 <= old size <= new size, got {old_size} and {new_size}",
                "old_size",
                old_size=old_size,
                new_size=new_size,
            )
        if old_size == 0 or old_size == new_size:
            return []
        proof: list[bytes] = []
        start, end, m, complete = 0, new_size, old_size, True
        while True:
            n = end - start
            if m == n:
                if not complete:
                    proof.append(self._range(start, end))
                break
            k = largest_power_of_two_below(n)
            if m <= k:
                proof.append(self._range(start + k, end))
                end = start + k
            else:
                proof.append(self._range(start, start + k))
                start += k
                m -= k
                complete = False
        proof.reverse()
        return proof

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise _bad(
                "bad_size",
                f"树大小 {size} 超出已有的 {self.size} 个叶子",
                f"tree size {size} exceeds the {self.size} leaves present",
                "tree_size",
                tree_size=size,
                size=self.size,
            )

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if not 0 <= index < size:
            raise _bad(
                "bad_index",
                f"叶子序号 {index} 不在树大小 {size} 之内",
                f"leaf index {index} is not inside a tree of size {size}",
                "leaf_index",
                leaf_index=index,
                tree_size=size,
            )


# ----------------------------------------------------------------------------------------------
# verification (RFC 9162 §2.1.3.2 and §2.1.4.2): no tree needed, only the proof and the hashes


def root_from_inclusion_proof(
    hasher: MerkleHasher, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes | None:
    """The root an inclusion proof leads to, or None when the proof cannot be valid for these sizes."""
    if not 0 <= index < size or len(leaf_hash) != hasher.size:
        return None
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0 or len(p) != hasher.size:
            return None
        if fn & 1 or fn == sn:
            r = hasher.hash_children(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hasher.hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


def verify_inclusion(
    hasher: MerkleHasher, index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``."""
    got = root_from_inclusion_proof(hasher, index, size, leaf_hash, proof)
    return got is not None and got == root


def verify_consistency(
    hasher: MerkleHasher,
    old_size: int,
    new_size: int,
    proof: Sequence[bytes],
    old_root: bytes,
    new_root: bytes,
) -> bool:
    """True when ``proof`` shows the tree of ``new_size`` (``new_root``) extends that of ``old_size``."""
    if old_size < 0 or new_size < old_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        # Every tree extends the empty one; RFC 6962 gives no proof for it.
        return not proof
    if not proof or any(len(p) != hasher.size for p in proof):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hasher.hash_children(c, fr)
            sr = hasher.hash_children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hasher.hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# ----------------------------------------------------------------------------------------------
# the literal recursive definitions of RFC 6962 §2.1, O(n) per call: the oracle for tests


def reference_root(hasher: MerkleHasher, leaf_hashes: Sequence[bytes]) -> bytes:
    """``MTH(D[n])`` computed literally from the definition."""
    n = len(leaf_hashes)
    if n == 0:
        return hasher.empty_root()
    if n == 1:
        return leaf_hashes[0]
    k = largest_power_of_two_below(n)
    return hasher.hash_children(
        reference_root(hasher, leaf_hashes[:k]), reference_root(hasher, leaf_hashes[k:])
    )


def reference_path(hasher: MerkleHasher, m: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """``PATH(m, D[n])`` computed literally from the definition."""
    n = len(leaf_hashes)
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return [*reference_path(hasher, m, leaf_hashes[:k]), reference_root(hasher, leaf_hashes[k:])]
    return [*reference_path(hasher, m - k, leaf_hashes[k:]), reference_root(hasher, leaf_hashes[:k])]


def reference_proof(hasher: MerkleHasher, m: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """``PROOF(m, D[n])`` computed literally from the definition."""

    def subproof(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if complete else [reference_root(hasher, d)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return [*subproof(m, d[:k], complete), reference_root(hasher, d[k:])]
        return [*subproof(m - k, d[k:], False), reference_root(hasher, d[:k])]

    if m == 0 or m == len(leaf_hashes):
        return []
    return subproof(m, leaf_hashes, True)
