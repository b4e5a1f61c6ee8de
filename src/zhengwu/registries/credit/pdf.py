"""The credit report as a signed PDF (信用报告 PDF版): Chinese pages that carry the signed JSON.

Rendering: reportlab with its built-in CID font ``STSong-Light`` (Adobe-GB1): no font file is needed
or embedded, every PDF reader has the font, and the text stays extractable. A4, one table per section,
as many pages as needed; the footer of every page prints the report's SM3 digest and the signing
key's fingerprint, so a printed copy can be matched with the signed report.

What makes the PDF verifiable (``zhengwu credit report-verify FILE.pdf``):

1. the signed envelope of :func:`~.report.credit_report_sign` (report + detached SM2 signature) is
   attached to the PDF as the embedded file :data:`ATTACHMENT` — the same check as for the JSON;
2. a **binding**: ``{"report_sm3", "pages_sm3"}`` signed with the same key, stored in the attachment
   :data:`BINDING`; ``pages_sm3`` is the SM3 of the page content streams in order (decoded). It ties
   the visible pages to the signed report: changing a printed figure changes a content stream and the
   binding fails, even though the attached report still verifies.

Attachments are written and read with pypdf.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any, Final

from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from zhengwu.crypto import CryptoError, sm2_sign, sm2_verify, sm3_hash
from zhengwu.registries.credit.report import (
    ALGORITHM,
    Verification,
    canonical_bytes,
    credit_report_verify,
)

FONT: Final = "STSong-Light"
ATTACHMENT: Final = "credit-report.json"
BINDING: Final = "credit-report-binding.json"
_KIND_ZH: Final = {"licensing": "行政许可", "penalty": "行政处罚"}
_LIST_ZH: Final = {"red": "红名单", "black": "黑名单"}
_MEASURE_ZH: Final = {"reward": "激励", "punishment": "惩戒"}

pdfmetrics.registerFont(UnicodeCIDFont(FONT))
_BODY = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=14, wordWrap="CJK")
_SMALL = ParagraphStyle("small", parent=_BODY, fontSize=8, leading=11)
_H1 = ParagraphStyle("h1", parent=_BODY, fontSize=18, leading=26, spaceAfter=4)
_H2 = ParagraphStyle("h2", parent=_BODY, fontSize=12.5, leading=18, spaceBefore=10, spaceAfter=4)


def _p(text: Any, style: ParagraphStyle = _BODY) -> Paragraph:
    value = "—" if text is None or text == "" else str(text)
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Paragraph(escaped, style)


def _table(rows: list[list[Any]], widths: list[float], *, header: bool = True) -> Table:
    table = Table(
        [[c if isinstance(c, Paragraph) else _p(c, _SMALL) for c in r] for r in rows], colWidths=widths
    )
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONTNAME", (0, 0), (-1, -1), FONT),
    ]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.92, 0.92, 0.92)))
    table.setStyle(TableStyle(style))
    return table


def report_digest(report: dict[str, Any]) -> str:
    """SM3 of the report's canonical JSON, hex (printed on every page)."""
    return sm3_hash(canonical_bytes(report)).hex()


def _story(envelope: dict[str, Any]) -> list[Any]:
    r = envelope["report"]
    s = r["subject"]
    width = A4[0] - 36 * mm
    story: list[Any] = [
        _p("法人和非法人组织信用报告", _H1),
        _p(f"报告日期：{r['as_of_date']}　生成时间（UTC）：{r['generated_at']}", _SMALL),
        Spacer(1, 4 * mm),
        _table(
            [
                ["统一社会信用代码", s["uscc"]],
                ["名称", s["name"]],
                ["单位类型", s["entity_type"]],
                ["登记状态", s["status"]],
                ["成立日期", s["established_date"]],
                ["住所", s["address"]],
                ["法定代表人", s["legal_representative"]],
            ],
            [40 * mm, width - 40 * mm],
            header=False,
        ),
        _p("概要", _H2),
        _p(
            f"行政许可 {r['summary']['licensing']} 条；行政处罚 {r['summary']['penalty']} 条；"
            f"红名单 {r['summary']['red_lists']} 个；黑名单 {r['summary']['black_lists']} 个。"
        ),
        _p("行政许可与行政处罚（公示中）", _H2),
    ]
    rows: list[list[Any]] = [["类型", "决定文书号", "类别", "内容", "决定日期", "决定机关"]]
    for x in r["records"]:
        rows.append(
            [
                _KIND_ZH.get(x["kind"], x["kind"]),
                x["decision_number"],
                x["category"],
                x["content"],
                x["decision_date"],
                x.get("issuing_department_name") or x["issuing_department"],
            ]
        )
    if len(rows) == 1:
        rows.append(["无公示中的记录", "", "", "", "", ""])
    story.append(_table(rows, [18 * mm, 34 * mm, 18 * mm, width - 128 * mm, 22 * mm, 36 * mm]))
    story.append(_p("红黑名单及联合奖惩措施", _H2))
    if not r["lists"]:
        story.append(_p("不在任何有效名单中。"))
    for e in r["lists"]:
        story.append(
            _p(
                f"{e['list_name']}（{_LIST_ZH.get(e['list_type'], e['list_type'])}）：{e['reason']}；"
                f"决定文书号 {e['decision_number']}；有效期 {e['period_from']} 至 {e['period_to'] or '长期'}"
            )
        )
        for m in e["measures"]:
            dept = m.get("implementing_department_name") or m.get("implementing_department")
            story.append(_p(f"　· {_MEASURE_ZH.get(m['kind'], m['kind'])}：{m['content']}（{dept}）", _SMALL))
    story += [
        _p("签名与验证", _H2),
        _p(
            "本报告由平台以 SM2 签名。签名后的报告（JSON）作为附件嵌入本文件，页面内容另有签名绑定。"
            "离线验证：zhengwu credit report-verify 本文件.pdf --public-key 平台公钥.pem",
            _SMALL,
        ),
        _p(f"报告摘要（SM3）：{report_digest(r)}", _SMALL),
        _p(f"签名密钥指纹：{envelope['signature']['key_fingerprint']}", _SMALL),
    ]
    return story


