"""Bulk import of catalog entries: validated as a whole, applied all or nothing.

An import belongs to one department (the caller's, or any for a platform admin). Every row becomes a
draft of that department, or updates that department's draft (or open revision) with the same code.
Validation runs in three layers and collects every problem before anything is kept:

1. reading (``readers``): file type, encoding, sheets, header, formula cells, sizes;
2. cells: labels of enums, numbers, yes/no, lists, the topic, the provider, codes and their state;
3. the entry use cases themselves (``resource_create``/``resource_update``), run inside a savepoint that
   is rolled back unless everything passed and ``apply`` was asked: the import enforces exactly the
   editor's rules, and a preview shows exactly what applying would do.

Problems name the sheet, the row as Excel numbers it, the column, and the reason in Chinese.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department
from zhengwu.accounts.permissions import Actor, require_department_admin, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.catalog.entries import EDITOR_ROLES, snapshot_now, under_review
from zhengwu.catalog.models import Resource, ResourceStatus, Topic
from zhengwu.catalog.schemas import (
    ELEMENT_LABELS_ZH,
    FIELD_LABELS_ZH,
    ResourceCreate,
    ResourceIn,
    ResourceUpdate,
)
from zhengwu.catalog.services import resource_create, resource_update
from zhengwu.catalog.snapshots import CONTENT_FIELDS, diff_snapshots
from zhengwu.catalog.transfer.layout import (
    ELEMENT_COLUMNS,
    FLAT_ELEMENT_COLUMNS,
    LIST_SEPARATORS,
    NO,
    RESOURCE_COLUMNS,
    YES,
    Column,
    key_of,
)
from zhengwu.catalog.transfer.readers import Cells, FileTooLarge, Issue, Parsed, read_upload
from zhengwu.catalog.transfer.schemas import ExportFile, ImportItem, ImportReport, IssueOut
from zhengwu.catalog.transfer.writers import neutralise, xlsx_row
from zhengwu.errors import ValidationError, ZhengwuError

DEFAULT_MAX_IMPORT_BYTES = 20 * 1024 * 1024
_RESOURCE_BY_KEY = {c.key: c for c in RESOURCE_COLUMNS}
_ELEMENT_BY_KEY = {c.key: c for c in ELEMENT_COLUMNS} | {c.key: c for c in FLAT_ELEMENT_COLUMNS}
_CONTENT_KEYS = CONTENT_FIELDS
_PYDANTIC_HINTS = {
    "classification": "应为“类-项-目-细目”，如 3-01-002-001",
    "name_en": "应以小写字母开头，只含小写字母、数字和下划线，如 resident_id",
    "related_codes": "不是有效的信息资源代码",
}


@dataclass
class _Entry:
    """One resource of the file on its way to a use case."""

    cells: Cells
    elements: list[Cells] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    code: str = ""
    action: str = "create"
    resource: Resource | None = None
    changes: list[str] = field(default_factory=list)
    failed: bool = False


class _Issues:
    """Collects issues; knows how to word a cell's problem."""

    def __init__(self, parsed: Parsed) -> None:
        self.items: list[Issue] = list(parsed.issues)

    def cell(self, cells: Cells, key: str, reason: str) -> None:
        self.items.append(Issue(cells.sheet, cells.row, cells.column(key) or _header(key), reason))

    def row(self, cells: Cells, reason: str) -> None:
        self.items.append(Issue(cells.sheet, cells.row, None, reason))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.items if i.level == "error"]


def _header(key: str) -> str:
    column = _RESOURCE_BY_KEY.get(key) or _ELEMENT_BY_KEY.get(key)
    return column.header if column else key


# --- cells to values ---------------------------------------------------------------------------------


