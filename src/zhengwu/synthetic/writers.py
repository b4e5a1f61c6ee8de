"""Stream Arrow record batches to CSV or Parquet with constant memory and a progress bar.

Files are written under a temporary name beside the target and renamed at the end, so an interrupted
run never leaves a half-written file under the real name. Output bytes depend only on the batches
(and the pyarrow version), which is what makes a seeded run byte-for-byte reproducible.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Final, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from zhengwu.synthetic._common import invalid

__all__ = ["FORMATS", "Format", "infer_format", "write_batches"]

Format = Literal["csv", "parquet"]
FORMATS: Final[tuple[Format, ...]] = ("csv", "parquet")
_SUFFIXES: Final[dict[str, Format]] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
UTF8_BOM: Final = b"\xef\xbb\xbf"


def infer_format(path: str | Path, fmt: str | None = None) -> Format:
    """``fmt`` if given (``csv`` or ``parquet``), otherwise the one the file suffix names."""
    if fmt is not None:
        for known in FORMATS:
            if fmt.lower() == known:
                return known
        raise invalid(
            "format",
            f"不支持的文件格式“{fmt}”，应为 csv 或 parquet",
            f"unsupported format '{fmt}'; use csv or parquet",
            field="format",
            actual=fmt,
        )
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise invalid(
            "format",
            f"无法从文件名“{Path(path).name}”判断格式，请使用 .csv / .parquet 后缀或指定格式",
            f"cannot tell the format from '{Path(path).name}'; use a .csv or .parquet suffix or --format",
            field="format",
            actual=suffix,
        )
    return _SUFFIXES[suffix]


def write_batches(
    batches: Iterable[pa.RecordBatch],
    path: str | Path,
    *,
    fmt: str | None = None,
    schema: pa.Schema | None = None,
    bom: bool = False,
    progress_total: int | None = None,
    progress: bool = True,
    description: str | None = None,
) -> int:
    """Write ``batches`` to ``path`` one at a time; return the number of rows written.

    ``fmt`` is ``csv`` (UTF-8, a header row, ISO dates, quotes only where needed; ``bom`` prefixes the
    UTF-8 byte order mark that Excel needs to recognise UTF-8) or ``parquet`` (zstd, one row group per
    batch); by default it follows the suffix. ``schema`` is needed only to write a header when there
    may be no batch at all. A tqdm bar on stderr counts rows against ``progress_total``.
    """
    kind = infer_format(path, fmt)
    if bom and kind != "csv":
        raise invalid(
            "bom",
            "字节顺序标记（BOM）只适用于 CSV 文件",
            "a byte order mark applies to CSV files only",
            field="bom",
        )
    target = Path(path)
    partial = target.with_name(target.name + ".part")
    rows = 0
    iterator = iter(batches)
    first = next(iterator, None)
    if first is None and schema is None:
        raise invalid(
            "schema",
            "没有数据也没有表结构，无法写出文件",
            "no batches and no schema: nothing to write",
            field="schema",
        )
    schema = first.schema if first is not None else schema
    assert schema is not None  # for the type checker: checked just above
    bar = tqdm(
        total=progress_total,
        unit="rows",
        unit_scale=True,
        file=sys.stderr,
        disable=not progress,
        desc=description or target.name,
    )
    try:
        with pa.OSFile(str(partial), "wb") as sink:
            if kind == "csv":
                if bom:
                    sink.write(UTF8_BOM)
                options = pacsv.WriteOptions(include_header=True, quoting_style="needed")
                with pacsv.CSVWriter(sink, schema, write_options=options) as writer:
                    for batch in _chain(first, iterator):
                        writer.write_batch(batch)
                        rows += batch.num_rows
                        bar.update(batch.num_rows)
            else:
                with pq.ParquetWriter(sink, schema, compression="zstd") as pwriter:
                    for batch in _chain(first, iterator):
                        pwriter.write_batch(batch)
                        rows += batch.num_rows
                        bar.update(batch.num_rows)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    return rows


def _chain(first: pa.RecordBatch | None, rest: Iterable[pa.RecordBatch]) -> Iterable[pa.RecordBatch]:
    if first is not None:
        yield first
    yield from rest
