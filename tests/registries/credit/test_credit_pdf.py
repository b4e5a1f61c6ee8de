"""The credit report as a signed PDF: Chinese text extractable, signatures verify, any tampering fails;
the page's "下载PDF" button, the API and the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, StreamObject

from factories import login, make_token, make_user
from registries.credit.credit_helpers import Credit
from zhengwu.accounts.models import Role
from zhengwu.cli import cli
from zhengwu.crypto import sm2_generate_keypair, sm2_public_key_from_private
from zhengwu.registries.credit.pdf import (
    ATTACHMENT,
    BINDING,
    credit_report_pdf,
    credit_report_pdf_verify,
    pdf_contents,
    report_digest,
)
from zhengwu.registries.credit.report import credit_report_build, credit_report_sign, platform_key


def _envelope(credit: Credit, tmp: Path) -> dict[str, Any]:
    credit.black_list()
    credit.put_on("BLK-1", credit.entities[0])
    assert credit.ingest(credit.records_file("r.csv", [credit.record_row(0)])).status == "applied"
    report = credit_report_build(credit.db, actor=credit.public, uscc=credit.entities[0].uscc)
    return credit_report_sign(report, platform_key(tmp))


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _rewrite(pdf: bytes, *, attachments: dict[str, bytes] | None = None, page_edit: Any = None) -> bytes:
    """A copy of ``pdf`` with the named attachments replaced, or page 1's content stream edited."""
    reader = PdfReader(io.BytesIO(pdf))
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    if page_edit is not None:
        page = writer.pages[0]
        stream = StreamObject()
        contents = page.get_contents()
        assert contents is not None
        stream.set_data(page_edit(contents.get_data()))
        page[NameObject("/Contents")] = writer._add_object(stream)
    kept = {name: data[0] for name, data in reader.attachments.items()}
    for name, data in {**kept, **(attachments or {})}.items():
        writer.add_attachment(name, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_is_chinese_text_and_carries_the_verifiable_report(credit: Credit, tmp_path: Path) -> None:
    envelope = _envelope(credit, tmp_path)
    pdf = credit_report_pdf(envelope, platform_key(tmp_path))
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    entity = credit.entities[0]
    for expected in (
        "法人和非法人组织信用报告",
        entity.uscc,
        entity.name,
        "严重违法失信主体名单",
        "行政处罚",
    ):
        assert expected in text, expected
    assert report_digest(envelope["report"]) in text.replace("\n", "")
    assert envelope["signature"]["key_fingerprint"] in text.replace("\n", "")
    contents = pdf_contents(pdf)
    assert contents.envelope == json.loads(json.dumps(envelope))
    public_pem = sm2_public_key_from_private(platform_key(tmp_path))
    result = credit_report_pdf_verify(pdf, public_pem=public_pem)
    assert result.valid and result.key_fingerprint == envelope["signature"]["key_fingerprint"]
    assert credit_report_pdf_verify(pdf).valid
    _, other_public = sm2_generate_keypair()
    assert not credit_report_pdf_verify(pdf, public_pem=other_public).valid


def test_tampered_pdfs_fail(credit: Credit, tmp_path: Path) -> None:
    envelope = _envelope(credit, tmp_path)
    pdf = credit_report_pdf(envelope, platform_key(tmp_path))
    # The untouched copy still verifies (the rewriting itself changes nothing that is signed).
    assert credit_report_pdf_verify(_rewrite(pdf)).valid
    # 1. The attached report changed (a penalty hidden).
    changed = json.loads(json.dumps(envelope))
    changed["report"]["summary"]["penalty"] = 0
    forged = _rewrite(pdf, attachments={ATTACHMENT: json.dumps(changed, ensure_ascii=False).encode()})
    verdict = credit_report_pdf_verify(forged)
    assert not verdict.valid and "does not match" in verdict.reason
    # 2. The printed page changed, the attachments kept: the page binding fails.
    uscc = credit.entities[0].uscc
    edited = _rewrite(pdf, page_edit=lambda data: data + b"\nBT 100 100 Td (VOID) Tj ET\n")
    verdict = credit_report_pdf_verify(edited)
    assert not verdict.valid and "pages were changed" in verdict.reason
    # 3. A binding made up for the edited pages, without the platform key.
    binding = dict(pdf_contents(pdf).binding or {})
    binding["pages_sm3"] = pdf_contents(edited).pages_sm3
    rebound = _rewrite(edited, attachments={BINDING: json.dumps(binding).encode()})
    verdict = credit_report_pdf_verify(rebound)
    assert not verdict.valid and "binding signature" in verdict.reason
    # 4. A plain PDF, or no PDF at all.
    plain = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.write(plain)
    assert "no credit-report.json" in credit_report_pdf_verify(plain.getvalue()).reason
    assert not credit_report_pdf_verify(b"%PDF-1.4 broken " + uscc.encode()).valid


def test_cli_verifies_a_pdf(credit: Credit, tmp_path: Path) -> None:
    envelope = _envelope(credit, tmp_path)
    pdf = credit_report_pdf(envelope, platform_key(tmp_path))
    saved = tmp_path / "report.pdf"
    saved.write_bytes(pdf)
    key = tmp_path / "platform.pem"
    key.write_bytes(sm2_public_key_from_private(platform_key(tmp_path)))
    runner = CliRunner()
    ok = runner.invoke(cli, ["credit", "report-verify", str(saved), "--public-key", str(key)])
    assert ok.exit_code == 0 and "有效" in ok.output
    changed = json.loads(json.dumps(envelope))
    changed["report"]["subject"]["name"] = "别的公司"
    saved.write_bytes(_rewrite(pdf, attachments={ATTACHMENT: json.dumps(changed).encode()}))
    bad = runner.invoke(cli, ["credit", "report-verify", str(saved)])
    assert bad.exit_code == 1 and "无效" in bad.output


def test_page_button_and_downloads(credit: Credit, client: TestClient, tmp_path: Path) -> None:
    credit.black_list()
    credit.put_on("BLK-1", credit.entities[0])
    uscc = credit.entities[0].uscc
    user = make_user(credit.db, roles=[Role.DEVELOPER], department_id=credit.world.department_id)
    api = client.get(
        f"/api/v1/registries/credit/entities/{uscc}/report.pdf",
        headers={"Authorization": f"Bearer {make_token(credit.db, user)}"},
    )
    assert api.status_code == 200 and api.headers["content-type"] == "application/pdf"
    assert credit_report_pdf_verify(api.content).valid
    assert client.get(f"/api/v1/registries/credit/entities/{uscc}/report.pdf").status_code == 401
    assert (
        client.get(
            "/api/v1/registries/credit/entities/123/report.pdf", headers=api.request.headers
        ).status_code
        == 400
    )
    login(client, user.username)
    page = client.get(f"/registries/credit/entities/{uscc}/report")
    assert page.status_code == 200 and "下载PDF" in page.text and f"/entities/{uscc}/report.pdf" in page.text
    download = client.get(f"/registries/credit/entities/{uscc}/report.pdf")
    assert download.status_code == 200
    assert download.headers["content-disposition"] == f'attachment; filename="credit-report-{uscc}.pdf"'
    assert credit.entities[0].name in _text(download.content)
    assert credit_report_pdf_verify(download.content).valid