def _plain(text: str) -> str:
    # Codes and numbers: full-width digits, letters, hyphens and spaces to ASCII, no spaces at all.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _value(column: Column, raw: str, cells: Cells, issues: _Issues) -> tuple[bool, Any]:
    """(present, value) of one cell; records an issue and returns (False, None) when it is invalid."""
    key = column.key
    text = raw.strip()
    if not text:
        if column.required:
            issues.cell(cells, key, f"“{column.header}”为必填项")
        return False, None
    if column.kind == "enum":
        value = column.choices.get(key_of(text))
        if value is None:
            allowed = column.note.split("；")[0] or "、".join(sorted(set(column.choices.values())))
            issues.cell(cells, key, f"“{text}”不是有效的{column.header}，可选：{allowed}")
            return False, None
        return True, value
    if column.kind == "int":
        digits = _plain(text)
        if not digits.isdigit():
            issues.cell(cells, key, f"“{text}”不是正整数")
            return False, None
        return True, int(digits)
    if column.kind == "bool":
        k = key_of(text)
        if k in YES:
            return True, True
        if k in NO:
            return True, False
        issues.cell(cells, key, f"“{text}”应为“是”或“否”")
        return False, None
    if column.kind == "list":
        return True, [p.strip() for p in LIST_SEPARATORS.split(text) if p.strip()]
    if key in ("code", "classification", "resource_code", "provider_code", "row_key"):
        return True, _plain(text)
    return True, text


def _resource_values(
    entry: _Entry,
    issues: _Issues,
    topics: dict[str, str],
    topic_names: dict[str, str],
    *,
    per_row_required: bool,
) -> None:
    cells = entry.cells
    out: dict[str, Any] = {}
    for key, raw in cells.values.items():
        column = _RESOURCE_BY_KEY.get(key)
        if column is None or column.kind in ("export", "key") or key.startswith("el_"):
            continue
        present, value = _value(column, raw, cells, issues)
        if present:
            out[key] = value
    for column in RESOURCE_COLUMNS:
        if column.required and column.key not in cells.values and per_row_required:
            # JSON has no header: a missing field is reported on its resource (sheets once per sheet).
            issues.cell(cells, column.key, f"缺少必填字段“{column.header}”")
    topic = out.pop("topic_code", None)
    if topic:
        code = topic if topic in topics else topic_names.get(topic)
        if code is None:
            issues.cell(cells, "topic_code", f"主题分类“{topic}”不存在（填写主题分类的代码或名称）")
        else:
            out["topic_code"] = code
    flag = out.pop("open_flag", None)
    if "open_type" not in out:
        if flag is None:
            if not any(k in cells.values and cells.values[k].strip() for k in ("open_flag", "open_type")):
                issues.cell(cells, "open_type", "请填写“是否向社会开放”或“开放类型”")
        else:
            out["open_type"] = ("conditional" if out.get("open_conditions") else "open") if flag else "closed"
    entry.code = out.pop("code", "") or ""
    out.pop("provider_name", None)
    out.pop("provider_code", None)
    entry.data = out


def _element_values(rows: list[Cells], issues: _Issues) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = []
    for cells in rows:
        element: dict[str, Any] = {}
        for key, raw in cells.values.items():
            column = _ELEMENT_BY_KEY.get(key)
            if column is None or column.kind == "key" or key in ("resource_code", "resource_name"):
                continue
            present, value = _value(column, raw, cells, issues)
            if present:
                element[key.removeprefix("el_")] = value
        element.setdefault("identifies_person", False)
        element.setdefault("description", "")
        elements.append(element)
    return elements


# --- grouping rows into entries ----------------------------------------------------------------------


def _link_key(cells: Cells, *, element: bool) -> tuple[str, str]:
    v = cells.values
    row_key = _plain(v.get("row_key", ""))
    if row_key:
        return "row_key", row_key
    code = _plain(v.get("resource_code" if element else "code", ""))
    if code:
        return "code", code
    return "name", (v.get("resource_name" if element else "name", "") or "").strip()


def _entries(parsed: Parsed, issues: _Issues) -> list[_Entry]:
    if parsed.nested is not None:  # JSON: elements travel with their resource
        return [_Entry(cells=c, elements=parsed.nested.get(c.row, [])) for c in parsed.resources]
    if parsed.flat:
        return _flat_entries(parsed.resources, issues)
    entries = [_Entry(cells=c) for c in parsed.resources]
    index: dict[tuple[str, str], list[_Entry]] = {}
    for entry in entries:
        v = entry.cells.values
        for kind, value in (
            ("row_key", _plain(v.get("row_key", ""))),
            ("code", _plain(v.get("code", ""))),
            ("name", (v.get("name") or "").strip()),
        ):
            if value:
                index.setdefault((kind, value), []).append(entry)
    for cells in parsed.elements:
        kind, value = _link_key(cells, element=True)
        targets = index.get((kind, value), []) if value else []
        label = {"row_key": "资源序号", "code": "信息资源代码", "name": "信息资源名称"}[kind]
        if not value:
            issues.row(cells, "请填写资源序号、信息资源代码或信息资源名称，以对应到“信息资源”表中的资源")
        elif not targets:
            issues.row(cells, f"{label}“{value}”在“信息资源”表中找不到")
        elif len(targets) > 1:
            issues.row(cells, f"{label}“{value}”在“信息资源”表中有 {len(targets)} 行，无法确定对应哪一个")
        else:
            targets[0].elements.append(cells)
    return entries


