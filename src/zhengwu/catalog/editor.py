"""The entry editor form: what the data administrator typed, as typed, and its errors in Chinese.

The form has the metadata fields and a table of data element rows (``el-<row>-<field>``). Blank rows are
ignored, so the page can always offer a few spare rows; "添加更多行" re-renders with more, and a block
copied from an Excel sheet (tab-separated, or CSV) can be pasted and turned into rows. Errors name the
field, and for a data element the row number the person sees, because row numbers of the typed table
and positions of the saved elements differ once blank or deleted rows are skipped.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from zhengwu.catalog.models import ElementType, Sensitivity
from zhengwu.catalog.schemas import (
    ELEMENT_LABELS_ZH,
    ENUM_LABELS_ZH,
    FIELD_LABELS_ZH,
    ResourceOut,
)
from zhengwu.catalog.snapshots import CONTENT_FIELDS
from zhengwu.errors import ZhengwuError

# The metadata the form shows: the content fields of a version, with the provider after the name.
META_FIELDS = (CONTENT_FIELDS[0], "provider_id", *CONTENT_FIELDS[1:])
ROW_FIELDS = ("name", "name_en", "data_type", "length", "identifies_person", "sensitivity", "description")
SPARE_ROWS = 3
MORE_ROWS = 5
MAX_ROWS = 1000
_TRUE = {"1", "on", "true", "yes", "y", "是", "√", "✓", "t"}
_SPLIT = re.compile(r"[,，、;；\s]+")


@dataclass
class EditorForm:
    """The editor's state: strings exactly as typed, plus the errors to show next to them."""

    values: dict[str, str]
    rows: list[dict[str, str]]
    row_version: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    messages: list[tuple[str, str]] = field(default_factory=list)  # (anchor id, message)

    def row_error(self, index: int) -> bool:
        """Whether any field of table row ``index`` has an error (the row is highlighted)."""
        return any(key.startswith(f"el-{index}-") for key in self.errors)

    def add_error(self, key: str, message: str, anchor: str) -> None:
        self.errors.setdefault(key, message)
        self.messages.append((anchor, message))


def _blank_row() -> dict[str, str]:
    return {
        "name": "",
        "name_en": "",
        "data_type": ElementType.STRING.value,
        "length": "",
        "identifies_person": "",
        "sensitivity": Sensitivity.INTERNAL.value,
        "description": "",
    }


def _is_blank(row: dict[str, str]) -> bool:
    return not any(row.get(f, "").strip() for f in ("name", "name_en", "length", "description"))


def with_spare_rows(rows: list[dict[str, str]], spare: int = SPARE_ROWS) -> list[dict[str, str]]:
    """The typed rows without trailing blank ones, plus ``spare`` blank rows to type into."""
    kept = list(rows)
    while kept and _is_blank(kept[-1]):
        kept.pop()
    return (kept + [_blank_row() for _ in range(spare)])[:MAX_ROWS]


def form_new(provider_id: int | None) -> EditorForm:
    """An empty editor with sensible defaults (the commonest choices of the guideline's examples)."""
    values = dict.fromkeys(META_FIELDS, "")
    values.update(
        provider_id=str(provider_id or ""),
        category="departmental",
        format="database",
        share_type="conditional",
        delivery="api",
        open_type="closed",
        update_frequency="daily",
        secrecy="unclassified",
    )
    return EditorForm(values=values, rows=with_spare_rows([], spare=5))


def form_from_resource(resource: ResourceOut) -> EditorForm:
    """The editor filled with an entry's working copy."""
    values = {f: "" for f in META_FIELDS}
    for name in META_FIELDS:
        value = getattr(resource, name, "")
        if isinstance(value, list):
            values[name] = ("\n" if name == "related_codes" else "、").join(value)
        else:
            values[name] = "" if value is None else str(value)
    rows = [
        {
            "name": e.name,
            "name_en": e.name_en,
            "data_type": e.data_type.value,
            "length": "" if e.length is None else str(e.length),
            "identifies_person": "1" if e.identifies_person else "",
            "sensitivity": e.sensitivity.value,
            "description": e.description,
        }
        for e in resource.elements
    ]
    return EditorForm(values=values, rows=with_spare_rows(rows), row_version=str(resource.row_version))


