"""Readers of uploaded files: encodings, broken files, clear reports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from zhengwu.errors import ValidationError
from zhengwu.opendata.datastore.loader import inspect_source
from zhengwu.opendata.datastore.readers import open_records, open_source


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def rows(path: Path) -> tuple[list[str], list[list[object]], str | None]:
    source = open_source(path)
    return source.header, [values for _, values in source.rows()], source.encoding


def test_gbk_is_detected_and_read(tmp_path: Path) -> None:
    header, data, encoding = rows(write(tmp_path, "a.csv", "城市,人口\n杭州,1200\n".encode("gbk")))
    assert encoding == "gb18030"
    assert header == ["城市", "人口"]
    assert data == [["杭州", "1200"]]


def test_utf8_bom_is_removed_from_the_first_field_name(tmp_path: Path) -> None:
    header, data, encoding = rows(write(tmp_path, "a.csv", "\ufeff城市,人口\n杭州,1\n".encode()))
    assert encoding == "utf-8-sig"
    assert header[0] == "城市"
    assert data == [["杭州", "1"]]


def test_tab_separated_file_is_sniffed(tmp_path: Path) -> None:
    header, data, _ = rows(write(tmp_path, "a.tsv", b"a\tb\n1\t2\n"))
    assert header == ["a", "b"]
    assert data == [["1", "2"]]


def test_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        open_source(write(tmp_path, "a.csv", b""))
    assert err.value.code == "datastore.file.empty"
    assert err.value.field == "file"


def test_broken_quotes_report_the_line(tmp_path: Path) -> None:
    source = open_source(write(tmp_path, "a.csv", b'a,b\n1,"ok"\n2,"bro"ken\n'))
    with pytest.raises(ValidationError) as err:
        list(source.rows())
    assert err.value.code == "datastore.file.csv"
    assert err.value.details["errors"][0]["row"] == 3
    assert "引号" in err.value.message


def test_unclosed_quote_at_end_of_file(tmp_path: Path) -> None:
    source = open_source(write(tmp_path, "a.csv", b'a,b\n1,"never closed\n'))
    with pytest.raises(ValidationError) as err:
        list(source.rows())
    assert "引号未闭合" in err.value.message


def test_ragged_row_is_reported_with_its_line(tmp_path: Path) -> None:
    source = open_source(write(tmp_path, "a.csv", b"a,b\n1,2\n3,4,5\n"))
    with pytest.raises(ValidationError) as err:
        list(source.rows())
    assert err.value.code == "datastore.file.width"
    assert err.value.details["errors"] == [{"row": 3, "column": None, "reason": "字段数 3 与表头 2 不符"}]


def test_trailing_empty_cells_from_spreadsheets_are_tolerated(tmp_path: Path) -> None:
    _, data, _ = rows(write(tmp_path, "a.csv", b"a,b,,\n1,2,,\n"))
    assert data == [["1", "2"]]


def test_huge_field_within_the_limit_loads(tmp_path: Path) -> None:
    big = "长" * 30_000  # 90 KB in UTF-8, below csv's 128 KiB default limit
    _, data, _ = rows(write(tmp_path, "a.csv", f'a,b\n1,"{big}"\n'.encode()))
    assert data[0][1] == big


def test_field_over_the_limit_is_reported(tmp_path: Path) -> None:
    big = "x" * (csv.field_size_limit() + 10)
    source = open_source(write(tmp_path, "a.csv", f'a,b\n1,"{big}"\n'.encode()))
    with pytest.raises(ValidationError) as err:
        list(source.rows())
    assert "上限" in err.value.message


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("a,,c", "表头为空"),
        ("a,A", "字段名重复"),
        ("_id,b", "下划线"),
        ('a,"b""c"', "双引号"),
        ("很长的字段名很长的字段名很长的字段名很长的字段名", "过长"),
    ],
)
def test_bad_headers_are_reported(tmp_path: Path, header: str, reason: str) -> None:
    with pytest.raises(ValidationError) as err:
        open_source(write(tmp_path, "a.csv", f"{header}\n1,2,3\n".encode()))
    assert err.value.code == "datastore.file.header"
    assert any(reason in e["reason"] for e in err.value.details["errors"])


def test_undecodable_bytes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        open_source(write(tmp_path, "a.csv", b"a,b\n\xff\xfe\xfa,1\n\x81\x20\n"))
    assert err.value.code == "datastore.file.encoding"


def test_xlsx_first_sheet_with_dates(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["名称", "登记日期", "数量"])
    ws.append(["甲", 45000, 3])
    ws.append(["乙", 45001, None])
    ws.append([None, None, None])
    path = tmp_path / "a.xlsx"
    wb.save(path)
    inspection = inspect_source(open_source(path))
    assert inspection.fields == [
        {"id": "名称", "type": "text"},
        {"id": "登记日期", "type": "date"},
        {"id": "数量", "type": "int"},
    ]
    assert inspection.row_count == 2


def test_corrupt_xlsx_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        open_source(write(tmp_path, "a.xlsx", b"PK\x03\x04 not really a zip"))
    assert err.value.code == "datastore.file.xlsx"


def test_json_lines_union_of_keys(tmp_path: Path) -> None:
    lines = [json.dumps({"a": 1}), "", json.dumps({"a": 2, "b": "x"})]
    header, data, _ = rows(write(tmp_path, "a.jsonl", "\n".join(lines).encode()))
    assert header == ["a", "b"]
    assert data == [[1, None], [2, "x"]]


def test_bad_json_line_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        open_source(write(tmp_path, "a.jsonl", b'{"a": 1}\n{"a": \n'))
    assert err.value.details["errors"][0]["row"] == 2


def test_declared_types_are_checked_with_row_and_column(tmp_path: Path) -> None:
    source = open_records([{"n": "1"}, {"n": "x"}, {"n": "3"}])
    with pytest.raises(ValidationError) as err:
        inspect_source(source, types={"n": "integer"})
    assert err.value.details["errors"] == [{"row": 2, "column": "n", "reason": "不是整数：x"}]


def test_unknown_declared_type_or_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        inspect_source(open_records([{"n": 1}]), types={"n": "geometry", "m": "int"})
    reasons = {e["column"]: e["reason"] for e in err.value.details["errors"]}
    assert "未知类型" in reasons["n"]
    assert "不在表头" in reasons["m"]
