"""Bulk import: all or nothing, errors located by sheet/row/column, and the files departments really send."""

from __future__ import annotations

import datetime as dt
import io
import json
from types import SimpleNamespace

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import make_department
from factories_catalog import make_resource
from zhengwu.accounts.permissions import Actor
from zhengwu.audit.models import AuditEvent
from zhengwu.catalog.models import DataElement, Resource, ResourceStatus
from zhengwu.catalog.transfer.services import catalog_import
from zhengwu.errors import PermissionDenied, ValidationError

Admin = tuple[Actor, int]


def _run(db: Session, admin: Admin, data: bytes, name: str = "目录.xlsx", **kw: object):
    actor, _dept = admin
    return catalog_import(db, actor=actor, data=data, filename=name, **kw)  # type: ignore[arg-type]


def _count(db: Session, dept: int) -> int:
    return int(db.scalar(select(func.count()).select_from(Resource).where(Resource.provider_id == dept)) or 0)


def _reasons(report) -> list[str]:
    return [f"{e.sheet}|{e.row}|{e.column}|{e.reason}" for e in report.errors]


def test_preview_then_apply_creates_drafts_with_their_elements(
    db: Session, admin: Admin, files: SimpleNamespace
) -> None:
    data = files.xlsx(
        [
            files.resource_row(1, "户籍人口基本信息"),
            files.resource_row(2, "出生登记信息", 共享类型="无条件共享", 共享条件=""),
        ],
        [
            files.element_row(1, "公民身份号码", "resident_id", 是否可识别个人="是", 敏感级别="敏感"),
            files.element_row(1, "姓名", "person_name"),
            files.element_row(2, "出生日期", "birth_date", 数据类型="日期型", 数据长度=None),
        ],
    )
    preview = _run(db, admin, data)
    assert preview.ok and not preview.applied
    assert (preview.created, preview.updated, preview.unchanged) == (2, 0, 0)
    assert [(i.name, i.elements, i.code) for i in preview.items] == [
        ("户籍人口基本信息", 2, None),
        ("出生登记信息", 1, None),
    ]
    assert _count(db, admin[1]) == 0

    done = _run(db, admin, data, apply=True)
    assert done.applied and done.created == 2
    rows = db.scalars(select(Resource).where(Resource.provider_id == admin[1]).order_by(Resource.id)).all()
    assert [(r.name, r.status) for r in rows] == [
        ("户籍人口基本信息", ResourceStatus.DRAFT),
        ("出生登记信息", ResourceStatus.DRAFT),
    ]
    assert [i.code for i in done.items] == [r.code for r in rows]
    assert [e.name_en for e in rows[0].elements] == ["resident_id", "person_name"]
    assert rows[0].elements[0].identifies_person and rows[0].elements[0].length == 18
    assert rows[0].keywords == ["户籍", "人口"]
    assert db.scalar(select(AuditEvent.details).where(AuditEvent.action == "catalog.import")) == {
        "filename": "目录.xlsx",
        "created": 2,
        "updated": 0,
        "unchanged": 0,
    }


def test_one_bad_cell_imports_nothing_and_every_problem_is_located(
    db: Session, admin: Admin, files: SimpleNamespace
) -> None:
    data = files.xlsx(
        [
            files.resource_row(1, "户籍人口基本信息"),
            files.resource_row(2, "社保缴费记录", 共享类型="看情况"),
            files.resource_row(3, "X", 更新周期="每两天"),
        ],
        [files.element_row(1, "姓名", "Person Name"), files.element_row(9, "孤儿", "orphan")],
    )
    report = _run(db, admin, data, apply=True)
    assert not report.ok and not report.applied
    assert _count(db, admin[1]) == 0
    reasons = _reasons(report)
    assert any(r.startswith("信息资源|3|G 列（共享类型）|“看情况”不是有效的共享类型") for r in reasons), (
        reasons
    )
    assert any(r.startswith("信息资源|4|M 列（更新周期）|“每两天”不是有效的更新周期") for r in reasons), (
        reasons
    )
    assert any(r.startswith("信息资源|4|B 列（信息资源名称）|") and "至少 2 个字" in r for r in reasons), (
        reasons
    )
    assert any(r.startswith("信息项|2|C 列（英文标识）|“英文标识”格式不正确") for r in reasons), reasons
    assert any(r.startswith("信息项|3|None|资源序号“9”在“信息资源”表中找不到") for r in reasons), reasons


def test_rules_of_the_editor_apply_to_imports(db: Session, admin: Admin, files: SimpleNamespace) -> None:
    data = files.xlsx(
        [files.resource_row(1, "户籍人口基本信息", 信息资源分类="1-01-001-001")],
        [files.element_row(1, "姓名", "person_name"), files.element_row(1, "姓名2", "person_name")],
    )
    report = _run(db, admin, data)
    reasons = _reasons(report)
    assert any("信息资源|2|D 列（信息资源分类）|资源分类的“类”应为 3" in r for r in reasons), reasons
    assert any(r.startswith("信息项|3|C 列（英文标识）|") and "重复" in r for r in reasons), reasons


