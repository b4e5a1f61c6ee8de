"""Readers of the tabular files a publisher uploads: CSV (UTF-8, UTF-8 with BOM, GBK), XLSX, JSON lines.

Every reader gives a header and ``(row_number, values)`` pairs aligned to it; row numbers are what a
person sees in the file (the CSV line, the worksheet row, the JSON line; the header is row 1 where
there is one). Problems of the whole file (unknown encoding, broken quoting, ragged rows, a corrupt
workbook, bad JSON) are collected with their row, column and reason and raised together as one
:class:`~zhengwu.errors.ValidationError`, so a publisher can fix the file in one go.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from zhengwu.errors import ValidationError
from zhengwu.textfiles import detect_text_encoding

FORMATS: Final = ("csv", "xlsx", "jsonl")
_SUFFIXES: Final = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
MAX_ERRORS: Final = 50
# PostgreSQL truncates identifiers longer than 63 bytes; a Chinese character takes 3 of them.
MAX_NAME_BYTES: Final = 63

Row = tuple[int, list[Any]]


@dataclass
class Problem:
    """One thing wrong with an uploaded file, where a person can find it."""

    row: int | None
    column: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class Source:
    """An opened table: its header, a factory of its rows (each call reads from the start)."""

    header: list[str]
    rows: Callable[[], Iterator[Row]]
    file_format: str
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)


def file_error(
    reason: str, reason_en: str, *, code: str, problems: Iterable[Problem] = ()
) -> ValidationError:
    """A problem with the whole file: nothing of it is loaded."""
    listed = [p.to_dict() for p in problems][:MAX_ERRORS]
    return ValidationError(
        reason, message_en=reason_en, code=f"datastore.file.{code}", field="file", errors=listed or None
    )


def format_of(path: Path, declared: str | None = None) -> str:
    """The format named by ``declared`` or by the file's suffix."""
    kind = (declared or "").lower().lstrip(".") or _SUFFIXES.get(path.suffix.lower())
    if kind in ("json", "ndjson"):
        kind = "jsonl"
    if kind not in FORMATS:
        raise file_error(
            f"无法识别文件“{path.name}”的格式，支持 CSV、XLSX、JSON Lines",
            f"unsupported file '{path.name}': use CSV, XLSX or JSON lines",
            code="format",
        )
    return str(kind)


def file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file, read in 1 MiB chunks: the same upload twice is recognised."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def detect_encoding(path: Path) -> tuple[str, str | None]:
    """The encoding of a text file: UTF-8 with or without BOM, else GB18030 (a superset of GBK)."""
    return detect_text_encoding(path, code_prefix="datastore.file")


def check_header(raw: list[Any]) -> list[str]:
    """Field names as the datastore will use them: trimmed, non-empty, unique, safe as identifiers."""
    names = ["" if v is None else str(v).strip() for v in raw]
    while names and names[-1] == "":
        names.pop()  # spreadsheets often carry empty trailing header cells
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, name in enumerate(names, start=1):
        where = f"第 {i} 列"
        if not name:
            problems.append(Problem(1, where, "表头为空"))
        elif name.startswith("_"):
            problems.append(Problem(1, name, "字段名不能以下划线开头（保留给 _id 等系统字段）"))
        elif '"' in name or "\x00" in name or any(ord(c) < 32 for c in name):
            problems.append(Problem(1, name, "字段名不能包含双引号或控制字符"))
        elif len(name.encode()) > MAX_NAME_BYTES:
            problems.append(Problem(1, name, f"字段名过长（超过 {MAX_NAME_BYTES} 字节，约 21 个汉字）"))
        elif name.lower() in seen:
            problems.append(Problem(1, name, "字段名重复（不区分大小写）"))
        seen.add(name.lower())
    if not names:
        raise file_error("文件为空，没有表头", "the file is empty (no header row)", code="empty")
    if problems:
        raise file_error(
            "表头有误，未导入任何数据", "bad header, nothing loaded", code="header", problems=problems
        )
    return names