def _flat_entries(rows: list[Cells], issues: _Issues) -> list[_Entry]:
    """CSV: consecutive or scattered rows of one resource (same 序号, code or name) form one entry."""
    entries: dict[tuple[str, str], _Entry] = {}
    resource_keys = [k for k in _RESOURCE_BY_KEY if _RESOURCE_BY_KEY[k].kind not in ("export",)]
    for cells in rows:
        key = _link_key(cells, element=False)
        resource_part = Cells(
            cells.sheet,
            cells.row,
            {k: v for k, v in cells.values.items() if not k.startswith("el_")},
            cells.where,
        )
        element_part = Cells(
            cells.sheet,
            cells.row,
            {k: v for k, v in cells.values.items() if k.startswith("el_")},
            cells.where,
        )
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = _Entry(cells=resource_part)
        else:
            for k in resource_keys:
                mine, first = resource_part.values.get(k, "").strip(), entry.cells.values.get(k, "").strip()
                if mine and mine != first:
                    issues.cell(
                        cells, k, f"与第 {entry.cells.row} 行同一资源的“{_header(k)}”不一致（“{first}”）"
                    )
        if any(element_part.values.get(k, "").strip() for k in ("el_name", "el_name_en", "el_data_type")):
            entry.elements.append(element_part)
    return list(entries.values())


# --- validation --------------------------------------------------------------------------------------

_PYDANTIC_ZH = {
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "too_long": "最多 {max_length} 项",
    "too_short": "至少 {min_length} 项",
    "greater_than_equal": "应不小于 {ge}",
    "less_than_equal": "应不大于 {le}",
    "missing": "为必填项",
}


def _pydantic_reason(err: Any, field_name: str, label: str) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return f"“{label}”格式不正确：{_PYDANTIC_HINTS.get(field_name, '请检查取值')}"
    if kind in _PYDANTIC_ZH:
        return f"“{label}”" + _PYDANTIC_ZH[kind].format(
            **{k: ctx.get(k, "") for k in ("min_length", "max_length", "ge", "le")}
        )
    message = str(err.get("msg", "")).removeprefix("Value error, ")
    return f"“{label}”无效：{message}"


def _locate(entry: _Entry, loc: tuple[Any, ...] | list[Any]) -> tuple[Cells, str, str]:
    """(cells, field key, Chinese label) of a field path like ('elements', 2, 'name_en')."""
    if (
        loc
        and loc[0] == "elements"
        and len(loc) >= 3
        and isinstance(loc[1], int)
        and loc[1] < len(entry.elements)
    ):
        cells = entry.elements[loc[1]]
        key = str(loc[2])
        flat_key = "el_" + key if ("el_" + key) in cells.where else key
        return cells, flat_key, ELEMENT_LABELS_ZH.get(key, key)
    key = str(loc[0]) if loc else ""
    return entry.cells, key, FIELD_LABELS_ZH.get(key, _header(key))


def _validate(entry: _Entry, elements: list[dict[str, Any]], issues: _Issues) -> ResourceIn | None:
    try:
        return ResourceIn.model_validate({**entry.data, "elements": elements})
    except PydanticValidationError as exc:
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            if (loc and loc[0] in entry.data) or (loc and loc[0] == "elements"):
                cells, key, label = _locate(entry, loc)
                issues.cell(
                    cells,
                    key,
                    _pydantic_reason(err, str(loc[-1]) if loc[0] == "elements" else str(loc[0]), label),
                )
            elif loc and loc[0] not in entry.data:
                pass  # a required column that is missing or empty was reported already
        return None


def _service_issues(entry: _Entry, exc: ZhengwuError, issues: _Issues) -> None:
    details = exc.details.get("errors") if isinstance(exc.details, dict) else None
    if not details:
        issues.row(entry.cells, exc.message)
        return
    for item in details:
        path = [int(p) if p.isdigit() else p for p in str(item.get("field") or "").split(".") if p]
        cells, key, _ = _locate(entry, path)
        issues.cell(cells, key, str(item.get("reason") or exc.message))


