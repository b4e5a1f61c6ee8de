"""The credit report: published facts only, SM2 signature verifies and fails when a byte changes, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from factories import SYSTEM, organ_uscc
from registries.credit.credit_helpers import TODAY, Credit
from zhengwu.accounts.permissions import Actor
from zhengwu.cli import cli
from zhengwu.crypto import sm2_generate_keypair, sm2_public_key_from_private
from zhengwu.errors import NotAuthenticated, NotFound, ValidationError
from zhengwu.registries.credit.models import CreditRecord
from zhengwu.registries.credit.report import (
    canonical_bytes,
    credit_report_build,
    credit_report_sign,
    credit_report_verify,
    key_fingerprint,
    platform_key,
)
from zhengwu.registries.credit.schemas import RepairIn
from zhengwu.registries.credit.services import repair_apply


def _envelope(credit: Credit, tmp: Path) -> dict[str, object]:
    credit.black_list()
    credit.put_on("BLK-1", credit.entities[0])
    rows = [
        credit.record_row(0),
        credit.record_row(0, decision_number="罚〔2026〕99号", content="第二次处罚"),
    ]
    assert credit.ingest(credit.records_file("r.csv", rows)).status == "applied"
    report = credit_report_build(credit.db, actor=credit.public, uscc=credit.entities[0].uscc)
    return credit_report_sign(report, platform_key(tmp))


def test_report_holds_published_facts_and_its_signature_verifies(credit: Credit, tmp_path: Path) -> None:
    envelope = _envelope(credit, tmp_path)
    report, signature = envelope["report"], envelope["signature"]
    assert isinstance(report, dict) and isinstance(signature, dict)
    assert report["subject"]["uscc"] == credit.entities[0].uscc
    assert report["summary"] == {"licensing": 0, "penalty": 2, "red_lists": 0, "black_lists": 1}
    assert report["lists"][0]["measures"][0]["code"] == "BLK-1-M0"
    public_pem = sm2_public_key_from_private(platform_key(tmp_path))
    assert signature["key_fingerprint"] == key_fingerprint(public_pem)
    assert credit_report_verify(report, signature).valid
    assert credit_report_verify(canonical_bytes(report), signature, public_pem=public_pem).valid
    # One byte changed anywhere in the signed bytes: invalid.
    data = bytearray(canonical_bytes(report))
    for position in (0, len(data) // 2, len(data) - 1):
        tampered = bytearray(data)
        tampered[position] ^= 0x01
        assert not credit_report_verify(bytes(tampered), signature).valid
    report["summary"]["penalty"] = 1
    assert not credit_report_verify(report, signature).valid
    report["summary"]["penalty"] = 2
    # Another key (pinned) or a forged fingerprint: invalid.
    other_private, other_public = sm2_generate_keypair()
    assert not credit_report_verify(report, signature, public_pem=other_public).valid
    forged = credit_report_sign(report, other_private)["signature"]
    assert isinstance(forged, dict)
    assert not credit_report_verify(report, forged, public_pem=public_pem).valid
    assert not credit_report_verify(report, {**signature, "value": "zz"}).valid


def test_report_leaves_out_repaired_records(credit: Credit, tmp_path: Path) -> None:
    envelope = _envelope(credit, tmp_path)
    report = envelope["report"]
    assert isinstance(report, dict)
    record_id = credit.db.scalars(select(CreditRecord.id).order_by(CreditRecord.id)).first()
    assert record_id is not None
    repair_apply(
        credit.db,
        actor=SYSTEM,
        data=RepairIn(
            target_type="record",
            target_id=record_id,
            decision_number="修-1",
            decision_date=TODAY,
            rectification="整改到位",
        ),
    )
    after = credit_report_build(credit.db, actor=credit.public, uscc=credit.entities[0].uscc)
    assert after["summary"]["penalty"] == 1


def test_report_refusals(credit: Credit) -> None:
    with pytest.raises(NotAuthenticated):
        credit_report_build(credit.db, actor=Actor.anonymous(), uscc=credit.entities[0].uscc)
    with pytest.raises(ValidationError):
        credit_report_build(credit.db, actor=credit.public, uscc="91330100MA2H3K4L5X")
    with pytest.raises(NotFound):
        credit_report_build(credit.db, actor=credit.public, uscc=organ_uscc("330100", 77_777))


def test_cli_verifies_a_saved_report_offline(credit: Credit, tmp_path: Path) -> None:
    envelope = _envelope(credit, tmp_path)
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(envelope, ensure_ascii=False, indent=2), encoding="utf-8")
    key = tmp_path / "platform.pem"
    key.write_bytes(sm2_public_key_from_private(platform_key(tmp_path)))
    runner = CliRunner()
    ok = runner.invoke(cli, ["credit", "report-verify", str(saved), "--public-key", str(key)])
    assert ok.exit_code == 0 and "有效" in ok.output
    text = saved.read_text(encoding="utf-8")
    name = credit.entities[0].name
    saved.write_text(text.replace(name, name[:-1] + "X", 1), encoding="utf-8")
    bad = runner.invoke(cli, ["credit", "report-verify", str(saved)])
    assert bad.exit_code == 1 and "无效" in bad.output
    saved.write_text("not json", encoding="utf-8")
    assert runner.invoke(cli, ["credit", "report-verify", str(saved)]).exit_code == 1
    shown = runner.invoke(cli, ["--data-dir", str(tmp_path), "credit", "public-key"])
    assert shown.exit_code == 0 and key_fingerprint(key.read_bytes()) in shown.output
