"""Retention: move old message log records to signed archive files that verify offline.

An archive is one zip file ``messagelog-<first>-<end>.zip`` with two members:

* ``records.jsonl``: one record a line, every stored field (bodies base64), in leaf order;
* ``manifest.json``: the range ``[first_index, end_index)``, the count, the SM3 of ``records.jsonl``,
  the RFC 6962 tree hash of the range's leaves (``range_root``), the ``manifest_hash`` of the previous
  archive (``prev_manifest_hash``: archives form a hash chain, as X-Road's do), the newest signed tree
  head at archiving time, the signer's public key and fingerprint, and an SM2 signature over the
  canonical JSON of all of that.

:func:`archive_verify` needs only the file and the trusted public key: it recomputes every leaf from
the record fields, the range root and the file hash, and checks the signature and, given the previous
archive's manifest hash, the chain.

In the database the archived records are deleted but their leaf hashes stay (``exchange_log_leaves``,
~40 bytes a call against ~1 KB for a record with hashes and ids), so heads, inclusion and consistency
proofs stay computable for the whole history, and ``messagelog_verify`` checks each archive's range
root against them. Only a contiguous prefix of the log that a signed head already covers is archived.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from zhengwu.crypto import sm2_public_key_from_private, sm2_sign, sm2_verify, sm3_hash
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, ValidationError
from zhengwu.exchange.merkle import SM3, MerkleTree
from zhengwu.exchange.messagelog import (
    RETENTION_DAYS,
    head_dict,
    key_fingerprint,
    leaf_bytes,
    load_tree,
    record_fields,
)
from zhengwu.exchange.models import ExchangeLogArchive, ExchangeLogHead, ExchangeLogRecord

ARCHIVE_FORMAT = "zhengwu-messagelog-archive/v1"
GENESIS = "0" * 64
_TIME_FIELDS = ("logged_at", "started_at", "finished_at")
_BODY_FIELDS = ("request_body", "response_body")


def _canonical(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _to_json(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    for name in _TIME_FIELDS:
        out[name] = fields[name].astimezone(dt.UTC).isoformat(timespec="microseconds")
    for name in _BODY_FIELDS:
        out[name] = None if fields[name] is None else base64.b64encode(fields[name]).decode("ascii")
    return out


def _from_json(line: dict[str, Any]) -> dict[str, Any]:
    out = dict(line)
    for name in _TIME_FIELDS:
        out[name] = dt.datetime.fromisoformat(line[name])
    for name in _BODY_FIELDS:
        out[name] = None if line[name] is None else base64.b64decode(line[name])
    return out


@dataclass(frozen=True)
class ArchiveResult:
    """One archive written: where, which range, its chain hash."""

    path: Path
    first_index: int
    end_index: int
    record_count: int
    manifest_hash: str


def messagelog_archive(
    db: Session,
    *,
    out_dir: Path,
    private_pem: bytes,
    before: dt.datetime | None = None,
    now: dt.datetime | None = None,
    allow_recent: bool = False,
    max_records: int = 100_000,
) -> ArchiveResult | None:
    """Archive records logged before ``before`` (default: :data:`RETENTION_DAYS` ago), then delete them.

    Refuses a ``before`` that would archive records younger than the retention period unless
    ``allow_recent``. Returns None when nothing is due. The file is written and synced before the
    deletion is flushed, so a crash leaves at worst an archive whose records are still in the database.
    """
    now = now or utcnow()
    limit = now - dt.timedelta(days=RETENTION_DAYS)
    cutoff = before or limit
    if cutoff > limit and not allow_recent:
        raise ValidationError(
            f"记录至少保存 {RETENTION_DAYS} 天，不能归档 {limit:%Y-%m-%d} 之后的记录",
            message_en=f"records are kept {RETENTION_DAYS} days; cannot archive after {limit:%Y-%m-%d}",
            code="exchange.archive.too_recent",
            field="before",
        )
    last = db.scalars(select(ExchangeLogArchive).order_by(ExchangeLogArchive.end_index.desc())).first()
    first = last.end_index if last else 0
    prev_hash = last.manifest_hash if last else GENESIS
    head = db.scalars(select(ExchangeLogHead).order_by(ExchangeLogHead.id.desc())).first()
    if head is None or head.tree_size <= first:
        return None
    rows = list(
        db.scalars(
            select(ExchangeLogRecord)
            .where(ExchangeLogRecord.leaf_index >= first, ExchangeLogRecord.leaf_index < head.tree_size)
            .order_by(ExchangeLogRecord.leaf_index)
            .limit(max_records)
        )
    )
    chosen: list[ExchangeLogRecord] = []
    for record in rows:
        if record.leaf_index != first + len(chosen) or record.logged_at >= cutoff:
            break
        chosen.append(record)
    if not chosen:
        return None
    end = first + len(chosen)
    tree = load_tree(db, end)
    leaf_hashes = []
    for record in chosen:
        leaf_hash = SM3.hash_leaf(leaf_bytes(record_fields(record)))
        if leaf_hash != tree.leaf_hash(record.leaf_index):
            raise Conflict(
                f"记录 {record.id} 与其叶子哈希不符，拒绝归档",
                message_en=f"record {record.id} does not match its leaf hash; refusing to archive",
                code="exchange.archive.tampered",
            )
        leaf_hashes.append(leaf_hash)
    records_jsonl = b"".join(_canonical(_to_json(record_fields(r))) + b"\n" for r in chosen)
    public_pem = sm2_public_key_from_private(private_pem)
    manifest: dict[str, Any] = {
        "format": ARCHIVE_FORMAT,
        "first_index": first,
        "end_index": end,
        "record_count": len(chosen),
        "records_sm3": sm3_hash(records_jsonl).hex(),
        "range_root": tree.range_hash(first, end).hex(),
        "prev_manifest_hash": prev_hash,
        "created_at": now.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "tree_head": {k: v for k, v in head_dict(head).items() if k != "id"},
        "key_fingerprint": key_fingerprint(public_pem),
        "public_pem": public_pem.decode("ascii"),
    }
    manifest["signature"] = sm2_sign(private_pem, _canonical(manifest)).hex()
    manifest_bytes = _canonical(manifest)
    manifest_hash = sm3_hash(manifest_bytes).hex()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"messagelog-{first:012d}-{end:012d}.zip"
    tmp = path.with_suffix(".zip.tmp")
    with open(tmp, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", manifest_bytes)
            zf.writestr("records.jsonl", records_jsonl)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    db.add(
        ExchangeLogArchive(
            first_index=first,
            end_index=end,
            record_count=len(chosen),
            file_name=path.name,
            range_root=manifest["range_root"],
            manifest_hash=manifest_hash,
            prev_manifest_hash=prev_hash,
            created_at=now,
        )
    )
    db.execute(
        delete(ExchangeLogRecord).where(
            ExchangeLogRecord.leaf_index >= first, ExchangeLogRecord.leaf_index < end
        )
    )
    db.flush()
    return ArchiveResult(path, first, end, len(chosen), manifest_hash)


@dataclass(frozen=True)
class ArchiveVerifyResult:
    """Outcome of :func:`archive_verify`."""

    ok: bool
    reason: str | None = None
    first_index: int | None = None
    end_index: int | None = None
    records: int = 0
    manifest_hash: str | None = None
    bad_leaf_index: int | None = None


def archive_verify(
    path: Path, public_pem: bytes, *, prev_manifest_hash: str | None = None
) -> ArchiveVerifyResult:
    """Check an archive file offline against the trusted ``public_pem`` (and the chain, when given)."""
    try:
        with zipfile.ZipFile(io.BytesIO(Path(path).read_bytes())) as zf:
            manifest_bytes = zf.read("manifest.json")
            records_jsonl = zf.read("records.jsonl")
        manifest = json.loads(manifest_bytes)
        signature = bytes.fromhex(manifest.pop("signature"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        return ArchiveVerifyResult(False, f"归档文件无法读取 (unreadable archive): {exc}")
    first, end = int(manifest["first_index"]), int(manifest["end_index"])

    def bad(reason: str, leaf: int | None = None) -> ArchiveVerifyResult:
        return ArchiveVerifyResult(False, reason, first, end, bad_leaf_index=leaf)

    if manifest.get("format") != ARCHIVE_FORMAT:
        return bad("未知的归档格式 (unknown archive format)")
    if manifest["key_fingerprint"] != key_fingerprint(public_pem):
        return bad("归档不是由受信任的密钥签名 (archive not signed by the trusted key)")
    if not sm2_verify(public_pem, _canonical(manifest), signature):
        return bad("归档清单签名无效 (manifest signature invalid)")
    manifest_hash = sm3_hash(manifest_bytes).hex()
    if prev_manifest_hash is not None and manifest["prev_manifest_hash"] != prev_manifest_hash:
        return bad("归档链断裂：前一归档的哈希不符 (chain broken: previous manifest hash differs)")
    # Records are recomputed before the file hash is compared so that a changed record is named.
    tree = MerkleTree(SM3)
    for line in records_jsonl.splitlines():
        try:
            fields = _from_json(json.loads(line))
        except (ValueError, KeyError, TypeError):
            return bad(f"第 {first + tree.size} 条记录无法解析 (record unreadable)", first + tree.size)
        if fields.get("leaf_index") != first + tree.size:
            return bad(
                f"记录序号不连续，应为 {first + tree.size} (leaf index out of order)", first + tree.size
            )
        tree.append(SM3.hash_leaf(leaf_bytes(fields)))
    if tree.size != end - first or tree.size != manifest["record_count"]:
        return bad(f"记录数为 {tree.size}，清单为 {manifest['record_count']} (record count mismatch)")
    if tree.root().hex() != manifest["range_root"]:
        return bad("记录重算的根哈希与清单不符 (range root mismatch: a record was changed)")
    if sm3_hash(records_jsonl).hex() != manifest["records_sm3"]:
        return bad("记录文件摘要与清单不符 (records file hash mismatch)")
    return ArchiveVerifyResult(True, None, first, end, tree.size, manifest_hash)


def archive_verify_chain(paths: list[Path], public_pem: bytes) -> ArchiveVerifyResult:
    """Verify archives in order, each chained to the one before (the first to the genesis hash)."""
    prev = GENESIS
    total = 0
    last: ArchiveVerifyResult | None = None
    expected_first = 0
    for path in paths:
        last = archive_verify(path, public_pem, prev_manifest_hash=prev)
        if not last.ok:
            return last
        if last.first_index != expected_first:
            return ArchiveVerifyResult(False, f"归档不连续：{path.name} (archives not contiguous)")
        assert last.manifest_hash is not None and last.end_index is not None
        prev, expected_first, total = last.manifest_hash, last.end_index, total + last.records
    return ArchiveVerifyResult(True, None, 0, expected_first, total, prev if last else None)
