"""Ingestion of 双公示 records and list entries: bad inputs, atomic and partial batches, idempotence."""

from __future__ import annotations

import csv
import datetime as dt

import openpyxl
import pytest
from sqlalchemy import func, select

from factories import organ_uscc
from registries.credit.credit_helpers import TODAY, Credit
from zhengwu.errors import PermissionDenied
from zhengwu.registries.credit.models import CreditListEntry, CreditRecord, CreditRecordVersion
from zhengwu.registries.models import RegistryBatch

FULLWIDTH = str.maketrans(
    "0123456789ABCDEFGHJKLMNPQRTUWXY-", "０１２３４５６７８９ＡＢＣＤＥＦＧＨＪＫＬＭＮＰＱＲＴＵＷＸＹ－"
)


def _count(credit: Credit, model: type) -> int:
    return credit.db.scalar(select(func.count()).select_from(model)) or 0


def _errors(path: str | None) -> list[list[str]]:
    assert path is not None
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))[1:]


def test_records_are_applied_once_and_rerun_changes_nothing(credit: Credit) -> None:
    rows = [credit.record_row(n) for n in range(5)]
    rows.append(
        credit.record_row(
            5,
            kind="行政许可",
            decision_number="测市监许〔2026〕1号",
            category="登记",
            content="企业变更登记",
            amount_yuan="",
            validity_from=(TODAY - dt.timedelta(days=20)).isoformat(),
            validity_to=(TODAY + dt.timedelta(days=700)).isoformat(),
        )
    )
    path = credit.records_file("records.csv", rows)
    first = credit.ingest(path)
    assert (first.status, first.inserted, first.rows_invalid) == ("applied", 6, 0)
    assert _count(credit, CreditRecord) == 6 and _count(credit, CreditRecordVersion) == 6
    penalty = credit.db.scalars(select(CreditRecord).where(CreditRecord.kind == "penalty")).first()
    assert penalty is not None and penalty.publication_to is not None  # default publication period
    assert penalty.publication_to.year == penalty.decision_date.year + 3
    again = credit.ingest(path)
    assert again.duplicate_of == first.batch_id and _count(credit, CreditRecordVersion) == 6
    # Same rows with one change, in another file: one new version, the rest unchanged.
    rows[0]["content"] = "未按规定公示年度报告，罚款（更正）"
    changed = credit.ingest(credit.records_file("records2.csv", rows))
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 5)
    assert _count(credit, CreditRecordVersion) == 7
    batch = credit.db.get(RegistryBatch, changed.batch_id)
    assert batch is not None and batch.registry_name == "credit_records"


def test_gbk_bom_and_full_width_digits_are_read(credit: Credit) -> None:
    gbk = credit.ingest(credit.records_file("gbk.csv", [credit.record_row(0)], encoding="gbk"))
    assert gbk.status == "applied" and any("GBK" in n for n in gbk.notes)
    record = credit.db.scalars(select(CreditRecord)).one()
    assert record.subject_name == credit.entities[0].name and record.basis.startswith("《市场主体")
    row = credit.record_row(
        1,
        subject_id=credit.entities[1].uscc.translate(FULLWIDTH),
        decision_date=(TODAY - dt.timedelta(days=3)).isoformat().translate(FULLWIDTH),
        amount_yuan="１２，０００",
    )
    path = credit.records_file("bom.csv", [row], encoding="utf-8-sig")
    result = credit.ingest(path)
    assert result.status == "applied", result.errors
    assert any("BOM" in n for n in result.notes)
    stored = credit.db.scalars(
        select(CreditRecord).where(CreditRecord.subject_id == credit.entities[1].uscc)
    ).one()
    assert stored.amount_yuan == 12000 and stored.decision_date == TODAY - dt.timedelta(days=3)


