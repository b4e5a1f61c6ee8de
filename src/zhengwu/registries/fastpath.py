"""Column-wise validation of clean person CSV files: the fast path of population ingestion.

Most deliveries are clean. For them, Arrow reads the CSV in C++ and every rule of
:func:`zhengwu.registries.validation.validate_person` is applied to whole columns (regular expressions,
set membership, the check digit with numpy, dates parsed and printed back to catch 30 February),
producing exactly the canonical values and ``row_hash`` the row-by-row validator would produce.

The fast path is all or nothing per file: at the first row it cannot vouch for (an invalid value,
a value in another spelling such as 男 or 2024/3/1, full-width digits, a malformed line), it gives up
and :mod:`zhengwu.registries.ingest` starts over with the row-by-row validator, which reports every
problem with its row number and accepts every spelling. Row numbers assume one physical line per
record, which holds for files the fast path accepts (a multi-line quoted value is not accepted).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from zhengwu.identifiers import regions_all
from zhengwu.registries.validation import _ID_WEIGHTS, ETHNICITY_CODES, MIN_BIRTH_YEAR, PERSON_SPEC

_CHECK: Final = np.frombuffer(b"10X98765432", dtype=np.uint8)
_WEIGHTS: Final = np.asarray(_ID_WEIGHTS, dtype=np.int64)
_BLOCK: Final = 8 << 20
_STATUSES: Final = ("living", "deceased", "emigrated")


class NotClean(Exception):
    """The file needs the row-by-row validator."""


@lru_cache(maxsize=1)
def _regions() -> pa.Array:
    return pa.array(sorted(r.code for r in regions_all()), type=pa.string())


def _text(col: pa.Array, limit: int) -> pa.Array:
    """What :func:`~zhengwu.registries.validation.clean` does to text: NFKC, trim, empty -> null."""
    out = pc.utf8_trim_whitespace(pc.utf8_normalize(col, form="NFKC"))
    out = pc.if_else(pc.equal(out, ""), pa.scalar(None, pa.string()), out)
    if pc.any(pc.greater(pc.utf8_length(out), limit)).as_py():
        raise NotClean("too long")
    return out


def _code(col: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)


def _require(mask: pa.Array, what: str) -> None:
    if not pc.all(pc.fill_null(mask, False)).as_py():
        raise NotClean(what)


def _date(col: pa.Array, today: dt.date) -> pa.Array:
    """ISO dates; empty -> null; anything else (or a day that does not exist) is not clean."""
    col = _code(col)
    dates = pc.cast(pc.strptime(col, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())
    # strptime rolls 30 February over to March: printing the date back must give the text again.
    _require(pc.or_kleene(pc.is_null(col), pc.equal(pc.cast(dates, pa.string()), col)), "date")
    _require(pc.or_kleene(pc.is_null(dates), pc.less_equal(dates, pa.scalar(today, pa.date32()))), "future")
    return dates


def _ids(col: pa.Array, today: dt.date) -> tuple[pa.Array, pa.Array, np.ndarray[Any, Any]]:
    _require(pc.match_substring_regex(col, r"^[0-9]{17}[0-9X]$"), "resident_id")
    arr = pc.cast(col, pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(n, 18)
    total = ((data[:, :17].astype(np.int64) - 48) * _WEIGHTS).sum(axis=1)
    _require(pa.array(_CHECK[total % 11] == data[:, 17]), "check digit")
    born_text = pc.utf8_slice_codeunits(arr, 6, 14)
    born_day = pc.cast(pc.strptime(born_text, format="%Y%m%d", unit="s", error_is_null=True), pa.date32())
    _require(pc.equal(pc.replace_substring(pc.cast(born_day, pa.string()), "-", ""), born_text), "birth date")
    _require(
        pc.and_(
            pc.greater_equal(born_day, pa.scalar(dt.date(MIN_BIRTH_YEAR, 1, 1), pa.date32())),
            pc.less_equal(born_day, pa.scalar(today, pa.date32())),
        ),
        "birth range",
    )
    _require(pc.is_in(pc.utf8_slice_codeunits(arr, 0, 6), value_set=_regions()), "id region")
    male = (data[:, 16] - 48) % 2 == 1
    return arr, born_day, male


def _column(batch: pa.RecordBatch, names: list[str], name: str) -> pa.Array | None:
    return batch.column(names.index(name)) if name in names else None


def canonical(batch: pa.RecordBatch, names: list[str], today: dt.date) -> list[pa.Array]:
    """The canonical staged columns of a batch (key first, then attributes), or :class:`NotClean`."""
    n = batch.num_rows
    null = pa.nulls(n, pa.string())
    ids, born_id, male = _ids(batch.column(names.index("resident_id")), today)
    name = _text(batch.column(names.index("name")), 100)
    _require(pc.is_valid(name), "name")
    former_col = _column(batch, names, "former_names")
    former = _text(former_col, 500) if former_col is not None else null
    sex = batch.column(names.index("sex"))
    _require(pc.equal(sex, pa.array(np.where(male, "M", "F"))), "sex")
    birth = _date(batch.column(names.index("birth_date")), today)
    _require(pc.equal(birth, born_id), "birth_date")
    ethnicity = batch.column(names.index("ethnicity"))
    _require(pc.is_in(ethnicity, value_set=pa.array(sorted(ETHNICITY_CODES))), "ethnicity")
    nat_col = _column(batch, names, "nationality")
    nationality = pa.array(["CHN"] * n) if nat_col is None else pc.fill_null(_code(nat_col), "CHN")
    _require(pc.match_substring_regex(nationality, r"^[A-Z]{3}$"), "nationality")
    household = batch.column(names.index("household_region_code"))
    _require(pc.is_in(household, value_set=_regions()), "household_region_code")
    address = _text(batch.column(names.index("household_address")), 300)
    _require(pc.is_valid(address), "household_address")
    cur_col = _column(batch, names, "current_region_code")
    current = _code(cur_col) if cur_col is not None else null
    _require(
        pc.or_kleene(pc.is_null(current), pc.is_in(current, value_set=_regions())), "current_region_code"
    )
    cur_addr = _column(batch, names, "current_address")
    current_address = _text(cur_addr, 300) if cur_addr is not None else null
    phone_col = _column(batch, names, "phone")
    phone = _code(phone_col) if phone_col is not None else null
    _require(
        pc.or_kleene(pc.is_null(phone), pc.match_substring_regex(phone, r"^\+?[0-9][0-9\-]{4,19}$")), "phone"
    )
    status = batch.column(names.index("status"))
    _require(pc.is_in(status, value_set=pa.array(_STATUSES)), "status")
    status_col = _column(batch, names, "status_date")
    death_col = _column(batch, names, "death_date")
    if status_col is not None and death_col is not None:
        raw = pc.if_else(pc.is_null(_code(status_col)), death_col, status_col)
    else:
        raw = status_col if status_col is not None else death_col
    status_date = _date(raw, today) if raw is not None else pa.nulls(n, pa.date32())
    living = pc.equal(status, "living")
    _require(pc.equal(living, pc.is_null(status_date)), "status_date")
    _require(pc.or_kleene(pc.is_null(status_date), pc.greater_equal(status_date, birth)), "status_date order")
    return [
        ids,
        name,
        former,
        sex,
        birth,
        ethnicity,
        nationality,
        household,
        address,
        current,
        current_address,
        phone,
        status,
        status_date,
    ]


def hashes(columns: list[pa.Array]) -> pa.Array:
    """:func:`~zhengwu.registries.validation.row_hash` of every row, from the canonical columns."""
    texts = [pc.fill_null(pc.cast(c, pa.string()), "\x00") for c in columns]
    joined = pc.binary_join_element_wise(*texts, "\x1f")
    blake = hashlib.blake2b
    return pa.array([blake(s.encode(), digest_size=16).hexdigest() for s in joined.to_pylist()])


def _syntax(path: Path, encoding: str, width: int) -> None:
    """Python's strict CSV reader (C code) as a syntax check: Arrow tolerates text after a closing quote.

    Also insists on one line per record and no blank line, so that row numbers are line numbers.
    """
    records = 0
    try:
        with path.open(encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, strict=True)
            for values in reader:
                records += 1
                if len(values) != width:
                    raise NotClean("width")
                if reader.line_num != records:
                    raise NotClean("multi-line record")
    except (csv.Error, UnicodeDecodeError) as exc:
        raise NotClean(str(exc)) from exc


def read_clean(
    path: Path,
    encoding: str,
    header: list[str],
    today: dt.date,
    first_row: int = 2,
) -> Iterator[tuple[int, list[pa.Array]]]:
    """Yield ``(rows, staged columns)`` chunks of a clean person CSV; raise :class:`NotClean` otherwise.

    ``header`` is the canonical header (from :func:`zhengwu.registries.ingest.map_header`); staged
    columns are ``row_no``, the canonical values and ``row_hash``. The header line itself is skipped
    (so is a UTF-8 byte order mark, which sits in it).
    """
    _syntax(path, encoding, len(header))
    codec = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    read = pacsv.ReadOptions(encoding=codec, block_size=_BLOCK, column_names=header, skip_rows=1)
    parse = pacsv.ParseOptions(newlines_in_values=False)
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        reader = pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
        row = first_row
        for batch in reader:
            if batch.num_rows == 0:
                continue
            columns = canonical(batch, header, today)
            numbers = pa.array(np.arange(row, row + batch.num_rows, dtype=np.int64))
            row += batch.num_rows
            yield batch.num_rows, [numbers, *columns, hashes(columns)]
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, ValueError) as exc:
        raise NotClean(str(exc)) from exc


def accepts(header: list[str]) -> bool:
    """True when the fast path knows every column of ``header``."""
    return set(header) <= set(PERSON_SPEC.accepted)
