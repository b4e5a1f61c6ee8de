"""Column-wise validation of person CSV files: the fast path of population ingestion.

Arrow reads the CSV in C++ and the rules of :func:`zhengwu.registries.validation.validate_person`
are applied to whole columns (regular expressions, set membership, the MOD 11-2 check digit with
numpy, dates parsed and printed back to catch 30 February), producing exactly the canonical values the
row-by-row validator would produce.

The fast path only ever *accepts*: per row it computes "certainly valid, in canonical spelling". The
rows it cannot vouch for (an invalid value, another spelling such as 男 or 2024/3/1, full-width digits,
surrounding spaces, text that NFKC would change) are handed to the row validator, which stays the
reference: it accepts every spelling and writes every error message. So messages are the row
validator's by construction, and ``tests/registries/test_registries_fastpath.py`` checks with
generated rows that whatever the fast path accepts, the row validator accepts with the same values.

The file as a whole still falls back to the row reader (:class:`NotClean`) when its CSV syntax is
doubtful (text after a closing quote, a quote inside an unquoted value, a multi-line record, a blank
line, a wrong number of values): Arrow is lenient there and row numbers would drift. That check is a
vectorised scan of the bytes (:func:`check_syntax`).
"""

from __future__ import annotations

import codecs
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache, partial
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
_PLACEHOLDER_ID: Final = "0" * 18
# Leading or trailing characters Python's str.strip() would remove (str.isspace: Unicode Z* and the
# C0/C1 separators, all of them in \p{Z} or \p{Cc}): a value with them goes to the row validator.
_EDGE_SPACE: Final = r"^[\p{Z}\p{Cc}]|[\p{Z}\p{Cc}]$"
_QUOTE, _COMMA, _LF, _CR = 34, 44, 10, 13
# Characters that NFKC leaves as they are whatever surrounds them: normalisation quick check "Yes",
# combining class 0, never the second half of a composition (those are combining marks and Hangul
# jamo). Printable ASCII, the middle dot of transcribed names (阿依古丽·买买提), and the CJK ideographs
# of extension A and of the unified block (the compatibility ideographs U+F900… are *not*: they
# decompose). tests/registries/test_registries_fastpath.py checks every one of them.
PLAIN_CHARS: Final = r"\x{21}-\x{7E}\x{B7}\x{3400}-\x{4DBF}\x{4E00}-\x{9FFF}"
_PLAIN: Final = rf"^[{PLAIN_CHARS}](?:[ {PLAIN_CHARS}]*[{PLAIN_CHARS}])?$"


class NotClean(Exception):
    """The file needs the row-by-row validator."""


@lru_cache(maxsize=1)
def _regions() -> pa.Array:
    return pa.array(sorted(r.code for r in regions_all()), type=pa.string())


class _Ok:
    """The running "certainly valid" mask of a batch's rows."""

    def __init__(self, n: int) -> None:
        self.mask: pa.Array = pa.array(np.ones(n, dtype=bool))

    def require(self, mask: pa.Array) -> None:
        # A null (a missing value the rule cannot judge) is not a pass.
        self.mask = pc.and_(self.mask, pc.fill_null(mask, False))


def _text(col: pa.Array, limit: int, ok: _Ok) -> pa.Array:
    """Text that :func:`~zhengwu.registries.validation.clean` leaves as it is; empty -> null.

    Values NFKC would change or with surrounding spaces are the row validator's (its ``clean`` and
    Arrow's trimming need not agree on every Unicode space, so the fast path never trims).
    """
    ok.require(_unchanged(col))
    ok.require(pc.less_equal(pc.utf8_length(col), limit))
    return _code(col)