def open_csv(path: Path) -> Source:
    """A CSV file; the encoding is detected, the delimiter sniffed among comma, tab and semicolon."""
    encoding, note = detect_encoding(path)
    with path.open("r", encoding=encoding, newline="", errors="replace") as fh:
        first = fh.readline()
    if not first.strip():
        raise file_error("文件为空，没有表头", "the file is empty (no header row)", code="empty")
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","

    def reader(fh: io.TextIOBase) -> Iterator[tuple[int, list[str]]]:
        rows = csv.reader(fh, delimiter=delimiter, strict=True)
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                raise file_error(
                    f"第 {max(rows.line_num, 1)} 行格式有误：{_csv_reason(exc)}",
                    f"malformed CSV at line {rows.line_num}: {exc}",
                    code="csv",
                    problems=[Problem(max(rows.line_num, 1), None, _csv_reason(exc))],
                ) from exc
            except UnicodeDecodeError as exc:
                raise file_error(
                    f"第 {rows.line_num + 1} 行附近有无法按 {encoding} 解码的字节",
                    f"undecodable bytes near line {rows.line_num + 1}",
                    code="encoding",
                    problems=[Problem(rows.line_num + 1, None, "编码错误")],
                ) from exc
            yield rows.line_num, values

    with path.open("r", encoding=encoding, newline="") as fh:
        first_row = next(reader(fh), None)
    if first_row is None:
        raise file_error("文件为空，没有表头", "the file is empty (no header row)", code="empty")
    header = check_header(first_row[1])
    width = len(header)

    def rows() -> Iterator[Row]:
        with path.open("r", encoding=encoding, newline="") as fh:
            it = reader(fh)
            next(it, None)
            for line, values in it:
                if not values or (len(values) == 1 and values[0] == ""):
                    continue  # blank line
                if len(values) != width:
                    if len(values) > width and not any(v.strip() for v in values[width:]):
                        values = values[:width]  # trailing empty cells from spreadsheets
                    else:
                        raise file_error(
                            f"第 {line} 行有 {len(values)} 个字段，表头有 {width} 个",
                            f"line {line} has {len(values)} fields, the header has {width}",
                            code="width",
                            problems=[Problem(line, None, f"字段数 {len(values)} 与表头 {width} 不符")],
                        )
                yield line, list(values)

    return Source(header, rows, "csv", encoding, [note] if note else [])


def _csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return f"字段超过 {csv.field_size_limit() // 1024} KiB 上限"
    if "EOF inside string" in text or "unexpected end of data" in text:
        return "引号未闭合"
    if "expected" in text and "after" in text:
        return "引号使用错误（引号内的引号应写成两个双引号）"
    return "CSV 格式错误"


def open_xlsx(path: Path) -> Source:
    """The first worksheet of an XLSX workbook, read in read-only (streaming) mode."""

    def sheet_rows() -> Iterator[tuple[int, tuple[Any, ...]]]:
        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
            raise file_error(
                "无法打开 Excel 文件（文件损坏或不是 .xlsx）",
                "cannot open the workbook (corrupt or not .xlsx)",
                code="xlsx",
            ) from exc
        try:
            ws = wb.worksheets[0]
            yield from enumerate(ws.iter_rows(values_only=True), start=1)
        finally:
            wb.close()

    first = next(sheet_rows(), None)
    if first is None:
        raise file_error("工作表为空，没有表头", "the worksheet is empty (no header row)", code="empty")
    header = check_header(list(first[1]))
    width = len(header)

    def rows() -> Iterator[Row]:
        it = sheet_rows()
        next(it, None)
        for number, values in it:
            cells = list(values[:width]) + [None] * (width - len(values))
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
                continue
            if any(v is not None and str(v).strip() for v in values[width:]):
                raise file_error(
                    f"第 {number} 行在表头以外的列有数据",
                    f"row {number} has values beyond the header",
                    code="width",
                    problems=[Problem(number, None, "表头以外的列有数据")],
                )
            yield number, cells

    return Source(header, rows, "xlsx")


def _jsonl_objects(path: Path, encoding: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("r", encoding=encoding) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise file_error(
                    f"第 {number} 行不是合法的 JSON：{exc.msg}",
                    f"line {number} is not valid JSON: {exc.msg}",
                    code="json",
                    problems=[Problem(number, None, "JSON 格式错误")],
                ) from exc
            if not isinstance(obj, dict):
                raise file_error(
                    f"第 {number} 行应为 JSON 对象",
                    f"line {number} must be a JSON object",
                    code="json",
                    problems=[Problem(number, None, "应为 JSON 对象")],
                )
            yield number, obj


def records_source(
    objects: Callable[[], Iterator[tuple[int, dict[str, Any]]]], file_format: str, encoding: str | None = None
) -> Source:
    """A table from JSON objects: the header is the union of their keys in order of first appearance."""
    keys: dict[str, None] = {}
    for _, obj in objects():
        for key in obj:
            keys.setdefault(key, None)
    if not keys:
        raise file_error("没有任何记录", "no records", code="empty")
    header = check_header(list(keys))
    by_raw = list(keys)

    def rows() -> Iterator[Row]:
        for number, obj in objects():
            yield number, [obj.get(k) for k in by_raw]

    return Source(header, rows, file_format, encoding)


def open_jsonl(path: Path) -> Source:
    """A JSON lines file: one object per line."""
    encoding, _ = detect_encoding(path)
    return records_source(lambda: _jsonl_objects(path, encoding), "jsonl", encoding)


def open_records(records: list[dict[str, Any]]) -> Source:
    """Records given inline (CKAN ``datastore_create`` with ``records``)."""
    bad = [Problem(i, None, "应为 JSON 对象") for i, r in enumerate(records, 1) if not isinstance(r, dict)]
    if bad:
        raise file_error("records 中有非对象的元素", "records must be objects", code="json", problems=bad)
    return records_source(lambda: iter(enumerate(records, start=1)), "records")


def open_source(path: Path, file_format: str | None = None) -> Source:
    """Open ``path`` with the reader of its format."""
    kind = format_of(path, file_format)
    if kind == "csv":
        return open_csv(path)
    if kind == "xlsx":
        return open_xlsx(path)
    return open_jsonl(path)