def _provider_matches(entry: _Entry, dept: Department, issues: _Issues) -> None:
    v = entry.cells.values
    name, code = (v.get("provider_name") or "").strip(), _plain(v.get("provider_code") or "")
    if name and name not in {dept.name, dept.short_name or dept.name}:
        issues.cell(
            entry.cells, "provider_name", f"提供方“{name}”与导入部门“{dept.name}”不一致：只能导入本部门的资源"
        )
    if code and code != dept.code:
        issues.cell(entry.cells, "provider_code", f"提供方代码“{code}”与导入部门代码“{dept.code}”不一致")


def _decide(db: Session, entry: _Entry, data: ResourceIn, dept: Department, issues: _Issues) -> None:
    """Create, update or leave unchanged; refuse codes of other departments and entries not editable."""
    if not entry.code:
        entry.action = "create"
        return
    resource = db.scalar(select(Resource).where(Resource.code == entry.code))
    if resource is None:
        issues.cell(entry.cells, "code", f"信息资源代码“{entry.code}”不存在；新建资源请留空代码")
        return
    if resource.provider_id != dept.id:
        issues.cell(entry.cells, "code", f"信息资源代码“{entry.code}”属于其他部门，不能导入修改")
        return
    entry.resource = resource
    before = snapshot_now(db, resource)
    after = {**data.model_dump(mode="json"), "elements": [e.model_dump(mode="json") for e in data.elements]}
    fields, added, removed, changed = diff_snapshots(before, after)
    entry.changes = [c.label for c in fields] + (["信息项"] if added or removed or changed else [])
    if not entry.changes:
        entry.action = "unchanged"
        return
    editable = resource.status in (ResourceStatus.DRAFT, ResourceStatus.REJECTED) or (
        resource.status == ResourceStatus.PUBLISHED
        and resource.has_draft_changes
        and not under_review(resource)
    )
    if editable:
        entry.action = "update"
    elif resource.status == ResourceStatus.PUBLISHED and not resource.has_draft_changes:
        issues.cell(entry.cells, "code", f"“{resource.name}”已发布：请先在目录管理中点击“修订”，再导入修改")
    elif resource.status == ResourceStatus.WITHDRAWN:
        issues.cell(entry.cells, "code", f"“{resource.name}”已撤销，不能修改")
    else:
        issues.cell(entry.cells, "code", f"“{resource.name}”正在审核，审核结束前不能修改")