def _footer(digest: str, fingerprint: str) -> Any:
    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawString(18 * mm, 10 * mm, f"报告摘要 SM3 {digest[:32]}… · 密钥指纹 {fingerprint[:16]}…")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    return draw


def _pages_digest(reader: PdfReader) -> str:
    """SM3 over the decoded content streams of every page, in order (length-prefixed)."""
    data = bytearray()
    for page in reader.pages:
        contents = page.get_contents()
        raw = b"" if contents is None else contents.get_data()
        data += len(raw).to_bytes(8, "big") + raw
    return sm3_hash(bytes(data)).hex()


def _binding_bytes(report_sm3: str, pages_sm3: str) -> bytes:
    return json.dumps({"pages_sm3": pages_sm3, "report_sm3": report_sm3}, sort_keys=True).encode("ascii")


def credit_report_pdf(envelope: dict[str, Any], private_pem: bytes) -> bytes:
    """The PDF of a signed envelope (:func:`~.report.credit_report_sign`), bound to its pages with
    ``private_pem`` (the key that signed the envelope)."""
    report = envelope["report"]
    digest = report_digest(report)
    footer = _footer(digest, envelope["signature"]["key_fingerprint"])
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"信用报告：{report['subject']['name']}",
        author="zhengwu 社会信用信息库",
        subject=f"{report['subject']['uscc']} {report['as_of_date']}",
        invariant=True,
    )
    doc.build(_story(envelope), onFirstPage=footer, onLaterPages=footer)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buffer.getvalue())))
    pages = _pages_digest(PdfReader(io.BytesIO(buffer.getvalue())))
    binding = _binding_bytes(digest, pages)
    writer.add_attachment(ATTACHMENT, json.dumps(envelope, ensure_ascii=False).encode("utf-8"))
    writer.add_attachment(
        BINDING,
        json.dumps(
            {
                "algorithm": ALGORITHM,
                "report_sm3": digest,
                "pages_sm3": pages,
                "value": sm2_sign(private_pem, binding).hex(),
            }
        ).encode("ascii"),
    )
    writer.add_metadata(
        {"/ZhengwuReportSM3": digest, "/ZhengwuKeyFingerprint": envelope["signature"]["key_fingerprint"]}
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass(frozen=True)
class PdfContents:
    """What a report PDF carries: the signed envelope and the page binding (None if absent)."""

    envelope: dict[str, Any]
    binding: dict[str, Any] | None
    pages_sm3: str


class NotAReportPdf(ValueError):
    """The file is not a PDF or carries no signed credit report."""


def pdf_contents(data: bytes) -> PdfContents:
    """Read the attachments of a report PDF; raises :class:`NotAReportPdf` if they are missing."""
    try:
        reader = PdfReader(io.BytesIO(data))
        attachments = reader.attachments
        pages = _pages_digest(reader)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise NotAReportPdf(f"not a readable PDF: {exc}") from exc
    if ATTACHMENT not in attachments:
        raise NotAReportPdf(f"no {ATTACHMENT} attachment")
    try:
        envelope = json.loads(attachments[ATTACHMENT][0])
        binding = json.loads(attachments[BINDING][0]) if BINDING in attachments else None
    except ValueError as exc:
        raise NotAReportPdf(f"attachment is not JSON: {exc}") from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("report"), dict):
        raise NotAReportPdf("the attachment is not a report envelope")
    if not isinstance(envelope.get("signature"), dict):
        raise NotAReportPdf("the attachment has no signature")
    return PdfContents(envelope, binding if isinstance(binding, dict) else None, pages)


def credit_report_pdf_verify(data: bytes, *, public_pem: bytes | None = None) -> Verification:
    """Verify a report PDF: the attached report's signature, then that the pages are the ones signed.

    With ``public_pem`` both signatures must be by that key; otherwise the envelope's key is used.
    """
    try:
        contents = pdf_contents(data)
    except NotAReportPdf as exc:
        return Verification(False, None, str(exc))
    envelope = contents.envelope
    result = credit_report_verify(envelope["report"], envelope["signature"], public_pem=public_pem)
    if not result.valid:
        return result
    binding = contents.binding
    if binding is None:
        return Verification(False, result.key_fingerprint, "the PDF carries no page binding")
    digest = report_digest(envelope["report"])
    if binding.get("report_sm3") != digest:
        return Verification(False, result.key_fingerprint, "the page binding names another report")
    if binding.get("pages_sm3") != contents.pages_sm3:
        return Verification(False, result.key_fingerprint, "the pages were changed after signing")
    key = public_pem or str(envelope["signature"].get("public_pem") or "").encode("ascii")
    try:
        ok = sm2_verify(
            key, _binding_bytes(digest, contents.pages_sm3), bytes.fromhex(str(binding.get("value")))
        )
    except (CryptoError, ValueError) as exc:
        return Verification(False, result.key_fingerprint, f"malformed page binding: {exc}")
    if not ok:
        return Verification(False, result.key_fingerprint, "the page binding signature does not match")
    return result
