"""The message log in the database: records, signed heads, proofs, tamper detection, archives."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from zhengwu.crypto import sm2_generate_keypair
from zhengwu.errors import NotFound, ValidationError
from zhengwu.exchange.archive import archive_verify, archive_verify_chain, messagelog_archive
from zhengwu.exchange.merkle import SM3, reference_root, verify_consistency, verify_inclusion
from zhengwu.exchange.messagelog import (
    LogEntry,
    decrypt_bodies,
    messagelog_append,
    messagelog_body_key,
    messagelog_consistency_proof,
    messagelog_inclusion_proof,
    messagelog_sign_head,
    record_leaf_hash,
    verify_head_signature,
)
from zhengwu.exchange.models import ExchangeLogHead, ExchangeLogLeaf, ExchangeLogRecord
from zhengwu.exchange.verify import messagelog_verify

PRIVATE, PUBLIC = sm2_generate_keypair()
T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


def entry(i: int, *, status: int = 200) -> LogEntry:
    return LogEntry(
        xroad_id=f"xid-{i}",
        request_id=f"req-{i}",
        client_id="CN-DEV/GOV/11330000MB0000000X/HUJI",
        service_id="CN-DEV/GOV/11330000MB0000001X/GA/getPerson",
        user_id="EE123",
        issue="办理户籍迁移",
        started_at=T0 + dt.timedelta(seconds=i),
        finished_at=T0 + dt.timedelta(seconds=i, milliseconds=7),
        http_status=status,
        error_type=None if status < 400 else "Client.NoGrant",
        request_body=f'{{"id":{i}}}'.encode(),
        response_body=f'{{"name":"张三{i}"}}'.encode(),
    )


def fill(db: Session, n: int, *, age_days: int = 0) -> list[int]:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=age_days)
    return [messagelog_append(db, entry(i), now=now).id for i in range(n)]


def test_records_heads_and_proofs_verify(db: Session) -> None:
    fill(db, 5)
    h1 = messagelog_sign_head(db, private_pem=PRIVATE)
    fill(db, 6)
    h2 = messagelog_sign_head(db, private_pem=PRIVATE)
    assert (h1.tree_size, h2.tree_size) == (5, 11)
    result = messagelog_verify(db, trusted_public_pems=[PUBLIC])
    assert result.ok, result.reason
    assert (result.leaves, result.records, result.heads) == (11, 11, 2)

    proof = messagelog_inclusion_proof(db, xroad_id="xid-3")
    assert proof["head"]["id"] == h2.id
    assert verify_inclusion(
        SM3,
        proof["leaf_index"],
        proof["head"]["tree_size"],
        bytes.fromhex(proof["leaf_hash"]),
        [bytes.fromhex(p) for p in proof["audit_path"]],
        bytes.fromhex(proof["head"]["root_hash"]),
    )
    assert verify_head_signature(proof["head"], PUBLIC)
    old = messagelog_inclusion_proof(db, record_id=proof["record_id"], head_id=h1.id)
    assert old["head"]["tree_size"] == 5

    cons = messagelog_consistency_proof(db, from_head_id=h1.id, to_head_id=h2.id)
    assert verify_consistency(
        SM3,
        5,
        11,
        [bytes.fromhex(p) for p in cons["proof"]],
        bytes.fromhex(h1.root_hash),
        bytes.fromhex(h2.root_hash),
    )


def test_record_not_yet_signed_and_unknown_record(db: Session) -> None:
    fill(db, 2)
    with pytest.raises(NotFound) as err:
        messagelog_inclusion_proof(db, xroad_id="xid-1")
    assert err.value.code == "exchange.log.not_yet_signed"
    with pytest.raises(NotFound):
        messagelog_inclusion_proof(db, xroad_id="nope")
    with pytest.raises(ValidationError):
        messagelog_inclusion_proof(db)


@pytest.mark.parametrize(
    ("column", "value"),
    [("user_id", "EE124"), ("http_status", 201), ("request_hash", "0" * 64), ("issue", "办理户籍迁移 ")],
)
def test_one_changed_field_is_named(db: Session, column: str, value: object) -> None:
    ids = fill(db, 6)
    messagelog_sign_head(db, private_pem=PRIVATE)
    db.execute(update(ExchangeLogRecord).where(ExchangeLogRecord.id == ids[3]).values({column: value}))
    db.expire_all()
    result = messagelog_verify(db)
    assert not result.ok
    assert result.first_bad_record_id == ids[3]
    assert result.first_bad_leaf_index == 3


def test_deleted_and_reordered_records_are_detected(db: Session) -> None:
    ids = fill(db, 6)
    messagelog_sign_head(db, private_pem=PRIVATE)
    db.execute(delete(ExchangeLogRecord).where(ExchangeLogRecord.id == ids[2]))
    result = messagelog_verify(db)
    assert not result.ok and result.first_bad_leaf_index == 2 and result.first_bad_record_id == ids[3]

    # Keep the deletion and also move two later records: the deletion stays the first problem.
    db.execute(update(ExchangeLogRecord).where(ExchangeLogRecord.id == ids[4]).values(leaf_index=100))
    db.execute(update(ExchangeLogRecord).where(ExchangeLogRecord.id == ids[5]).values(leaf_index=4))
    db.execute(update(ExchangeLogRecord).where(ExchangeLogRecord.id == ids[4]).values(leaf_index=5))
    db.execute(update(ExchangeLogRecord).where(ExchangeLogRecord.id == ids[2]).values(leaf_index=2))
    result = messagelog_verify(db)
    assert result.first_bad_leaf_index == 2  # the deleted record is still the first problem


def test_swapped_records_are_named(db: Session) -> None:
    ids = fill(db, 5)
    db.execute(update(ExchangeLogRecord).where(ExchangeLogRecord.id == ids[1]).values(leaf_index=100))
    db.execute(update(ExchangeLogRecord).where(ExchangeLogRecord.id == ids[3]).values(leaf_index=1))
    db.execute(update(ExchangeLogRecord).where(ExchangeLogRecord.id == ids[1]).values(leaf_index=3))
    db.expire_all()
    result = messagelog_verify(db)
    assert not result.ok and result.first_bad_record_id == ids[3] and result.first_bad_leaf_index == 1


def test_rewritten_record_and_leaf_hash_caught_by_the_signed_head(db: Session) -> None:
    ids = fill(db, 8)
    head = messagelog_sign_head(db, private_pem=PRIVATE)
    db.execute(update(ExchangeLogRecord).where(ExchangeLogRecord.id == ids[6]).values(user_id="X"))
    db.expire_all()
    record = db.get(ExchangeLogRecord, ids[6])
    assert record is not None
    db.execute(
        update(ExchangeLogLeaf)
        .where(ExchangeLogLeaf.leaf_index == 6)
        .values(leaf_hash=record_leaf_hash(record))
    )
    result = messagelog_verify(db)
    assert not result.ok and result.first_bad_head_id == head.id and "root" in (result.reason or "")


def _flip(hex_text: str) -> str:
    last = hex_text[-1]
    return hex_text[:-1] + ("0" if last != "0" else "1")


def test_truncated_tail_and_forged_head_are_detected(db: Session) -> None:
    fill(db, 4)
    head = messagelog_sign_head(db, private_pem=PRIVATE)
    db.execute(
        update(ExchangeLogHead).where(ExchangeLogHead.id == head.id).values(signature=_flip(head.signature))
    )
    db.expire_all()
    result = messagelog_verify(db)
    assert not result.ok and result.first_bad_head_id == head.id and "signature" in (result.reason or "")

    other_private, _ = sm2_generate_keypair()
    db.execute(delete(ExchangeLogHead))
    messagelog_sign_head(db, private_pem=other_private)
    assert messagelog_verify(db).ok
    untrusted = messagelog_verify(db, trusted_public_pems=[PUBLIC])
    assert not untrusted.ok and "untrusted" in (untrusted.reason or "")

    db.execute(delete(ExchangeLogRecord).where(ExchangeLogRecord.leaf_index == 3))
    db.execute(delete(ExchangeLogLeaf).where(ExchangeLogLeaf.leaf_index == 3))
    result = messagelog_verify(db)
    assert not result.ok and "larger than the log" in (result.reason or "")


def test_bodies_are_kept_encrypted_only_when_asked(db: Session) -> None:
    key = messagelog_body_key("test-secret-key-that-is-long-enough-0123456789")
    plain = messagelog_append(db, entry(1))
    kept = messagelog_append(db, entry(2), body_key=key)
    a, b = db.get(ExchangeLogRecord, plain.id), db.get(ExchangeLogRecord, kept.id)
    assert a is not None and b is not None
    assert a.request_body is None and b.request_body is not None and b"id" not in b.request_body
    assert decrypt_bodies(b, key) == (b'{"id":2}', '{"name":"张三2"}'.encode())
    db.execute(
        update(ExchangeLogRecord).where(ExchangeLogRecord.id == kept.id).values(response_body=b"\x00" * 40)
    )
    db.expire_all()
    assert messagelog_verify(db).first_bad_record_id == kept.id


def test_archive_round_trip_and_offline_verification(db: Session, tmp_path: Path) -> None:
    fill(db, 7, age_days=200)
    messagelog_sign_head(db, private_pem=PRIVATE)
    fill(db, 3, age_days=100)  # younger than the retention period: stays
    first = messagelog_archive(db, out_dir=tmp_path, private_pem=PRIVATE)
    assert first is not None and (first.first_index, first.end_index) == (0, 7)
    assert db.scalars(select(ExchangeLogRecord.leaf_index).order_by(ExchangeLogRecord.leaf_index)).all() == [
        7,
        8,
        9,
    ]
    result = messagelog_verify(db, trusted_public_pems=[PUBLIC])
    assert result.ok, result.reason
    assert (result.records, result.archived) == (3, 7)
    ok = archive_verify(first.path, PUBLIC)
    assert ok.ok and ok.records == 7

    # 90 days later the rest is due; the second archive chains to the first.
    messagelog_sign_head(db, private_pem=PRIVATE)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=90)
    second = messagelog_archive(db, out_dir=tmp_path, private_pem=PRIVATE, now=later)
    assert second is not None and (second.first_index, second.end_index) == (7, 10)
    assert archive_verify_chain([first.path, second.path], PUBLIC).ok
    assert not archive_verify_chain([second.path], PUBLIC).ok
    assert messagelog_verify(db).ok

    # Inclusion proofs still work for archived leaves' successors and heads keep verifying.
    heads = _heads(db)
    cons = messagelog_consistency_proof(db, from_head_id=heads[0], to_head_id=heads[1])
    assert cons["first"]["tree_size"] == 7 and cons["second"]["tree_size"] == 10

    # An archived record is still provably in the log: its leaf hash stayed behind.
    proof = messagelog_inclusion_proof(db, leaf_index=2)
    assert proof["archived"] and proof["record_id"] is None
    assert verify_inclusion(
        SM3,
        2,
        proof["head"]["tree_size"],
        bytes.fromhex(proof["leaf_hash"]),
        [bytes.fromhex(p) for p in proof["audit_path"]],
        bytes.fromhex(proof["head"]["root_hash"]),
    )
    with pytest.raises(NotFound):
        messagelog_inclusion_proof(db, leaf_index=99)


def _heads(db: Session) -> list[int]:
    return list(db.scalars(select(ExchangeLogHead.id).order_by(ExchangeLogHead.id)))


def test_tampered_archive_fails_offline(db: Session, tmp_path: Path) -> None:
    fill(db, 4, age_days=365)
    messagelog_sign_head(db, private_pem=PRIVATE)
    result = messagelog_archive(db, out_dir=tmp_path, private_pem=PRIVATE)
    assert result is not None
    with zipfile.ZipFile(result.path) as zf:
        manifest, records = zf.read("manifest.json"), zf.read("records.jsonl")
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as zf:
        zf.writestr("manifest.json", manifest)
        zf.writestr("records.jsonl", records.replace(b'"user_id":"EE123"', b'"user_id":"EE999"', 1))
    bad = archive_verify(forged, PUBLIC)
    assert not bad.ok and "root" in (bad.reason or "")
    _, other_public = sm2_generate_keypair()
    assert not archive_verify(result.path, other_public).ok
    assert not archive_verify(tmp_path / "forged.zip", PUBLIC, prev_manifest_hash="1" * 64).ok


def test_archive_refuses_records_younger_than_retention(db: Session, tmp_path: Path) -> None:
    fill(db, 2)
    messagelog_sign_head(db, private_pem=PRIVATE)
    assert messagelog_archive(db, out_dir=tmp_path, private_pem=PRIVATE) is None
    with pytest.raises(ValidationError) as err:
        messagelog_archive(db, out_dir=tmp_path, private_pem=PRIVATE, before=dt.datetime.now(dt.UTC))
    assert err.value.code == "exchange.archive.too_recent"


def test_cached_tree_never_signs_rolled_back_leaves(db: Session) -> None:
    fill(db, 3)
    messagelog_sign_head(db, private_pem=PRIVATE)
    savepoint = db.begin_nested()
    for i in range(2):
        messagelog_append(db, entry(100 + i))
    messagelog_sign_head(db, private_pem=PRIVATE)  # the cache now holds leaves about to vanish
    savepoint.rollback()
    for i in range(2):
        messagelog_append(db, entry(200 + i))
    head = messagelog_sign_head(db, private_pem=PRIVATE)
    leaves = [
        bytes(h) for h in db.scalars(select(ExchangeLogLeaf.leaf_hash).order_by(ExchangeLogLeaf.leaf_index))
    ]
    assert head.tree_size == 5 and head.root_hash == reference_root(SM3, leaves).hex()
    assert messagelog_verify(db).ok
    proof = messagelog_inclusion_proof(db, xroad_id="xid-201")
    assert proof["head"]["id"] == head.id and proof["leaf_index"] == 4