def catalog_import(
    db: Session,
    *,
    actor: Actor,
    data: bytes,
    filename: str,
    max_bytes: int = DEFAULT_MAX_IMPORT_BYTES,
    department_id: int | None = None,
    apply: bool = False,
    zone: str = "extranet",
) -> ImportReport:
    """Validate a catalog file as a whole and, when ``apply`` and it has no errors, apply it at once.

    Department data administrators import into their own department, platform admins into
    ``department_id``. Without ``apply`` (or with any error) nothing is kept: the report shows what
    applying would create, update and leave unchanged, and every problem.
    """
    require_roles(actor, *EDITOR_ROLES)
    dept_id = department_id if department_id is not None else actor.department_id
    if dept_id is None:
        raise ValidationError(
            "请选择导入的部门", message_en="department_id is required", field="department_id"
        )
    require_department_admin(actor, dept_id)
    dept = db.get(Department, dept_id)
    if dept is None:
        raise ValidationError("部门不存在", message_en="department not found", field="department_id")
    try:
        parsed = read_upload(data, filename, max_bytes=max_bytes)
    except FileTooLarge as exc:
        raise ValidationError(
            f"{exc}，请拆分后分批导入",
            message_en="file too large",
            field="file",
            code="catalog.import.too_large",
        ) from exc
    except ValueError as exc:
        raise ValidationError(
            str(exc), message_en="unreadable file", field="file", code="catalog.import.unreadable"
        ) from exc

    issues = _Issues(parsed)
    topics = {code: name for code, name in db.execute(select(Topic.code, Topic.name))}
    topic_names = {name: code for code, name in topics.items()}
    entries = _entries(parsed, issues)
    if not entries and not issues.errors:
        issues.items.append(Issue("信息资源", None, None, "文件中没有资源行"))
    seen_codes: dict[str, int] = {}
    valid: list[tuple[_Entry, ResourceIn]] = []
    for entry in entries:
        before = len(issues.errors)
        _resource_values(entry, issues, topics, topic_names, per_row_required=parsed.nested is not None)
        _provider_matches(entry, dept, issues)
        if entry.code:
            if entry.code in seen_codes:
                issues.cell(entry.cells, "code", f"代码“{entry.code}”与第 {seen_codes[entry.code]} 行重复")
            seen_codes.setdefault(entry.code, entry.cells.row)
        elements = _element_values(entry.elements, issues)
        content = _validate(entry, elements, issues)
        if content is not None and len(issues.errors) == before:
            _decide(db, entry, content, dept, issues)
        if len(issues.errors) == before and content is not None:
            valid.append((entry, content))
        else:
            entry.failed = True

    outer = db.begin_nested()
    for entry, content in valid:
        if entry.action == "unchanged":
            continue
        step = db.begin_nested()
        try:
            if entry.action == "create":
                created = resource_create(
                    db,
                    actor=actor,
                    data=ResourceCreate(**content.model_dump(), provider_id=dept.id),
                    zone=zone,
                )
                entry.code = created.code
            else:
                assert entry.resource is not None
                resource_update(
                    db,
                    actor=actor,
                    code=entry.code,
                    data=ResourceUpdate(**content.model_dump(), row_version=entry.resource.row_version),
                    zone=zone,
                )
            step.commit()
        except ZhengwuError as exc:
            step.rollback()
            entry.failed = True
            _service_issues(entry, exc, issues)
    ok = not issues.errors
    if ok and apply:
        outer.commit()
    else:
        outer.rollback()
    report = _report(entries, issues, dept, filename, ok=ok, applied=ok and apply)
    if report.applied:
        audit_record(
            db,
            actor=actor,
            action="catalog.import",
            target_type="department",
            target_id=dept.code,
            details={
                "filename": filename[:200],
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
            },
        )
    return report


def _report(
    entries: list[_Entry], issues: _Issues, dept: Department, filename: str, *, ok: bool, applied: bool
) -> ImportReport:
    items = [
        ImportItem(
            action=e.action,
            sheet=e.cells.sheet,
            row=e.cells.row,
            name=str(e.data.get("name") or e.cells.values.get("name") or ""),
            code=(e.code or None) if (applied or e.action != "create") else None,
            elements=len(e.elements),
            changes=e.changes,
        )
        for e in entries
        if not e.failed
    ]
    out = [IssueOut(**i.to_dict()) for i in issues.items]
    return ImportReport(
        ok=ok,
        applied=applied,
        department_id=dept.id,
        department_name=dept.name,
        filename=filename,
        created=sum(1 for i in items if i.action == "create"),
        updated=sum(1 for i in items if i.action == "update"),
        unchanged=sum(1 for i in items if i.action == "unchanged"),
        items=items,
        errors=[i for i in out if i.level == "error"],
        warnings=[i for i in out if i.level == "warning"],
    )


# --- the error report as a file ----------------------------------------------------------------------

_ISSUE_HEADERS = ("工作表", "行", "列", "级别", "原因")


def _issue_rows(report: ImportReport) -> Iterable[tuple[Any, ...]]:
    for issue in [*report.errors, *report.warnings]:
        yield (
            issue.sheet,
            issue.row or "",
            issue.column or "",
            "错误" if issue.level == "error" else "提示",
            issue.reason,
        )


def import_issues_file(report: ImportReport, fmt: str = "xlsx") -> ExportFile:
    """The problems of an import as a small XLSX or CSV, for the person who fixes the file."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(_ISSUE_HEADERS)
        for row in _issue_rows(report):
            writer.writerow([neutralise(v) for v in row])
        return ExportFile(
            filename="导入错误报告.csv",
            media_type="text/csv; charset=utf-8",
            content=buffer.getvalue().encode("utf-8-sig"),
        )
    book = Workbook(write_only=True)
    sheet = book.create_sheet("错误报告")
    sheet.append(_ISSUE_HEADERS)
    for row in _issue_rows(report):
        sheet.append(xlsx_row(sheet, list(row)))
    out = io.BytesIO()
    book.save(out)
    return ExportFile(
        filename="导入错误报告.xlsx",
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        content=out.getvalue(),
    )
