"""The credit registry's quality report and ingestion history (pages and use case), on the shared
quality measures of the registries."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from factories import login, make_user
from registries.credit.credit_helpers import Credit
from zhengwu.accounts.models import Role
from zhengwu.errors import PermissionDenied, ValidationError
from zhengwu.registries.credit.models import BATCH_RECORDS
from zhengwu.registries.credit.quality import RECORD_OPTIONAL, credit_quality


def _deliver(credit: Credit) -> int:
    """Three good records (two of them the same decision under two numbers) and one bad row, partial."""
    rows = [
        credit.record_row(0),
        credit.record_row(0, decision_number="测市监罚〔2026〕901号"),
        credit.record_row(1, amount_yuan=""),
        credit.record_row(2, subject_id="123"),
    ]
    result = credit.ingest(credit.records_file("r.csv", rows), mode="partial")
    assert (result.status, result.inserted, result.rows_invalid) == ("partial", 3, 1)
    return result.batch_id


def test_quality_counts_completeness_duplicates_and_batches(credit: Credit) -> None:
    batch_id = _deliver(credit)
    quality = credit_quality(credit.db, actor=credit.admin)
    report = quality.records
    assert report.registry == BATCH_RECORDS and report.records == 3
    assert report.duplicates == 1 and "决定文书号不同" in report.duplicate_rule
    amount = next(c for c in report.completeness if c.field == "amount_yuan")
    assert (amount.filled, amount.total) == (2, 3)
    assert [c.field for c in report.completeness] == list(RECORD_OPTIONAL)
    (source,) = report.sources
    assert (source.source_department, source.records, source.batches) == (credit.source, 3, 1)
    assert (source.rows_read, source.rows_invalid) == (4, 1)
    assert [b.id for b in report.batches] == [batch_id] and report.batches[0].has_error_file
    assert quality.entries.records == 0 and quality.entries.batches == []
    assert report.stale == 0


def test_quality_refusals_and_bad_input(credit: Credit) -> None:
    with pytest.raises(PermissionDenied):
        credit_quality(credit.db, actor=credit.public)
    with pytest.raises(PermissionDenied):
        credit_quality(credit.db, actor=credit.developer)
    with pytest.raises(ValidationError) as bad:
        credit_quality(credit.db, actor=credit.admin, stale_days=0)
    assert bad.value.field == "stale_days"


def test_pages_show_quality_and_batches_with_error_files(credit: Credit, client: TestClient) -> None:
    batch_id = _deliver(credit)
    user = make_user(credit.db, roles=[Role.DATA_ADMIN], department_id=credit.world.department_id)
    login(client, user.username)
    quality = client.get("/registries/credit/quality")
    assert quality.status_code == 200
    for expected in ("数据质量", "双公示记录", "红黑名单成员", "罚没金额", credit.source):
        assert expected in quality.text, expected
    batches = client.get("/registries/credit/batches")
    assert batches.status_code == 200 and f"#{batch_id}" in batches.text
    link = f"/registries/batches/{batch_id}/errors"
    assert link in batches.text
    errors = client.get(link)
    assert errors.status_code == 200 and errors.headers["content-type"].startswith("text/csv")
    assert "subject_id" in errors.text
    assert client.get("/registries/credit/quality", params={"stale_days": 0}).status_code == 400
    # The population/entity pages render the same shared tables.
    assert "字段完整率" in client.get("/registries/population/quality").text


def test_pages_need_a_batch_role(credit: Credit, client: TestClient) -> None:
    user = make_user(credit.db, roles=[Role.DEVELOPER], department_id=credit.world.department_id)
    login(client, user.username)
    assert client.get("/registries/credit/quality").status_code == 403
    assert client.get("/registries/credit/batches").status_code == 403
