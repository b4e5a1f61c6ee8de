"""Reading an uploaded catalog file (XLSX, CSV or JSON) into rows of cells, with every problem located.

Whatever the format, the result is the same: resource rows and element rows as ``{field key: text}``
with their sheet, row number and column, plus issues (sheet, row, column, reason in Chinese). Reading
never decides whether a value is *valid*; it only gets the text out faithfully:

- XLSX (openpyxl, read-only: rows are streamed, never the whole workbook as objects): the header row is
  found among the first rows (a title row above it is skipped) and completed from the row above where
  cells were merged vertically; dates become ``YYYY-MM-DD``; whole numbers lose their ``.0``; a formula
  cell gives its cached result, or an error if the file was never calculated. The zip's declared
  uncompressed size is checked first (a small file must not inflate to gigabytes).
- CSV: UTF-8 with or without BOM, UTF-16 with BOM, else GB18030 (a superset of GBK, what Excel writes on
  Chinese Windows); the delimiter is sniffed among ``,`` tab and ``;``. One flat table: resource columns
  repeated on each data element row.
- JSON: ``{"resources": [{...API field names..., "elements": [...]}]}``.

A cell that starts with an apostrophe followed by ``= + - @`` is read without the apostrophe: that is how
our CSV export neutralises formula injection, so an exported file imports back unchanged.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook

from zhengwu.catalog.transfer.layout import (
    ELEMENT_COLUMNS,
    ELEMENT_LINK_KEYS,
    ELEMENTS_SHEET,
    ELEMENTS_SHEET_ALIASES,
    FLAT_COLUMNS,
    RESOURCE_COLUMNS,
    RESOURCES_SHEET,
    RESOURCES_SHEET_ALIASES,
    Column,
    column_letter,
    find_column,
    key_of,
)

HEADER_SCAN_ROWS = 10
MAX_EMPTY_RUN = 500
MAX_RESOURCE_ROWS = 20_000
MAX_ELEMENT_ROWS = 400_000
MAX_INFLATION = 20  # uncompressed XLSX content may be at most this many times the size limit
INJECTION_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Issue:
    """One problem of an import, located for a person: sheet, row (1-based, as Excel shows), column."""

    sheet: str
    row: int | None
    column: str | None
    reason: str
    level: str = "error"  # error | warning

    def to_dict(self) -> dict[str, Any]:
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "reason": self.reason,
            "level": self.level,
        }


@dataclass
class Cells:
    """One row as text by field key, and where each field's cell is (for error messages)."""

    sheet: str
    row: int
    values: dict[str, str]
    where: dict[str, str]

    def column(self, key: str) -> str | None:
        return self.where.get(key)


@dataclass
class Parsed:
    """Everything read from one file."""

    resources: list[Cells] = field(default_factory=list)
    elements: list[Cells] = field(default_factory=list)
    # JSON keeps each resource's elements with it; other formats link them by keys (see services).
    nested: dict[int, list[Cells]] | None = None
    flat: bool = False  # CSV: every row carries resource columns and element columns
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]


class FileTooLarge(Exception):
    """The upload is over the size limit."""


