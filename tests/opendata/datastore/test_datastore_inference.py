"""Type inference and conversion of uploaded values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from zhengwu.opendata.datastore.inference import ColumnGuess, canonical_type, convert, normalise


def guess(values: list[object], name: str = "col", *, spreadsheet: bool = False) -> str:
    g = ColumnGuess(name)
    for v in values:
        g.see(v)
    return g.type(spreadsheet=spreadsheet)


def test_full_width_digits_are_numbers() -> None:
    assert normalise("１２３．５") == "123.5"
    assert guess(["１２３", "45", "－６"]) == "int"
    assert convert("－６", "int") == -6
    assert convert("１２．５", "numeric") == Decimal("12.5")


def test_codes_with_leading_zeros_and_long_ids_stay_text() -> None:
    assert guess(["0571", "0574"]) == "text"
    assert guess(["110101199001011234"]) == "text"
    assert guess(["0.5", "10"]) == "numeric"


def test_mixed_columns_become_text_and_empty_cells_do_not_count() -> None:
    assert guess(["1", "two", "3"]) == "text"
    assert guess(["1", "", None, "  "]) == "int"
    assert guess([None, ""]) == "text"


def test_dates_and_timestamps_in_chinese_and_iso_forms() -> None:
    assert guess(["2024-01-05", "2024/2/6", "2024年3月7日"]) == "date"
    assert convert("2024年3月7日", "date") == dt.date(2024, 3, 7)
    assert guess(["2024-01-05 08:30:00", "2024-01-06T09:00", "2024-01-07"]) == "timestamp"
    assert convert("2024-01-05 08:30:00.5", "timestamp") == dt.datetime(2024, 1, 5, 8, 30, 0, 500000)
    assert guess(["2024-02-30"]) == "text"  # not a real day


def test_excel_serial_dates_in_a_date_column_of_a_workbook() -> None:
    assert guess([45000, 45001], "登记日期", spreadsheet=True) == "date"
    assert guess([45000, 45001], "数量", spreadsheet=True) == "int"
    assert guess([45000, 45001], "登记日期", spreadsheet=False) == "int"
    assert convert(45000, "date") == dt.date(2023, 3, 15)
    with pytest.raises(ValueError, match="Excel"):
        convert(12, "date")


def test_python_values_from_workbooks_and_json() -> None:
    assert guess([dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2)]) == "date"
    assert guess([dt.datetime(2024, 1, 1, 8, 0)]) == "timestamp"
    assert guess([1, 2.5]) == "numeric"
    assert guess([True, False]) == "text"
    assert guess([{"a": 1}]) == "text"
    assert convert({"城市": "杭州"}, "text") == '{"城市": "杭州"}'


def test_conversion_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError):
        convert("abc", "int")
    with pytest.raises(ValueError):
        convert("NaN", "numeric")
    with pytest.raises(ValueError):
        convert("2024-13-01", "date")


def test_type_names_follow_ckan() -> None:
    assert canonical_type("integer") == "int"
    assert canonical_type("FLOAT") == "numeric"
    assert canonical_type("datetime") == "timestamp"
    assert canonical_type("geometry") is None