def form_from_post(form: Any) -> EditorForm:
    """The editor as posted (a Starlette FormData or a plain dict of strings)."""
    values = {f: str(form.get(f, "") or "") for f in META_FIELDS}
    count = min(_int(form.get("row_count")), MAX_ROWS)
    rows: list[dict[str, str]] = []
    for i in range(count):
        if form.get(f"el-{i}-delete"):
            continue
        rows.append({f: str(form.get(f"el-{i}-{f}", "") or "") for f in ROW_FIELDS})
    return EditorForm(values=values, rows=rows, row_version=str(form.get("row_version", "") or ""))


def _int(value: Any) -> int:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else 0


def _enum_value(cls: type, text: str) -> str:
    # Accept the English value or the Chinese label, as people type either in their sheets.
    text = text.strip()
    labels = ENUM_LABELS_ZH[cls]
    if text in labels:
        return text
    for value, label in labels.items():
        if text == label:
            return value
    return text


def parse_paste(text: str) -> list[dict[str, str]]:
    """Rows from text copied out of a spreadsheet: tab-separated (Excel) or comma-separated (CSV).

    Columns: 名称, 英文标识, 数据类型, 长度, 可识别个人, 敏感级别, 说明; a header line is skipped.
    """
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines:
        return []
    delimiter = "\t" if any("\t" in line for line in lines) else ","
    rows: list[dict[str, str]] = []
    for cells in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter):
        cells = [c.strip() for c in cells] + [""] * 7
        if cells[0] in ("名称", "信息项名称", "name") and not rows:
            continue
        rows.append(
            {
                "name": cells[0],
                "name_en": cells[1],
                "data_type": _enum_value(ElementType, cells[2]) if cells[2] else ElementType.STRING.value,
                "length": cells[3],
                "identifies_person": "1" if cells[4].lower() in _TRUE else "",
                "sensitivity": _enum_value(Sensitivity, cells[5]) if cells[5] else Sensitivity.INTERNAL.value,
                "description": cells[6],
            }
        )
    return rows


def payload(ef: EditorForm, *, include_provider: bool) -> tuple[dict[str, Any], list[int]]:
    """The schema input built from the form, and for each element the table row it came from."""
    v = ef.values
    data: dict[str, Any] = {
        f: v.get(f, "")
        for f in META_FIELDS
        if f not in ("provider_id", "related_codes", "keywords", "topic_code")
    }
    data["topic_code"] = v.get("topic_code") or None
    data["related_codes"] = [c for c in _SPLIT.split(v.get("related_codes", "")) if c]
    data["keywords"] = [k for k in _SPLIT.split(v.get("keywords", "")) if k]
    if include_provider:
        data["provider_id"] = _int(v.get("provider_id")) or None
    elements: list[dict[str, Any]] = []
    rows_of: list[int] = []
    for index, row in enumerate(ef.rows):
        if _is_blank(row):
            continue
        length = row.get("length", "").strip()
        elements.append(
            {
                "name": row.get("name", ""),
                "name_en": row.get("name_en", "").strip(),
                "data_type": row.get("data_type", ""),
                "length": None if not length else (int(length) if length.isdigit() else length),
                "identifies_person": row.get("identifies_person", "").lower() in _TRUE,
                "sensitivity": row.get("sensitivity", ""),
                "description": row.get("description", ""),
            }
        )
        rows_of.append(index)
    data["elements"] = elements
    if ef.row_version:
        data["row_version"] = _int(ef.row_version)
    return data, rows_of