def test_codes_update_own_drafts_only(db: Session, admin: Admin, files: SimpleNamespace) -> None:
    _actor, dept = admin
    draft = make_resource(db, provider_id=dept, name="婚姻登记信息", published=False, elements=1)
    published = make_resource(db, provider_id=dept, name="收养登记信息", elements=1)
    other = make_resource(db, provider_id=make_department(db).id, name="他人的草稿", published=False)
    headers = [*files.RESOURCE_HEADERS, "信息资源代码"]
    rows = [
        [*files.resource_row(1, "婚姻登记信息（修订）"), draft.code],
        [*files.resource_row(2, "收养登记信息"), published.code],
        [*files.resource_row(3, "他人的草稿"), other.code],
        [*files.resource_row(4, "不存在的代码"), "3-01-001-001-T9999-00001"],
    ]
    element_rows = [files.element_row(i, "姓名", "person_name") for i in (1, 2, 3, 4)]
    report = _run(db, admin, files.xlsx(rows, element_rows, resource_headers=headers))
    reasons = _reasons(report)
    assert any("已发布：请先在目录管理中点击“修订”" in r for r in reasons), reasons
    assert any("属于其他部门" in r for r in reasons), reasons
    assert any("不存在；新建资源请留空代码" in r for r in reasons), reasons
    ok = _run(db, admin, files.xlsx(rows[:1], element_rows[:1], resource_headers=headers), apply=True)
    assert ok.updated == 1 and ok.items[0].code == draft.code
    assert "信息资源名称" in ok.items[0].changes
    db.expire_all()
    assert db.scalar(select(Resource.name).where(Resource.code == draft.code)) == "婚姻登记信息（修订）"


def test_gbk_and_utf8_csv_with_or_without_bom(db: Session, admin: Admin, files: SimpleNamespace) -> None:
    headers = [*files.RESOURCE_HEADERS, "信息项名称", "英文标识", "数据类型"]
    rows = [
        [*files.resource_row(1, "不动产登记簿"), "不动产单元号", "property_unit_no", "字符型"],
        [*files.resource_row(1, "不动产登记簿"), "权利人", "right_holder", "字符型"],
        [*files.resource_row(2, "宅基地审批"), "", "", ""],
    ]
    for encoding in ("gbk", "utf-8-sig", "utf-8"):
        report = _run(db, admin, files.flat_csv(rows, headers, encoding=encoding), f"目录-{encoding}.csv")
        assert report.ok, (encoding, _reasons(report))
        assert [(i.name, i.elements) for i in report.items] == [("不动产登记簿", 2), ("宅基地审批", 0)]


def test_full_width_digits_spaces_and_excel_dates(db: Session, admin: Admin, files: SimpleNamespace) -> None:
    headers = [*files.RESOURCE_HEADERS, "发布日期"]
    row = [
        *files.resource_row(1, "\u3000户籍人口基本信息\u3000", 信息资源分类="３－０１－００１－００１"),
        dt.datetime(2024, 3, 1),
    ]
    element = files.element_row(1, "登记日期", "registered_on", 数据长度="１８", 说明=dt.datetime(2024, 3, 1))
    report = _run(db, admin, files.xlsx([row], [element], resource_headers=headers), apply=True)
    assert report.ok, _reasons(report)
    resource = db.scalar(select(Resource).where(Resource.provider_id == admin[1]))
    assert resource is not None
    assert resource.name == "户籍人口基本信息" and resource.classification == "3-01-001-001"
    assert resource.elements[0].length == 18 and resource.elements[0].description == "2024-03-01"


def test_merged_headers_title_rows_and_empty_trailing_rows(
    db: Session, admin: Admin, files: SimpleNamespace
) -> None:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "信息资源"
    ws.append(["某某部门政务信息资源目录（2026 年）"])
    ws.merge_cells("A1:O1")
    top = list(files.RESOURCE_HEADERS)
    sub = ["" for _ in top]
    for i, header in enumerate(top):
        if header in ("共享类型", "共享条件", "不予共享依据", "共享方式"):
            top[i], sub[i] = ("共享属性" if header == "共享类型" else ""), header
    ws.append(top)
    ws.append(sub)
    for col in range(1, len(top) + 1):  # every other header is merged over the two header rows
        if sub[col - 1] == "":
            ws.merge_cells(start_row=2, end_row=3, start_column=col, end_column=col)
    ws.merge_cells("G2:J2")
    ws.append(files.resource_row(1, "户籍人口基本信息"))
    for _ in range(40):
        ws.append([None] * len(top))
    ws.cell(row=60, column=2).number_format = "@"  # formatting far below the data
    el = book.create_sheet("信息项")
    el.append(files.ELEMENT_HEADERS)
    el.append(files.element_row(1, "姓名", "person_name"))
    el.append([])
    out = io.BytesIO()
    book.save(out)
    report = _run(db, admin, out.getvalue())
    assert report.ok, _reasons(report)
    assert [(i.sheet, i.row, i.name, i.elements) for i in report.items] == [
        ("信息资源", 4, "户籍人口基本信息", 1)
    ]