def test_bad_uscc_unknown_subject_and_date_order_reject_the_atomic_batch(credit: Credit) -> None:
    good = credit.record_row(0)
    uscc = credit.entities[1].uscc
    bad_check = credit.record_row(1, subject_id=uscc[:-1] + ("0" if uscc[-1] != "0" else "1"))
    unknown = credit.record_row(2, subject_id=organ_uscc("330100", 88_888), subject_name="不存在的公司")
    wrong_name = credit.record_row(3, subject_name="名称不符有限公司")
    order = credit.record_row(
        4,
        kind="行政许可",
        category="普通",
        amount_yuan="",
        validity_from=(TODAY - dt.timedelta(days=5)).isoformat(),
        validity_to=(TODAY - dt.timedelta(days=6)).isoformat(),
    )
    future = credit.record_row(5, decision_date=(TODAY + dt.timedelta(days=3)).isoformat())
    bad_kind = credit.record_row(6, kind="表扬")
    path = credit.records_file("bad.csv", [good, bad_check, unknown, wrong_name, order, future, bad_kind])
    result = credit.ingest(path)
    assert result.status == "rejected" and result.rows_invalid == 6
    assert _count(credit, CreditRecord) == 0 and _count(credit, CreditRecordVersion) == 0
    errors = _errors(result.error_file)
    by_row = {int(r[0]): (r[1], r[2]) for r in errors}
    assert set(by_row) == {3, 4, 5, 6, 7, 8}
    assert by_row[3][0] == "subject_id" and "统一社会信用代码" in by_row[3][1]
    assert by_row[4] == ("subject_id", "主体不在法人单位基础库中")
    assert "名称" in by_row[5][1]
    assert by_row[6] == ("validity_to", "有效期至早于有效期自")
    assert by_row[7][0] == "decision_date" and "晚于今天" in by_row[7][1]
    assert by_row[8][0] == "kind"
    # Partial mode applies the one valid row and reports the rest.
    partial = credit.ingest(path, mode="partial")
    assert (partial.status, partial.inserted, partial.rows_invalid) == ("partial", 1, 6)
    assert _count(credit, CreditRecord) == 1


def test_unknown_valid_subject_is_refused_unless_allowed(credit: Credit) -> None:
    stranger = organ_uscc("330100", 99_999)  # valid, but not in the entity registry
    row = credit.record_row(0, subject_id=stranger, subject_name="外省某公司")
    path = credit.records_file("stranger.csv", [row])
    refused = credit.ingest(path)
    assert refused.status == "rejected"
    assert refused.errors[0].reason == "主体不在法人单位基础库中"
    allowed = credit.ingest(credit.records_file("stranger2.csv", [row]), allow_unregistered=True)
    assert allowed.status == "applied"


def test_malformed_files_are_rejected_with_a_reason(credit: Credit) -> None:
    missing = credit.records_file("missing.csv", [credit.record_row(0)], columns=["decision_number", "kind"])
    result = credit.ingest(missing)
    assert result.status == "rejected" and "缺少必填列" in (result.message or "")
    broken = credit.world.file("broken.csv", ",".join(["decision_number", "kind"]) + '\n"unterminated,x\n')
    assert credit.ingest(broken).status == "rejected"
    assert _count(credit, CreditRecord) == 0


def test_excel_records_with_date_cells(credit: Credit) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    headers = ["决定文书号", "类型", "行政相对人代码", "行政相对人名称", "类别", "内容", "依据", "决定日期"]
    sheet.append(headers)
    entity = credit.entities[0]
    sheet.append(
        ["许〔2026〕9号", "行政许可", entity.uscc, entity.name, "普通", "食品经营许可", "食品安全法", TODAY]
    )
    path = credit.world.tmp / "records.xlsx"
    workbook.save(path)
    result = credit.ingest(path)
    assert result.status == "applied", result.errors
    record = credit.db.scalars(select(CreditRecord)).one()
    assert record.decision_date == TODAY and record.publication_to is None


def test_list_entries_check_the_list_and_its_department(credit: Credit) -> None:
    credit.black_list()
    entity = credit.entities[0]
    columns = ["decision_number", "list_code", "subject_id", "subject_name", "reason", "basis", "period_from"]
    rows = [
        [
            "认定-1",
            "BLK-1",
            entity.uscc,
            entity.name,
            "虚假材料",
            "办法第五条",
            (TODAY - dt.timedelta(days=1)).isoformat(),
        ],
        ["认定-2", "NO-SUCH", entity.uscc, entity.name, "虚假材料", "办法第五条", TODAY.isoformat()],
        ["认定-1", "BLK-1", entity.uscc, entity.name, "重复", "办法第五条", TODAY.isoformat()],
    ]
    text = ",".join(columns) + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    result = credit.ingest(credit.world.file("entries.csv", text), kind="list_entries", mode="partial")
    assert (result.status, result.inserted) == ("partial", 1)
    reasons = {e.row: e.reason for e in result.errors}
    assert "不存在" in reasons[3] and "重复" in reasons[4]
    assert _count(credit, CreditListEntry) == 1


def test_only_the_departments_own_admin_may_deliver(credit: Credit) -> None:
    path = credit.records_file("r.csv", [credit.record_row(0)])
    with pytest.raises(PermissionDenied):
        credit.ingest(path, actor=credit.other_admin)
    assert credit.ingest(path, actor=credit.admin).status == "applied"