def _pattern_hint(name: str, in_element: bool) -> str:
    if in_element and name == "name_en":
        return "只能用小写英文字母、数字和下划线，以字母开头，如 resident_id"
    if name == "classification":
        return (
            "格式应为 类-项-目-细目，如 3-01-002-001"
            "（类 1 位：1 基础、2 主题、3 部门；项 2 位；目 3 位；细目 1–6 位）"
        )
    if name == "related_codes":
        return "不是有效的信息资源代码（如 3-01-001-001-330000-GA-00001）"
    return "格式不正确"


def _reason(err: Any, name: str, in_element: bool) -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "必填"
    if kind == "string_too_short":
        return "不能为空" if ctx.get("min_length", 1) <= 1 else f"至少 {ctx['min_length']} 个字"
    if kind == "string_too_long":
        return f"最多 {ctx.get('max_length')} 个字（现有 {len(str(err.get('input', '')))} 个）"
    if kind == "string_pattern_mismatch":
        return _pattern_hint(name, in_element)
    if kind in ("enum", "literal_error"):
        return f"“{err.get('input')}”不是有效的选项"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "须为正整数"
    if kind == "greater_than_equal":
        return f"不能小于 {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"不能大于 {ctx.get('le')}"
    if kind == "too_long":
        return f"最多 {ctx.get('max_length')} 项"
    if kind == "value_error":
        return str(err.get("msg", "")).removeprefix("Value error, ")
    return str(err.get("msg", "无效"))


def record_pydantic_errors(ef: EditorForm, exc: PydanticValidationError, rows_of: list[int]) -> None:
    """Put pydantic's errors on the form in Chinese, naming the field and the table row."""
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        if len(loc) >= 3 and loc[0] == "elements" and isinstance(loc[1], int):
            row = rows_of[loc[1]] if loc[1] < len(rows_of) else loc[1]
            name = str(loc[2])
            label = ELEMENT_LABELS_ZH.get(name, name)
            ef.add_error(
                f"el-{row}-{name}",
                f"第 {row + 1} 行信息项的{label}：{_reason(err, name, True)}",
                f"el-{row}-{name}",
            )
            continue
        name = str(loc[0]) if loc else ""
        label = FIELD_LABELS_ZH.get(name, name)
        suffix = f"（第 {int(loc[1]) + 1} 项）" if len(loc) > 1 and isinstance(loc[1], int) else ""
        ef.add_error(name, f"{label}{suffix}：{_reason(err, name, False)}", f"f-{name}")


def record_service_error(ef: EditorForm, exc: ZhengwuError, rows_of: list[int]) -> None:
    """Put a service's error (or its list of errors) on the form, translating element positions to rows."""
    items = exc.details.get("errors") or [{"field": exc.field, "reason": exc.message}]
    for item in items:
        field_name = str(item.get("field") or "")
        reason = str(item.get("reason") or exc.message)
        parts = field_name.split(".")
        if len(parts) == 3 and parts[0] == "elements" and parts[1].isdigit():
            position = int(parts[1])
            row = rows_of[position] if position < len(rows_of) else position
            # The service counts saved elements; people see table rows.
            reason = re.sub(r"第 \d+ 个信息项", f"第 {row + 1} 行信息项", reason, count=1)
            reason = re.sub(r"与第 (\d+) 个重复", lambda m: _dup_row(m, rows_of), reason)
            ef.add_error(f"el-{row}-{parts[2]}", reason, f"el-{row}-{parts[2]}")
        elif field_name:
            ef.add_error(field_name, reason, f"f-{field_name}")
        else:
            ef.add_error("_form", reason, "errors")


def _dup_row(match: re.Match[str], rows_of: list[int]) -> str:
    position = int(match.group(1)) - 1
    row = rows_of[position] if 0 <= position < len(rows_of) else position
    return f"与第 {row + 1} 行重复"


def validate(ef: EditorForm, model: type[BaseModel], *, include_provider: bool) -> tuple[Any, list[int]]:
    """The schema object, or None with the errors recorded on the form."""
    data, rows_of = payload(ef, include_provider=include_provider)
    try:
        return model.model_validate(data), rows_of
    except PydanticValidationError as exc:
        record_pydantic_errors(ef, exc, rows_of)
        return None, rows_of