def test_unknown_columns_warn_and_missing_required_columns_fail(
    db: Session, admin: Admin, files: SimpleNamespace
) -> None:
    headers = [*files.RESOURCE_HEADERS, "内部备注"]
    report = _run(
        db,
        admin,
        files.xlsx(
            [[*files.resource_row(1, "户籍人口基本信息"), "x"]],
            [files.element_row(1, "姓名", "person_name")],
            resource_headers=headers,
        ),
    )
    assert report.ok
    assert [w.reason for w in report.warnings] == ["未知的列，已忽略"]
    assert report.warnings[0].column == "P 列（内部备注）"

    missing = [h for h in files.RESOURCE_HEADERS if h != "共享类型"]
    row = [
        v
        for h, v in zip(files.RESOURCE_HEADERS, files.resource_row(1, "户籍人口基本信息"), strict=True)
        if h != "共享类型"
    ]
    report = _run(db, admin, files.xlsx([row], [], resource_headers=missing))
    assert not report.ok
    assert report.errors[0].reason == "缺少必填列“共享类型”" and report.errors[0].row == 1


def test_size_limits_and_unreadable_files(db: Session, admin: Admin, files: SimpleNamespace) -> None:
    data = files.xlsx([files.resource_row(1, "户籍人口基本信息")], [])
    with pytest.raises(ValidationError) as exc:
        _run(db, admin, data, max_bytes=1000)
    assert exc.value.code == "catalog.import.too_large" and exc.value.field == "file"
    with pytest.raises(ValidationError) as exc:
        _run(db, admin, b"PK\x03\x04 not really a zip", "x.xlsx")
    assert exc.value.code == "catalog.import.unreadable"
    with pytest.raises(ValidationError):
        _run(db, admin, b"\x00\x01", "x.pdf")


def test_formula_cells_without_a_result_are_errors(db: Session, admin: Admin, files: SimpleNamespace) -> None:
    data = files.xlsx(
        [files.resource_row(1, "户籍人口基本信息", 信息资源摘要='=CONCATENATE(B2,"的摘要")')],
        [files.element_row(1, "姓名", "person_name")],
    )
    report = _run(db, admin, data)
    assert not report.ok
    assert report.errors[0].column == "E 列（信息资源摘要）"
    assert "公式" in report.errors[0].reason


def test_injection_strings_are_stored_verbatim(db: Session, admin: Admin, files: SimpleNamespace) -> None:
    headers = [*files.RESOURCE_HEADERS, "信息项名称", "英文标识", "数据类型"]
    nasty = '=HYPERLINK("http://evil.example","点我")'
    rows = [
        [
            *files.resource_row(1, nasty, 信息资源摘要="'; DROP TABLE catalog_resources; --"),
            "@SUM(1)",
            "x1",
            "字符型",
        ]
    ]
    report = _run(db, admin, files.flat_csv(rows, headers), "x.csv", apply=True)
    assert report.ok, _reasons(report)
    resource = db.scalar(select(Resource).where(Resource.provider_id == admin[1]))
    assert resource is not None
    assert resource.name == nasty and resource.summary == "'; DROP TABLE catalog_resources; --"
    assert db.scalar(select(DataElement.name).where(DataElement.resource_id == resource.id)) == "@SUM(1)"


def test_departments_import_into_their_own_department_only(
    db: Session, admin: Admin, files: SimpleNamespace
) -> None:
    other = make_department(db, name="省民政厅")
    data = files.xlsx(
        [files.resource_row(1, "户籍人口基本信息")], [files.element_row(1, "姓名", "person_name")]
    )
    with pytest.raises(PermissionDenied):
        _run(db, admin, data, department_id=other.id)
    headers = [*files.RESOURCE_HEADERS, "信息资源提供方"]
    report = _run(
        db,
        admin,
        files.xlsx([[*files.resource_row(1, "户籍人口基本信息"), "省民政厅"]], [], resource_headers=headers),
    )
    assert any("与导入部门“省公安厅”不一致" in e.reason for e in report.errors)


def test_json_import_with_english_fields(db: Session, admin: Admin) -> None:
    doc = {
        "resources": [
            {
                "name": "企业法人登记信息",
                "category": "departmental",
                "classification": "3-02-001",
                "summary": "法人登记。",
                "format": "database",
                "share_type": "unconditional",
                "delivery": "api",
                "open_type": "closed",
                "update_frequency": "daily",
                "keywords": ["法人"],
                "mystery": 1,
                "elements": [
                    {"name": "统一社会信用代码", "name_en": "uscc", "data_type": "string", "length": 18}
                ],
            }
        ]
    }
    report = _run(db, admin, json.dumps(doc, ensure_ascii=False).encode(), "目录.json", apply=True)
    assert report.ok and report.created == 1, _reasons(report)
    assert [w.column for w in report.warnings] == ["mystery"]
    bad = _run(
        db,
        admin,
        json.dumps({"resources": [{"name": "甲乙", "elements": [{"name_en": "X"}]}]}).encode(),
        "b.json",
    )
    assert not bad.ok
    assert {e.column for e in bad.errors} >= {"category", "share_type"}
