"""``messagelog_verify``: recompute the whole message log and name the first thing that does not match.

Order of checks, earliest position first so the answer names the FIRST bad record:

1. Walk leaf positions 0..n-1. Each position must hold either a record, whose leaf recomputed from its
   stored fields must equal the stored leaf hash (a changed byte, or a record moved to another index,
   fails here and is named), or lie inside an archived range. A position with neither is a deleted
   record: the failure names the missing index and the next record.
2. Every archive's range root must equal the tree hash of its stored leaves.
3. Every signed head: its size within the tree, its root equal to the recomputed root of that size,
   its signature valid for the key it names (and that key trusted, when trusted keys are given), and
   sizes never shrinking from one head to the next. A root mismatch here with all records matching
   means leaf hashes were rewritten together with records; the failure names the head and the range
   of positions it newly covered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.exchange.merkle import SM3, MerkleTree
from zhengwu.exchange.messagelog import head_dict, key_fingerprint, record_leaf_hash, verify_head_signature
from zhengwu.exchange.models import ExchangeLogArchive, ExchangeLogHead, ExchangeLogLeaf, ExchangeLogRecord


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`messagelog_verify`."""

    ok: bool
    leaves: int
    records: int
    archived: int
    heads: int
    first_bad_record_id: int | None = None
    first_bad_leaf_index: int | None = None
    first_bad_head_id: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        """Plain data for the API and the CLI."""
        return dict(self.__dict__)


def messagelog_verify(
    db: Session, *, trusted_public_pems: Sequence[bytes] | None = None, batch: int = 5_000
) -> VerifyResult:
    """Check every record, archive and signed head of the message log (see the module docstring)."""
    tree = MerkleTree(SM3)
    for index, leaf_hash in db.execute(
        select(ExchangeLogLeaf.leaf_index, ExchangeLogLeaf.leaf_hash).order_by(ExchangeLogLeaf.leaf_index)
    ):
        if index != tree.size:
            return VerifyResult(
                False,
                tree.size,
                0,
                0,
                0,
                first_bad_leaf_index=tree.size,
                reason=f"叶子表缺少序号 {tree.size} (leaf hash missing at index {tree.size})",
            )
        tree.append(bytes(leaf_hash))
    n = tree.size
    archives = list(db.scalars(select(ExchangeLogArchive).order_by(ExchangeLogArchive.first_index)))
    archived = sum(a.end_index - a.first_index for a in archives)

    def bad(reason: str, **kw: int | None) -> VerifyResult:
        return VerifyResult(False, n, records, archived, 0, reason=reason, **kw)

    records = 0
    expected = 0  # the next leaf position that must be accounted for
    arch_iter = iter(archives)
    next_archive = next(arch_iter, None)

    def skip_archived(position: int) -> int:
        nonlocal next_archive
        while next_archive is not None and next_archive.first_index == position:
            position = next_archive.end_index
            next_archive = next(arch_iter, None)
        return position

    last_index = -1
    while True:
        rows = list(
            db.scalars(
                select(ExchangeLogRecord)
                .where(ExchangeLogRecord.leaf_index > last_index)
                .order_by(ExchangeLogRecord.leaf_index)
                .limit(batch)
            )
        )
        if not rows:
            break
        for record in rows:
            expected = skip_archived(expected)
            if record.leaf_index != expected:
                if record.leaf_index < expected:
                    return bad(
                        f"记录 {record.id} 位于已归档范围内 "
                        f"(record {record.id} lies inside an archived range)",
                        first_bad_record_id=record.id,
                        first_bad_leaf_index=record.leaf_index,
                    )
                return bad(
                    f"序号 {expected} 的记录缺失，其后为记录 {record.id} "
                    f"(record at leaf index {expected} is missing; next is record {record.id})",
                    first_bad_record_id=record.id,
                    first_bad_leaf_index=expected,
                )
            if record.leaf_index >= n:
                return bad(
                    f"记录 {record.id} 没有对应的叶子 (record {record.id} has no leaf hash)",
                    first_bad_record_id=record.id,
                    first_bad_leaf_index=record.leaf_index,
                )
            if record_leaf_hash(record) != tree.leaf_hash(record.leaf_index):
                return bad(
                    f"记录 {record.id}（序号 {record.leaf_index}）的内容与其叶子哈希不符 "
                    f"(record {record.id} at leaf {record.leaf_index}: content does not match its leaf hash)",
                    first_bad_record_id=record.id,
                    first_bad_leaf_index=record.leaf_index,
                )
            records += 1
            expected += 1
        last_index = rows[-1].leaf_index
        # Forget the checked records (not the caller's other objects) so memory stays flat.
        for record in rows:
            db.expunge(record)
    expected = skip_archived(expected)
    if expected != n:
        return bad(
            f"序号 {expected} 起的记录缺失 (records missing from leaf index {expected})",
            first_bad_leaf_index=expected,
        )
    if next_archive is not None:
        return bad(
            f"归档 {next_archive.id} 与其他记录重叠或超出日志 "
            f"(archive {next_archive.id} overlaps or is out of range)",
            first_bad_leaf_index=next_archive.first_index,
        )
    for archive in archives:
        if tree.range_hash(archive.first_index, archive.end_index).hex() != archive.range_root:
            return bad(
                f"归档 {archive.id} 的根哈希与叶子不符 (archive {archive.id} range root does not match)",
                first_bad_leaf_index=archive.first_index,
            )
    return _verify_heads(db, tree, records, archived, trusted_public_pems)


def _verify_heads(
    db: Session,
    tree: MerkleTree,
    records: int,
    archived: int,
    trusted_public_pems: Sequence[bytes] | None,
) -> VerifyResult:
    n = tree.size
    trusted = None if trusted_public_pems is None else {key_fingerprint(p) for p in trusted_public_pems}
    heads = 0
    prev_size = 0
    for head in db.scalars(select(ExchangeLogHead).order_by(ExchangeLogHead.id)):

        def bad(
            reason: str, head: ExchangeLogHead = head, heads: int = heads, prev_size: int = prev_size
        ) -> VerifyResult:
            return VerifyResult(
                False,
                n,
                records,
                archived,
                heads,
                first_bad_head_id=head.id,
                first_bad_leaf_index=prev_size if head.tree_size > prev_size else None,
                reason=reason,
            )

        if head.tree_size > n:
            return bad(
                f"树头 {head.id} 的大小 {head.tree_size} 超过日志的 {n} 条 (head larger than the log: "
                "records were removed from the end)"
            )
        if head.tree_size < prev_size:
            return bad(f"树头 {head.id} 比之前的树头小 (head {head.id} is smaller than an earlier head)")
        if tree.root(head.tree_size).hex() != head.root_hash:
            return bad(
                f"树头 {head.id} 的根哈希与重算结果不符，"
                f"篡改位于序号 {prev_size} 至 {head.tree_size - 1} 之间 "
                f"(head {head.id} root mismatch: leaves {prev_size}..{head.tree_size - 1} were rewritten)"
            )
        public_pem = head.public_pem.encode("ascii")
        if not verify_head_signature(head_dict(head), public_pem):
            return bad(f"树头 {head.id} 的签名无效 (head {head.id} signature is invalid)")
        if trusted is not None and head.key_fingerprint not in trusted:
            return bad(f"树头 {head.id} 由不受信任的密钥签名 (head {head.id} signed by an untrusted key)")
        heads += 1
        prev_size = head.tree_size
    return VerifyResult(True, n, records, archived, heads)
