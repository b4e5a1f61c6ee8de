"""Readers of the file formats departments deliver: CSV, Excel, Parquet, and a SQL query.

Every reader yields ``(row_number, values)`` pairs in the order of a header, so the validator does
not care where rows came from. Row numbers are what a person sees when opening the file: the line of a
CSV record (header = line 1), the worksheet row of an Excel sheet, the 1-based data row of a Parquet
file or a query result. Problems that make the whole file untrustworthy (unknown encoding, broken
quoting, a corrupt workbook, a failing query) raise :class:`~zhengwu.errors.ValidationError` with
a Chinese reason; problems of single rows are left to the validator.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pyarrow.parquet as pq
from openpyxl import load_workbook
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from zhengwu.crypto import Sm3Hasher
from zhengwu.errors import ValidationError
from zhengwu.textfiles import detect_text_encoding

FORMATS: Final = ("csv", "xlsx", "parquet", "sql")
_SUFFIXES: Final = {
    ".csv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
}
# Large text fields (business scope) exceed csv's 128 KiB default only in broken files; 1 MiB is ample.
csv.field_size_limit(1 << 20)

Row = tuple[int, tuple[Any, ...]]


def file_error(reason: str, reason_en: str, *, code: str, **details: object) -> ValidationError:
    """A problem with the whole file: nothing of it is applied."""
    return ValidationError(
        reason, message_en=reason_en, code=f"registries.file.{code}", field="file", details=dict(details)
    )


@dataclass
class Delivery:
    """What a reader found: the header, the rows, and facts for the batch record."""

    columns: list[str]
    rows: Iterator[Row]
    file_format: str
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)
    path: Path | None = None
    close: Callable[[], None] | None = None


def format_of(path: Path) -> str:
    """The format named by the file's suffix."""
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise file_error(
            f"无法识别文件“{path.name}”的格式，支持 .csv、.xlsx、.parquet",
            f"unsupported file '{path.name}': use .csv, .xlsx or .parquet",
            code="format",
        )
    return kind


def fingerprint_file(path: Path, source: str) -> str:
    """SM3 of the file's bytes and the source department: the same delivery twice is recognised."""
    hasher = Sm3Hasher()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            hasher.update(chunk)
    return fingerprint_finish(hasher, source)


def fingerprint_finish(hasher: Sm3Hasher, source: str) -> str:
    """The fingerprint of a file whose bytes ``hasher`` has read (:func:`fingerprint_file`)."""
    hasher.update(b"\x00source=" + source.encode())
    return hasher.hexdigest()


def detect_encoding(path: Path) -> tuple[str, str | None]:
    """The encoding of a CSV file: UTF-8 with or without BOM, else GB18030 (a superset of GBK)."""
    return detect_text_encoding(path, code_prefix="registries.file")


def read_csv(path: Path) -> Delivery:
    """Stream a CSV file; the encoding is detected, quoting is checked strictly."""
    encoding, note = detect_encoding(path)
    fh = path.open("r", encoding=encoding, newline="")
    reader = csv.reader(fh, strict=True)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        fh.close()
        raise _csv_problem(exc, 1) from exc
    if header is None:
        fh.close()
        raise file_error("文件为空，没有表头", "the file is empty (no header row)", code="empty")

    def rows() -> Iterator[Row]:
        try:
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except (csv.Error, UnicodeDecodeError) as exc:
                    raise _csv_problem(exc, max(reader.line_num, 2)) from exc
                if values:
                    yield reader.line_num, tuple(values)
        finally:
            fh.close()

    return Delivery(header, rows(), "csv", encoding, [note] if note else [], path=path, close=fh.close)


def _csv_problem(exc: Exception, line: int) -> ValidationError:
    if isinstance(exc, UnicodeDecodeError):
        return file_error(
            f"第 {line} 行附近有不符合文件编码的字节，文件可能混用了多种编码",
            f"bytes near line {line} are not valid in the file's encoding (mixed encodings?)",
            code="encoding",
            line=line,
        )
    return file_error(
        f"第 {line} 行引号不配对或格式错误（{exc}），无法可靠地读取其后的内容",
        f"broken quoting or CSV syntax near line {line} ({exc})",
        code="csv_syntax",
        line=line,
    )


def read_xlsx(path: Path) -> Delivery:
    """Stream the first worksheet of an Excel workbook (read-only mode: constant memory)."""

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for a corrupt file
        raise file_error(
            f"无法打开 Excel 文件（{type(exc).__name__}），请确认是 .xlsx 格式且未损坏",
            f"cannot open the Excel file ({type(exc).__name__})",
            code="xlsx",
        ) from exc
    sheet = workbook.worksheets[0]
    iterator = sheet.iter_rows(values_only=True)
    header: list[str] | None = None
    header_row = 0
    for number, values in enumerate(iterator, start=1):
        if any(v not in (None, "") for v in values):
            header = ["" if v is None else str(v) for v in values]
            header_row = number
            break
    if header is None:
        workbook.close()
        raise file_error("工作表为空，没有表头", "the worksheet is empty (no header row)", code="empty")
    while header and header[-1] == "":
        header.pop()
    width = len(header)

    def rows() -> Iterator[Row]:
        try:
            for number, values in enumerate(iterator, start=header_row + 1):
                if all(v in (None, "") for v in values):
                    continue
                cells = tuple(values)
                # Trailing empty cells of a wider sheet are not extra columns.
                while len(cells) > width and cells[-1] in (None, ""):
                    cells = cells[:-1]
                yield number, cells
        finally:
            workbook.close()

    return Delivery(header, rows(), "xlsx")


def read_parquet(path: Path, *, batch_size: int = 50_000) -> Delivery:
    """Stream a Parquet file batch by batch."""

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError... for a corrupt file
        raise file_error(
            f"无法读取 Parquet 文件（{exc}）",
            f"cannot read the Parquet file ({exc})",
            code="parquet",
        ) from exc
    columns = list(parquet.schema_arrow.names)

    def rows() -> Iterator[Row]:
        number = 0
        try:
            for batch in parquet.iter_batches(batch_size=batch_size):
                data = [col.to_pylist() for col in batch.columns]
                for values in zip(*data, strict=True):
                    number += 1
                    yield number, values
        except OSError as exc:
            raise file_error(
                f"Parquet 文件在第 {number + 1} 行附近损坏（{exc}）",
                f"the Parquet file is corrupt near row {number + 1} ({exc})",
                code="parquet",
            ) from exc

    return Delivery(columns, rows(), "parquet")


def read_sql(url: str, query: str, hasher: Sm3Hasher, *, batch_size: int = 10_000) -> Delivery:
    """Stream the result of ``query`` against a department's database (any SQLAlchemy URL).

    The rows are fed to ``hasher`` as they stream, so an identical result set has the same fingerprint.
    """

    try:
        engine = create_engine(url)
        conn = engine.connect()
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(text(query))
    except (SQLAlchemyError, ValueError) as exc:
        raise file_error(
            f"无法执行部门数据库查询（{type(exc).__name__}）",
            f"the source query failed ({exc})",
            code="sql",
        ) from exc
    columns = list(result.keys())

    def rows() -> Iterator[Row]:
        try:
            for number, values in enumerate(result, start=1):
                hasher.update(repr(tuple(values)).encode())
                yield number, tuple(values)
        except SQLAlchemyError as exc:
            raise file_error(
                f"读取部门数据库查询结果时出错（{type(exc).__name__}）",
                f"reading the source query failed ({exc})",
                code="sql",
            ) from exc
        finally:
            conn.close()
            engine.dispose()

    return Delivery(columns, rows(), "sql")
