"""The column-wise fast path against the row validator (the reference), and its CSV syntax check."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registries.registries_helpers import World, csv_text, persons_rows
from zhengwu.registries import fastpath
from zhengwu.registries.models import Person
from zhengwu.registries.validation import clean, validate_person

# No example database (nothing written into the work tree); no deadline on a shared 2-core machine.
QUICK = settings(database=None, deadline=None, max_examples=150)
TODAY = dt.date(2026, 11, 23)
COLUMNS = [
    "resident_id",
    "name",
    "former_names",
    "sex",
    "birth_date",
    "ethnicity",
    "nationality",
    "household_region_code",
    "household_address",
    "current_region_code",
    "current_address",
    "phone",
    "status",
    "status_date",
    "death_date",
]
BASE = persons_rows(40)
# Values that are valid in another spelling, invalid, or on the edge of a rule.
TRICKY = [
    "",
    " ",
    "\u3000",
    "男",
    "女",
    "m",
    "1",
    "X",
    "x",
    "01",
    "1",
    "汉",
    "99",
    "chn",
    "CHN",
    "ABCD",
    "330100",
    "330102",
    "999999",
    "1990-02-30",
    "1990/1/1",
    "2030-01-01",
    "1870-01-01",
    "１９９０-０１-０１",
    "living",
    "deceased",
    "emigrated",
    "死亡",
    "13800138000",
    "+86-571-1234",
    "12",
    "张三",
    " 张三",
    "张三 ",
    "张\u00a0三",
    "ｚｈａｎｇ",
    "a\x1fb",
    "\x1c张三",
    "张" * 101,
    "路" * 301,
]


def _value(draw: st.DrawFn, original: str) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return original
    if kind == 1:
        return draw(st.sampled_from(TRICKY))
    if kind == 2:
        return draw(st.text(max_size=12))
    # A near miss of the original: one character changed, or spaces around it.
    if original and draw(st.booleans()):
        at = draw(st.integers(0, len(original) - 1))
        return original[:at] + draw(st.sampled_from("0123456789X 　")) + original[at + 1 :]
    return " " + original


@st.composite
def rows(draw: st.DrawFn) -> list[list[str]]:
    out = []
    for _ in range(draw(st.integers(1, 6))):
        base = draw(st.sampled_from(BASE))
        raw = {c: "" if base.get(c) is None else str(base[c]) for c in COLUMNS}
        for column in draw(st.sets(st.sampled_from(COLUMNS), max_size=3)):
            raw[column] = _value(draw, raw[column])
        out.append([raw[c] for c in COLUMNS])
    return out


def _fast(values: list[list[str]]) -> tuple[list[list[Any]], list[bool]]:
    batch = pa.RecordBatch.from_arrays(
        [pa.array([r[i] for r in values], pa.string()) for i in range(len(COLUMNS))], names=COLUMNS
    )
    columns, ok = fastpath.canonical(batch, COLUMNS, TODAY)
    out = [[c[i].as_py() for c in columns] for i in range(batch.num_rows)]
    return out, ok.to_pylist()


@QUICK
@given(rows())
def test_whatever_the_fast_path_accepts_the_row_validator_accepts_identically(
    values: list[list[str]],
) -> None:
    fast, ok = _fast(values)
    for raw, canonical, accepted in zip(values, fast, ok, strict=True):
        reference = validate_person({c: clean(v) for c, v in zip(COLUMNS, raw, strict=True)}, TODAY)
        if accepted:
            assert not isinstance(reference, list), reference
            assert list(reference) == canonical


@QUICK
@given(st.lists(st.sampled_from(BASE), min_size=1, max_size=8))
def test_the_fast_path_accepts_canonical_rows(picked: list[dict[str, Any]]) -> None:
    # Rows in canonical spelling (what the synthetic writer and clean exports produce) stay on the fast path.
    values = [["" if p.get(c) is None else str(p[c]) for c in COLUMNS] for p in picked]
    fast, ok = _fast(values)
    assert all(ok)
    for raw, canonical in zip(values, fast, strict=True):
        assert (
            list(validate_person({c: clean(v) for c, v in zip(COLUMNS, raw, strict=True)}, TODAY))
            == canonical
        )


CSV_PIECES = ['"', ",", "\n", "\r\n", "a", "b", '""', "张"]


@QUICK
@given(st.lists(st.sampled_from(CSV_PIECES), max_size=30))
def test_the_syntax_check_passes_only_files_strict_csv_reads_like_arrow(pieces: list[str]) -> None:
    body = "".join(pieces)
    text = "h1,h2,h3\n" + body
    path = Path(f"/tmp/zw-syntax-{abs(hash(text))}.csv")
    path.write_bytes(text.encode())
    try:
        fastpath.check_syntax(path, block=7)  # tiny blocks: state carried across block boundaries
    except fastpath.NotClean:
        return
    finally:
        path.unlink()
    # Passing the check promises that strict CSV reads the file (no csv.Error) the way Arrow does.
    strict = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    try:
        arrow = pacsv.read_csv(
            io.BytesIO(text.encode()),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(3)}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid:
        return  # wrong width or a blank line: the ingestion falls back to the row reader
    assert [list(r.values()) for r in arrow.to_pylist()] == strict


LINE_PIECES = [",", "\n", "\r\n", "\r", "a", "张"]


@QUICK
@given(st.lists(st.sampled_from(LINE_PIECES), max_size=30), st.integers(min_value=1, max_value=9))
def test_the_syntax_check_finds_every_blank_line_and_bare_cr(pieces: list[str], block: int) -> None:
    # Row numbers are line numbers: a blank line or a bare CR line end must be refused wherever the block
    # boundaries fall (the state carried from block to block).
    data = "".join(pieces).encode()
    text = "\n" + "".join(pieces) + "\n"  # the file starts at a line start, and ends as if by a line end
    refused = "\n\n" in text[:-1] or "\n\r\n" in text[:-1] or re.search("\r(?!\n)", text) is not None
    blocks = [data[i : i + block] for i in range(0, len(data), block)]
    try:
        fastpath.check_syntax_blocks(blocks)
    except fastpath.NotClean:
        assert refused
    else:
        assert not refused


def _persons(world: World) -> dict[str, Person]:
    return {p.resident_id: p for p in world.db.query(Person)}


@pytest.mark.parametrize("mode", ["atomic", "partial"])
def test_doubtful_rows_of_a_fast_file_get_the_row_validators_messages(world: World, mode: str) -> None:
    rows = persons_rows(30)
    born = rows[5]["birth_date"]
    rows[3]["sex"] = (
        "男" if rows[3]["sex"] == "M" else "女"
    )  # another spelling: accepted by the row validator
    rows[5]["birth_date"] = born.isoformat().replace("-", "/")
    rows[7]["ethnicity"] = "99"  # invalid
    rows[9]["resident_id"] = rows[9]["resident_id"][:17] + ("0" if rows[9]["resident_id"][17] != "0" else "1")
    text = csv_text(rows)
    result = world.ingest(world.file("mixed.csv", text), mode=mode)
    # The reference: every line through the row validator alone.
    lines = list(csv.reader(io.StringIO(text)))
    expected = []
    for number, values in enumerate(lines[1:], start=2):
        checked = validate_person(
            {c: clean(v) for c, v in zip(lines[0], values, strict=True)}, dt.date.today()
        )
        if isinstance(checked, list):
            expected += [(number, column, reason) for column, reason in checked]
    assert [(e.row, e.column, e.reason) for e in result.errors] == expected
    assert {row for row, _, _ in expected} == {9, 11} and result.rows_invalid == 2
    stored = _persons(world)
    if mode == "partial":
        assert result.inserted == 28 and len(stored) == 28
        assert stored[rows[3]["resident_id"]].sex == ("M" if rows[3]["sex"] == "男" else "F")
        assert stored[rows[5]["resident_id"]].birth_date == born
    else:
        assert result.status == "rejected" and not stored


def _plain_characters() -> list[str]:
    ranges = re.findall(r"\\x\{([0-9A-F]+)\}(?:-\\x\{([0-9A-F]+)\})?", fastpath.PLAIN_CHARS)
    return [chr(c) for a, b in ranges for c in range(int(a, 16), int(b or a, 16) + 1)]


def test_plain_characters_are_left_alone_by_nfkc_whatever_surrounds_them() -> None:
    plain = _plain_characters()
    assert len(plain) > 27_000 and "·" in plain and "张" in plain and " " not in plain
    for char in plain:
        assert unicodedata.normalize("NFKC", char) == char and unicodedata.combining(char) == 0
        assert not char.isspace() and unicodedata.category(char)[0] not in "ZC"
    # Never the second half of a canonical composition (the only way a neighbour could change them).
    seconds = set()
    for code in range(0x110000):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            seconds.add(chr(int(parts[1], 16)))
    assert not seconds & set(plain)


@pytest.mark.parametrize(
    "values",
    [
        ["张三", "阿依古丽·买买提", "浙江省杭州市西湖区文三路1号"],
        ["张三", "ｚｈａｎｇ", " 张三", "张三 ", "", "张\u00a0三", "a\x1fb", "\x1c张三", "丽·", "㐀", "豈"],
        ["", "\u3000", "é", "e\u0301"],
    ],
)
def test_the_plain_shortcut_decides_as_normalising_does(values: list[str]) -> None:
    column = pa.array(values, pa.string())
    reference = pc.and_(
        pc.equal(pc.utf8_normalize(column, form="NFKC"), column),
        pc.invert(pc.match_substring_regex(column, fastpath._EDGE_SPACE)),
    )
    assert fastpath._unchanged(column).to_pylist() == reference.to_pylist()