def _unchanged(col: pa.Array) -> pa.Array:
    """Per value: NFKC leaves it as it is and it has no surrounding space (null: false).

    Normalising is the costliest rule of a person (names and addresses, 10 million of each). A value of
    :data:`_PLAIN` characters only, with no space at either end, passes both checks by construction, and
    one regular expression tells; only the other values (a full-width digit, a rare character, an
    empty value) are normalised and looked at.
    """
    plain = pc.fill_null(pc.match_substring_regex(col, _PLAIN), False)
    if pc.all(plain).as_py():
        return plain
    rest = np.flatnonzero(np.invert(plain.to_numpy(zero_copy_only=False)))
    values = col.take(pa.array(rest))
    good = pc.and_(
        pc.equal(pc.utf8_normalize(values, form="NFKC"), values),
        pc.invert(pc.match_substring_regex(values, _EDGE_SPACE)),
    )
    mask = plain.to_numpy(zero_copy_only=False).copy()
    mask[rest] = pc.fill_null(good, False).to_numpy(zero_copy_only=False)
    return pa.array(mask)


def _code(col: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col)


def _date(col: pa.Array, today: dt.date, ok: _Ok) -> pa.Array:
    """ISO dates; empty -> null; anything else (or a day that does not exist) is not certainly valid."""
    col = _code(col)
    dates = pc.cast(pc.strptime(col, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())
    # strptime rolls 30 February over to March: printing the date back must give the text again.
    ok.require(pc.or_kleene(pc.is_null(col), pc.equal(pc.cast(dates, pa.string()), col)))
    ok.require(pc.or_kleene(pc.is_null(dates), pc.less_equal(dates, pa.scalar(today, pa.date32()))))
    return dates


def _ids(col: pa.Array, today: dt.date, ok: _Ok) -> tuple[pa.Array, pa.Array, np.ndarray[Any, Any]]:
    shaped = pc.fill_null(pc.match_substring_regex(col, r"^[0-9]{17}[0-9X]$"), False)
    ok.require(shaped)
    # Misshapen IDs are already refused; a placeholder keeps every value 18 bytes for the numpy view.
    arr = pc.if_else(shaped, col, _PLACEHOLDER_ID)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(n, 18)
    # GB 11643 check digit, ISO 7064 MOD 11-2, over every row at once.
    total = ((data[:, :17].astype(np.int64) - 48) * _WEIGHTS).sum(axis=1)
    ok.require(pa.array(_CHECK[total % 11] == data[:, 17]))
    born_text = pc.utf8_slice_codeunits(arr, 6, 14)
    born_day = pc.cast(pc.strptime(born_text, format="%Y%m%d", unit="s", error_is_null=True), pa.date32())
    ok.require(pc.equal(pc.replace_substring(pc.cast(born_day, pa.string()), "-", ""), born_text))
    ok.require(
        pc.and_(
            pc.greater_equal(born_day, pa.scalar(dt.date(MIN_BIRTH_YEAR, 1, 1), pa.date32())),
            pc.less_equal(born_day, pa.scalar(today, pa.date32())),
        )
    )
    ok.require(pc.is_in(pc.utf8_slice_codeunits(arr, 0, 6), value_set=_regions()))
    male = (data[:, 16] - 48) % 2 == 1
    return arr, born_day, male


def _column(batch: pa.RecordBatch, names: list[str], name: str) -> pa.Array | None:
    return batch.column(names.index(name)) if name in names else None


def canonical(batch: pa.RecordBatch, names: list[str], today: dt.date) -> tuple[list[pa.Array], pa.Array]:
    """The canonical staged columns of a batch (key first, then attributes) and the rows they hold for.

    The second value is the boolean mask of rows the fast path vouches for; the columns of the other
    rows are meaningless and the rows belong to the row validator.
    """
    n = batch.num_rows
    ok = _Ok(n)
    null = pa.nulls(n, pa.string())
    ids, born_id, male = _ids(batch.column(names.index("resident_id")), today, ok)
    name = _text(batch.column(names.index("name")), 100, ok)
    ok.require(pc.is_valid(name))
    former_col = _column(batch, names, "former_names")
    former = _text(former_col, 500, ok) if former_col is not None else null
    sex = batch.column(names.index("sex"))
    ok.require(pc.equal(sex, pa.array(np.where(male, "M", "F"))))
    birth = _date(batch.column(names.index("birth_date")), today, ok)
    ok.require(pc.equal(birth, born_id))
    ethnicity = batch.column(names.index("ethnicity"))
    ok.require(pc.is_in(ethnicity, value_set=pa.array(sorted(ETHNICITY_CODES))))
    nat_col = _column(batch, names, "nationality")
    nationality = pa.array(["CHN"] * n) if nat_col is None else pc.fill_null(_code(nat_col), "CHN")
    ok.require(pc.match_substring_regex(nationality, r"^[A-Z]{3}$"))
    household = batch.column(names.index("household_region_code"))
    ok.require(pc.is_in(household, value_set=_regions()))
    address = _text(batch.column(names.index("household_address")), 300, ok)
    ok.require(pc.is_valid(address))
    cur_col = _column(batch, names, "current_region_code")
    current = _code(cur_col) if cur_col is not None else null
    ok.require(pc.or_kleene(pc.is_null(current), pc.is_in(current, value_set=_regions())))
    cur_addr = _column(batch, names, "current_address")
    current_address = _text(cur_addr, 300, ok) if cur_addr is not None else null
    phone_col = _column(batch, names, "phone")
    phone = _code(phone_col) if phone_col is not None else null
    ok.require(pc.or_kleene(pc.is_null(phone), pc.match_substring_regex(phone, r"^\+?[0-9][0-9\-]{4,19}$")))
    status = batch.column(names.index("status"))
    ok.require(pc.is_in(status, value_set=pa.array(_STATUSES)))
    status_col = _column(batch, names, "status_date")
    death_col = _column(batch, names, "death_date")
    if status_col is not None and death_col is not None:
        raw = pc.if_else(pc.is_null(_code(status_col)), death_col, status_col)
    else:
        raw = status_col if status_col is not None else death_col
    status_date = _date(raw, today, ok) if raw is not None else pa.nulls(n, pa.date32())
    living = pc.equal(status, "living")
    ok.require(pc.equal(living, pc.is_null(status_date)))
    ok.require(pc.or_kleene(pc.is_null(status_date), pc.greater_equal(status_date, birth)))
    columns = [
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
    return columns, ok.mask


def check_syntax(path: Path, block: int = _BLOCK) -> None:
    """Raise :class:`NotClean` unless the file uses only plain CSV quoting, read the same by everyone.

    Plain: each quoted value is ``"content"`` with neither quote, comma nor line break inside, opened
    right after a comma or a line start and closed right before a comma or a line end. On such files
    Arrow's lenient parser and Python's strict one read exactly the same values, one record per line.
    Anything else (text after a closing quote, an escaped quote, a comma or a line break inside quotes,
    an unclosed quote) sends the whole file to the row reader, which reports broken quoting by line.
    A vectorised scan of the bytes, safe for UTF-8 and GB18030/GBK, whose multi-byte characters never
    use ASCII quote, comma, CR or LF bytes. Blank lines and bare CR line ends are refused too (row
    numbers are line numbers); a wrong number of values makes Arrow itself fail in :func:`read_clean`.
    """
    with path.open("rb") as fh:
        check_syntax_blocks(iter(partial(fh.read, block), b""))


def check_syntax_blocks(blocks: Iterable[bytes]) -> None:
    """:func:`check_syntax` over a file's bytes given block by block (any sizes, none empty).

    The background scan (:mod:`zhengwu.registries.filescan`) feeds the blocks it also fingerprints.
    """
    previous = bytes([_LF, _LF])  # the bytes before the file: a line start
    carry = 0  # quotes seen so far, modulo 2: 1 means inside a quoted value
    source = iter(blocks)
    chunk = next(source, b"")
    if chunk.startswith(codecs.BOM_UTF8):
        chunk = chunk[len(codecs.BOM_UTF8) :] or next(source, b"")
    while chunk:
        following = next(source, b"")
        # The block with two bytes of context before it and one after; positions below are shifted.
        data = np.frombuffer(previous + chunk + (following[:1] or b"\n"), dtype=np.uint8)
        # Only a few passes over the bytes; the rest works on the positions of quotes and line ends.
        quotes = np.flatnonzero(data[2:-1] == _QUOTE) + 2
        lines = np.flatnonzero(data[2:-1] == _LF) + 2
        # Quotes alternate: opening ones (even positions in the file's sequence of quotes) must follow a
        # comma or a line start, closing ones precede a comma or a line end.
        before = data[quotes[carry::2] - 1]
        after = data[quotes[1 - carry :: 2] + 1]
        if not (
            np.all((before == _COMMA) | (before == _LF))
            and np.all((after == _COMMA) | (after == _LF) | (after == _CR))
        ):
            raise NotClean("quote elsewhere than around a whole value")
        if np.any((np.searchsorted(quotes, lines) + carry) % 2):
            raise NotClean("line break inside quotes")
        # (memchr first: most files have no CR at all, and a pass over the bytes is the costly part)
        if _CR in chunk and np.any(data[np.flatnonzero(data[2:-1] == _CR) + 3] != _LF):
            raise NotClean("bare CR line end")
        # A blank line: a line end right after a line end (LF LF, or LF CR LF).
        if np.any(data[lines - 1] == _LF) or np.any((data[lines - 1] == _CR) & (data[lines - 2] == _LF)):
            raise NotClean("blank line")
        carry = (carry + len(quotes)) % 2
        previous = (previous + chunk)[-2:]
        chunk = following
    if carry:
        raise NotClean("unclosed quote at the end")


@dataclass
class Chunk:
    """One block of a person CSV: staged columns of the rows vouched for, raw values of the others."""

    rows: int
    staged: list[pa.Array]  # row_no, then the canonical values
    doubtful: list[tuple[int, list[str]]] = field(default_factory=list)  # (row number, raw values)


def read_clean(
    path: Path,
    encoding: str,
    header: list[str],
    today: dt.date,
    first_row: int = 2,
    syntax: Callable[[], None] | None = None,
) -> Iterator[Chunk]:
    """Yield the chunks of a person CSV; raise :class:`NotClean` when its syntax is doubtful.

    ``header`` is the canonical header (from :func:`zhengwu.registries.ingest.map_header`). The header
    line itself is skipped (so is a UTF-8 byte order mark, which sits in it). Row numbers are line
    numbers: the syntax check made sure there is one line per record.

    ``syntax``, when given, is that check done elsewhere (:class:`zhengwu.registries.filescan.FileScan`
    in a background thread): it is awaited after the last chunk, and raises :class:`NotClean` then. The
    caller must hold back everything it did with the chunks until the generator has ended (the
    ingestion's savepoints do), since the chunks of a doubtful file may be misread.
    """
    if syntax is None:
        check_syntax(path)
    codec = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    read = pacsv.ReadOptions(encoding=codec, block_size=_BLOCK, column_names=header, skip_rows=1)
    # A blank line is then a row of one value: the wrong width, the whole file goes to the row reader.
    parse = pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False)
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
            columns, ok = canonical(batch, header, today)
            numbers = pa.array(np.arange(row, row + batch.num_rows, dtype=np.int64))
            row += batch.num_rows
            if pc.all(ok).as_py():
                yield Chunk(batch.num_rows, [numbers, *columns])
                continue
            kept = [pc.filter(c, ok) for c in columns]
            rest = batch.filter(pc.invert(ok))
            doubtful = list(
                zip(
                    pc.filter(numbers, pc.invert(ok)).to_pylist(),
                    [list(r.values()) for r in rest.to_pylist()],
                    strict=True,
                )
            )
            yield Chunk(batch.num_rows, [pc.filter(numbers, ok), *kept], doubtful)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, ValueError) as exc:
        raise NotClean(str(exc)) from exc
    if syntax is not None:
        syntax()


def accepts(header: list[str]) -> bool:
    """True when the fast path knows every column of ``header``."""
    return set(header) <= set(PERSON_SPEC.accepted)
