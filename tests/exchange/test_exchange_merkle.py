"""Merkle tree algorithms: RFC 6962 reference vectors (SHA-256) and brute force over SM3 trees."""

from __future__ import annotations

import pytest

from zhengwu.errors import ValidationError
from zhengwu.exchange.merkle import (
    SHA256,
    SM3,
    MerkleTree,
    reference_path,
    reference_proof,
    reference_root,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

# Leaf inputs and expected hashes published with the certificate-transparency reference code
# (transparency-dev/merkle testonly/constants.go and proof/verify_test.go).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index as in the CT vectors: 1-based, tree size, audit path)
CT_INCLUSION = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip


def _ct_tree() -> MerkleTree:
    return MerkleTree.from_leaves(CT_LEAVES, SHA256)


def test_rfc6962_roots_for_every_size() -> None:
    tree = _ct_tree()
    assert [tree.root(n).hex() for n in range(9)] == CT_ROOTS
    incremental = MerkleTree(SHA256)
    for n, leaf in enumerate(CT_LEAVES, start=1):
        incremental.append_data(leaf)
        assert incremental.root().hex() == CT_ROOTS[n]


@pytest.mark.parametrize(("leaf", "size", "path"), CT_INCLUSION)
def test_rfc6962_inclusion_vectors(leaf: int, size: int, path: list[str]) -> None:
    tree = _ct_tree()
    proof = tree.inclusion_proof(leaf - 1, size)
    assert [p.hex() for p in proof] == path
    root = bytes.fromhex(CT_ROOTS[size])
    assert verify_inclusion(SHA256, leaf - 1, size, tree.leaf_hash(leaf - 1), proof, root)
    # The corruptions the reference tests probe: wrong index, size, leaf, root, extra or missing nodes.
    wrong = [
        (leaf - 1 + 1, size, tree.leaf_hash(leaf - 1), proof, root),
        (leaf - 1, size * 2, tree.leaf_hash(leaf - 1), proof, root),
        (leaf - 1, size, SHA256.hash_leaf(b"WrongLeaf"), proof, root),
        (leaf - 1, size, tree.leaf_hash(leaf - 1), proof, bytes.fromhex(CT_ROOTS[0])),
        (leaf - 1, size, tree.leaf_hash(leaf - 1), [*proof, root], root),
        (leaf - 1, size, tree.leaf_hash(leaf - 1), [root, *proof], root),
    ]
    if proof:
        wrong.append((leaf - 1, size, tree.leaf_hash(leaf - 1), proof[:-1], root))
        flipped = bytes([proof[0][0] ^ 8]) + proof[0][1:]
        wrong.append((leaf - 1, size, tree.leaf_hash(leaf - 1), [flipped, *proof[1:]], root))
    for index, n, leaf_hash, bad_proof, bad_root in wrong:
        assert not verify_inclusion(SHA256, index, n, leaf_hash, bad_proof, bad_root)


@pytest.mark.parametrize(("m", "n", "path"), CT_CONSISTENCY)
def test_rfc6962_consistency_vectors(m: int, n: int, path: list[str]) -> None:
    tree = _ct_tree()
    proof = tree.consistency_proof(m, n)
    assert [p.hex() for p in proof] == path
    r1, r2 = bytes.fromhex(CT_ROOTS[m]), bytes.fromhex(CT_ROOTS[n])
    assert verify_consistency(SHA256, m, n, proof, r1, r2)
    if proof:
        assert not verify_consistency(SHA256, m, n, proof, r2, r1)
        assert not verify_consistency(SHA256, m, n, proof[:-1], r1, r2)
        assert not verify_consistency(SHA256, m, n, [*proof, r1], r1, r2)
        assert not verify_consistency(SHA256, m - 1 or m + 1, n, proof, r1, r2)
        assert not verify_consistency(SHA256, m, n, [], r1, r2)
        flipped = bytes([proof[-1][0] ^ 16]) + proof[-1][1:]
        assert not verify_consistency(SHA256, m, n, [*proof[:-1], flipped], r1, r2)


def _sm3_leaves(n: int) -> list[bytes]:
    return [SM3.hash_leaf(f"记录{i}".encode()) for i in range(n)]


def test_sm3_inclusion_for_every_size_up_to_64_and_every_leaf() -> None:
    leaves = _sm3_leaves(64)
    tree = MerkleTree(SM3)
    for n in range(1, 65):
        tree.append(leaves[n - 1])
        root = reference_root(SM3, leaves[:n])
        assert tree.root() == root == MerkleTree.from_leaf_hashes(leaves[:n]).root()
        for m in range(n):
            proof = tree.inclusion_proof(m)
            assert proof == reference_path(SM3, m, leaves[:n])
            assert root_from_inclusion_proof(SM3, m, n, leaves[m], proof) == root
            assert not verify_inclusion(SM3, m, n, leaves[(m + 1) % n] if n > 1 else b"x" * 32, proof, root)


def test_sm3_consistency_for_all_pairs_up_to_32() -> None:
    leaves = _sm3_leaves(32)
    tree = MerkleTree.from_leaf_hashes(leaves)
    roots = [reference_root(SM3, leaves[:n]) for n in range(33)]
    for n in range(1, 33):
        for m in range(0, n + 1):
            proof = tree.consistency_proof(m, n)
            assert proof == reference_proof(SM3, m, leaves[:n])
            assert verify_consistency(SM3, m, n, proof, roots[m], roots[n])
            if 0 < m < n:
                assert not verify_consistency(SM3, m, n, proof, roots[m], roots[n - 1])


def test_range_hash_of_unaligned_ranges_matches_the_definition() -> None:
    leaves = _sm3_leaves(40)
    tree = MerkleTree.from_leaf_hashes(leaves)
    for start in range(0, 40, 3):
        for end in range(start, 41, 5):
            assert tree.range_hash(start, end) == reference_root(SM3, leaves[start:end])


def test_bad_indices_are_named() -> None:
    tree = MerkleTree.from_leaf_hashes(_sm3_leaves(4))
    with pytest.raises(ValidationError) as err:
        tree.inclusion_proof(4)
    assert err.value.code == "exchange.merkle.bad_index"
    with pytest.raises(ValidationError) as err:
        tree.consistency_proof(3, 2)
    assert err.value.field == "old_size"
    with pytest.raises(ValidationError):
        tree.root(5)


def test_truncated_tree_is_independent_and_exact() -> None:
    leaves = _sm3_leaves(37)
    tree = MerkleTree.from_leaf_hashes(leaves)
    for size in (0, 1, 16, 17, 36):
        short = tree.truncated(size)
        assert short.size == size and short.root() == reference_root(SM3, leaves[:size])
        short.append(leaves[0])
        assert tree.size == 37 and short.root() == reference_root(SM3, [*leaves[:size], leaves[0]])