def cell_text(value: Any) -> str:
    """The text of a cell as a person sees it (dates as ISO dates, 18.0 as 18)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@":
        text = text[1:]  # our own CSV export's guard against formula injection
    return text


# --- header detection -------------------------------------------------------------------------------


def _header_score(row: list[str], columns: tuple[Column, ...]) -> int:
    return sum(1 for cell in row if cell and find_column(columns, cell) is not None)


@dataclass
class _Header:
    row: int  # 1-based row number of the header
    by_index: dict[int, Column]


def _known(row: list[str], columns: tuple[Column, ...]) -> dict[int, Column]:
    return {i: c for i, text in enumerate(row) if text and (c := find_column(columns, text)) is not None}


def _resolve_header(
    rows: list[list[str]], columns: tuple[Column, ...], sheet: str, issues: list[Issue], kind: str
) -> _Header | None:
    """Find the header among the first rows, including a second header row above or below it.

    Departments' sheets often have a title row, and group headers merged across columns (“共享属性”
    over 共享类型/共享条件/共享方式) with the real names in the row below, while the other names are
    merged over both rows (their text sits in the upper row only). Per column, the lowest row that
    names a known column wins.
    """
    scores = [_header_score(r, columns) for r in rows]
    if not scores or max(scores) < 2:
        issues.append(Issue(sheet, None, None, "找不到表头：前 10 行中没有“信息资源名称”等列名"))
        return None
    best = scores.index(max(scores))
    band = [best]
    known_best = _known(rows[best], columns)
    for other in (best - 1, best + 1):
        if 0 <= other < len(rows):
            extra = _known(rows[other], columns)
            if extra and all(i not in known_best for i in extra):
                band.append(other)
    band.sort()
    by_index: dict[int, Column] = {}
    width = max(len(rows[r]) for r in band)
    for i in range(width):
        texts = [rows[r][i] for r in reversed(band) if i < len(rows[r]) and rows[r][i]]
        col = next((c for t in texts if (c := find_column(columns, t)) is not None), None)
        if col is None:
            if texts:
                issues.append(
                    Issue(
                        sheet,
                        band[-1] + 1,
                        f"{column_letter(i)} 列（{texts[0]}）",
                        "未知的列，已忽略",
                        "warning",
                    )
                )
            continue
        if col in by_index.values():
            issues.append(
                Issue(
                    sheet, band[-1] + 1, f"{column_letter(i)} 列（{col.header}）", f"重复的列“{col.header}”"
                )
            )
            continue
        by_index[i] = col
    header_row = band[-1] + 1
    present = set(by_index.values())
    for col in columns:
        if col.required and col not in present:
            issues.append(Issue(sheet, header_row, col.header, f"缺少必填列“{col.header}”"))
    if kind != "elements" and not present & {c for c in columns if c.key in ("open_flag", "open_type")}:
        issues.append(Issue(sheet, header_row, "开放类型", "缺少“是否向社会开放”或“开放类型”列"))
    if kind == "elements" and not present & {c for c in columns if c.key in ELEMENT_LINK_KEYS}:
        issues.append(Issue(sheet, header_row, "资源序号", "缺少“资源序号”“信息资源代码”或“信息资源名称”列"))
    return _Header(row=header_row, by_index=by_index)


def _cells(sheet: str, row_number: int, row: list[str], header: _Header) -> Cells:
    values: dict[str, str] = {}
    where: dict[str, str] = {}
    for i, col in header.by_index.items():
        if col.kind == "export":
            continue
        values[col.key] = row[i] if i < len(row) else ""
        where[col.key] = f"{column_letter(i)} 列（{col.header}）"
    return Cells(sheet, row_number, values, where)


def _table(
    sheet: str,
    rows: Iterable[tuple[int, list[str]]],
    columns: tuple[Column, ...],
    issues: list[Issue],
    max_rows: int,
    kind: str,
) -> list[Cells] | None:
    """Rows of one sheet (after its header) as Cells; None if the header is unusable."""
    iterator = iter(rows)
    head: list[tuple[int, list[str]]] = []
    for item in iterator:
        head.append(item)
        if len(head) >= HEADER_SCAN_ROWS:
            break
    header = _resolve_header([r for _, r in head], columns, sheet, issues, kind)
    if header is None:
        return None
    out: list[Cells] = []
    empty_run = 0

    def rest() -> Iterator[tuple[int, list[str]]]:
        yield from head[header.row :]
        yield from iterator

    for number, row in rest():
        if not any(row):
            empty_run += 1
            if empty_run >= MAX_EMPTY_RUN:
                break  # only formatting below: Excel's "used range" can reach a million empty rows
            continue
        empty_run = 0
        if len(out) >= max_rows:
            issues.append(Issue(sheet, number, None, f"行数超过上限 {max_rows}，请分批导入"))
            return None
        out.append(_cells(sheet, number, row, header))
    return out


# --- XLSX --------------------------------------------------------------------------------------------


def _find_sheet(names: list[str], aliases: tuple[str, ...]) -> str | None:
    wanted = {key_of(a) for a in aliases}
    return next((n for n in names if key_of(n) in wanted), None)


def _xlsx_rows(ws: Any, formulas: list[tuple[int, int]]) -> Iterator[tuple[int, list[str]]]:
    for number, row in enumerate(ws.iter_rows(), start=1):
        texts: list[str] = []
        for i, cell in enumerate(row):
            value = getattr(cell, "value", None)
            if getattr(cell, "data_type", None) == "f":
                formulas.append((number, i))
                texts.append("")
            else:
                texts.append(cell_text(value))
        yield number, texts


def _check_zip(data: bytes, max_bytes: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise ValueError("不是有效的 XLSX 文件（无法解压）") from exc
    if total > max_bytes * MAX_INFLATION:
        raise FileTooLarge("XLSX 解压后内容过大")


def read_xlsx(data: bytes, *, max_bytes: int) -> Parsed:
    """Read the resources and elements sheets of a workbook."""
    _check_zip(data, max_bytes)
    parsed = Parsed()
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for a damaged file; all mean the same
        raise ValueError("无法读取 XLSX 文件：" + type(exc).__name__) from exc
    names = list(book.sheetnames)
    res_name = _find_sheet(names, RESOURCES_SHEET_ALIASES) or (names[0] if len(names) == 1 else None)
    el_name = _find_sheet(names, ELEMENTS_SHEET_ALIASES)
    if res_name is None:
        parsed.issues.append(Issue(RESOURCES_SHEET, None, None, f"缺少工作表“{RESOURCES_SHEET}”"))
        book.close()
        return parsed
    formulas: dict[str, list[tuple[int, int]]] = {res_name: []}
    resources = _table(
        res_name,
        _xlsx_rows(book[res_name], formulas[res_name]),
        RESOURCE_COLUMNS,
        parsed.issues,
        MAX_RESOURCE_ROWS,
        "resources",
    )
    elements: list[Cells] | None = []
    if el_name is not None:
        formulas[el_name] = []
        elements = _table(
            el_name,
            _xlsx_rows(book[el_name], formulas[el_name]),
            ELEMENT_COLUMNS,
            parsed.issues,
            MAX_ELEMENT_ROWS,
            "elements",
        )
    else:
        parsed.issues.append(
            Issue(ELEMENTS_SHEET, None, None, f"缺少工作表“{ELEMENTS_SHEET}”，将不导入信息项", "warning")
        )
    book.close()
    if any(formulas.values()):
        _fill_formulas(
            data, formulas, {res_name: resources or [], el_name or "": elements or []}, parsed.issues
        )
    parsed.resources = resources or []
    parsed.elements = elements or []
    return parsed


def _fill_formulas(
    data: bytes,
    formulas: dict[str, list[tuple[int, int]]],
    tables: dict[str, list[Cells]],
    issues: list[Issue],
) -> None:
    """Replace formula cells by the result Excel cached in the file; an error where there is none."""
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet, cells in formulas.items():
            if not cells:
                continue
            wanted = set(cells)
            cached: dict[tuple[int, int], Any] = {}
            for number, row in enumerate(book[sheet].iter_rows(), start=1):
                for i, cell in enumerate(row):
                    if (number, i) in wanted:
                        cached[(number, i)] = getattr(cell, "value", None)
            by_row = {c.row: c for c in tables.get(sheet, [])}
            for number, i in sorted(wanted):
                target = by_row.get(number)
                if target is None:
                    continue  # a formula in the header area or an ignored row
                key = next(
                    (k for k, w in target.where.items() if w.startswith(f"{column_letter(i)} 列")), None
                )
                if key is None:
                    continue  # an ignored column
                value = cached.get((number, i))
                if value is None:
                    issues.append(
                        Issue(
                            sheet,
                            number,
                            target.where[key],
                            "单元格是公式且没有计算结果，请在 Excel 中重新计算或粘贴为数值",
                        )
                    )
                else:
                    target.values[key] = cell_text(value)
    finally:
        book.close()


# --- CSV ---------------------------------------------------------------------------------------------


def decode_text(data: bytes) -> str:
    """Decode CSV bytes: BOMs first, then strict UTF-8, then GB18030 (GBK's superset)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def read_csv(data: bytes) -> Parsed:
    """Read the flat CSV layout: resource columns and element columns on every row."""
    parsed = Parsed(flat=True)
    try:
        content = decode_text(data)
    except UnicodeDecodeError as exc:
        raise ValueError("无法识别 CSV 文件的字符编码（支持 UTF-8、GBK/GB18030、UTF-16）") from exc
    try:
        dialect: Any = csv.Sniffer().sniff(content[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    rows = (
        (n, [cell_text(c) for c in r]) for n, r in enumerate(csv.reader(io.StringIO(content), dialect), 1)
    )
    parsed.resources = _table("CSV", rows, FLAT_COLUMNS, parsed.issues, MAX_ELEMENT_ROWS, "flat") or []
    return parsed


# --- JSON --------------------------------------------------------------------------------------------

_JSON_RESOURCE_KEYS = {c.key for c in RESOURCE_COLUMNS if c.kind != "export"} | {"open_type", "provider_id"}
_JSON_ELEMENT_KEYS = {c.key for c in ELEMENT_COLUMNS} - {"row_key", "resource_code", "resource_name"}


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "；".join(_json_text(v) for v in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return cell_text(value)


def read_json(data: bytes) -> Parsed:
    """Read ``{"resources": [...]}`` (or a bare list) with the API's English field names."""
    parsed = Parsed(nested={})
    try:
        doc = json.loads(decode_text(data))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"不是有效的 JSON：{exc}") from exc
    items = doc.get("resources") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        parsed.issues.append(Issue("resources", None, None, 'JSON 应为 {"resources": [...]} 或资源数组'))
        return parsed
    if len(items) > MAX_RESOURCE_ROWS:
        parsed.issues.append(
            Issue("resources", None, None, f"资源数超过上限 {MAX_RESOURCE_ROWS}，请分批导入")
        )
        return parsed
    assert parsed.nested is not None
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            parsed.issues.append(Issue("resources", index, None, "每个资源应为一个 JSON 对象"))
            continue
        unknown = sorted(
            set(item)
            - _JSON_RESOURCE_KEYS
            - {"elements", "status", "version", "published_at", "provider_name", "topic_name", "id"}
        )
        for key in unknown:
            parsed.issues.append(Issue("resources", index, key, "未知的字段，已忽略", "warning"))
        values = {k: _json_text(v) for k, v in item.items() if k in _JSON_RESOURCE_KEYS}
        cells = Cells("resources", index, values, {k: k for k in _JSON_RESOURCE_KEYS})
        parsed.resources.append(cells)
        elements = item.get("elements") or []
        nested: list[Cells] = []
        if not isinstance(elements, list):
            parsed.issues.append(Issue("resources", index, "elements", "elements 应为数组"))
            elements = []
        for j, element in enumerate(elements, start=1):
            sheet = f"resources[{index}].elements"
            if not isinstance(element, dict):
                parsed.issues.append(Issue(sheet, j, None, "每个信息项应为一个 JSON 对象"))
                continue
            ev = {k: _json_text(v) for k, v in element.items() if k in _JSON_ELEMENT_KEYS}
            nested.append(Cells(sheet, j, ev, {k: k for k in _JSON_ELEMENT_KEYS}))
        parsed.nested[index] = nested
    return parsed


def read_upload(data: bytes, filename: str, *, max_bytes: int) -> Parsed:
    """Read a file by its extension (or content): .xlsx, .csv or .json."""
    if len(data) > max_bytes:
        raise FileTooLarge(f"文件超过大小上限 {max_bytes // 1024 // 1024} MB")
    name = filename.lower()
    if name.endswith(".xlsx") or data[:2] == b"PK":
        return read_xlsx(data, max_bytes=max_bytes)
    if name.endswith(".json") or data.lstrip(codecs.BOM_UTF8)[:1] in (b"{", b"["):
        return read_json(data)
    if name.endswith((".csv", ".txt")) or not name:
        return read_csv(data)
    raise ValueError("不支持的文件类型：请上传 .xlsx、.csv 或 .json 文件")
