"""The GB/T 2260 region table: contents, queries, and the build script's rules."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType

import pytest

from zhengwu.identifiers import (
    InvalidIdentifier,
    Region,
    counties,
    region_get,
    region_lookup,
    region_path,
    regions_all,
)
from zhengwu.identifiers.regions import is_placeholder, level_of

ROOT = Path(__file__).resolve().parents[2]


def shipped_rows() -> list[dict[str, str]]:
    text = resources.files("zhengwu.identifiers").joinpath("data/regions.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def load_build_script() -> ModuleType:
    path = ROOT / "scripts" / "build_regions.py"
    spec = importlib.util.spec_from_file_location("zhengwu_build_regions", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered while it executes
    spec.loader.exec_module(module)
    return module


# --- lookups ------------------------------------------------------------------------------------


def test_current_county() -> None:
    r = region_lookup("110101")
    assert isinstance(r, Region)
    assert (r.code, r.name, r.level, r.parent) == ("110101", "东城区", "county", "110000")
    assert r.full_name == "北京市东城区"
    assert r.current and r.valid_to is None


def test_historical_county() -> None:
    r = region_lookup("110103")
    assert r.name == "崇文区"
    assert r.valid_to == 2010 and not r.current


def test_renamed_prefecture_keeps_former_names() -> None:
    r = region_lookup("210200")
    assert r.name == "大连市"
    assert "旅大市" in r.former_names


def test_code_known_only_to_python_stdnum() -> None:
    r = region_lookup("320212")
    assert r.name == "马山区"
    assert (r.valid_from, r.valid_to) == (1987, 2000)
    assert r.sources == ("python-stdnum",)
    assert r.full_name == "江苏省无锡市马山区"


def test_province_and_prefecture_levels() -> None:
    assert region_lookup("440000").level == "province"
    assert region_lookup("440300").level == "prefecture"
    assert region_lookup("441900").full_name == "广东省东莞市"


def test_lookup_normalises_like_the_identifiers() -> None:
    assert region_lookup(" １１０１０１ ").code == "110101"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("999999", "region_code.unknown"),
        ("11010", "region_code.length"),
        ("11010A", "region_code.charset"),
        ("", "region_code.empty"),
        (None, "region_code.type"),
    ],
)
def test_lookup_errors(value: object, code: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        region_lookup(value)
    assert info.value.code == code
    assert info.value.field == "region_code"


def test_unknown_code_message() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        region_lookup("999999")
    assert "999999" in info.value.message and "GB/T 2260" in info.value.message
    assert info.value.details == {"actual": "999999"}


@pytest.mark.parametrize("value", ["999999", "1101", "abcdef", None, 110101, ""])
def test_get_never_raises(value: object) -> None:
    assert region_get(value) is None


def test_get_found() -> None:
    assert region_get("110101") == region_lookup("110101")


def test_region_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        region_lookup("110101").name = "x"  # type: ignore[misc]


# --- paths and listings -------------------------------------------------------------------------


def test_path_skips_placeholders() -> None:
    assert [r.name for r in region_path("110101")] == ["北京市", "东城区"]
    assert [r.code for r in region_path("330106")] == ["330000", "330100", "330106"]
    assert [r.name for r in region_path("419001")] == ["河南省", "济源市"]
    assert [r.name for r in region_path("440000")] == ["广东省"]


def test_path_of_unknown_raises() -> None:
    with pytest.raises(InvalidIdentifier):
        region_path("999999")


def test_counties_current() -> None:
    current = counties()
    assert current and all(r.level == "county" and r.current for r in current)
    assert len(current) == sum(1 for r in regions_all() if r.level == "county" and r.valid_to is None)
    assert len(counties(current_only=False)) > len(current)


def test_counties_under_a_province_and_a_prefecture() -> None:
    beijing = counties(under="110000")
    assert len(beijing) == 16  # 16 districts since 2015
    assert {r.name for r in beijing} >= {"东城区", "西城区", "延庆区"}
    hangzhou = counties(under="330100")
    assert hangzhou and all(r.code.startswith("3301") for r in hangzhou)
    assert "下城区" not in {r.name for r in hangzhou}  # merged in 2021
    assert "下城区" in {r.name for r in counties(current_only=False, under="330100")}


@pytest.mark.parametrize(
    ("under", "code"), [("110101", "region_code.not_an_area"), ("990000", "region_code.unknown")]
)
def test_counties_under_bad_area(under: str, code: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        counties(under=under)
    assert info.value.code == code


# --- the table as a whole -----------------------------------------------------------------------


def test_table_is_consistent() -> None:
    everything = regions_all()
    codes = [r.code for r in everything]
    assert codes == sorted(codes) and len(codes) == len(set(codes))
    by_code = {r.code: r for r in everything}
    for r in everything:
        assert len(r.code) == 6 and r.code.isdigit()
        assert r.level == level_of(r.code)
        assert r.name and r.full_name.endswith(r.name)
        if r.parent is not None:
            parent = by_code[r.parent]
            assert r.code.startswith(parent.code[:2])
            assert not is_placeholder(parent.name) or r.level == "prefecture"
        if r.valid_from is not None and r.valid_to is not None:
            assert r.valid_from <= r.valid_to


def test_current_list_has_every_province() -> None:
    provinces = [r for r in regions_all() if r.level == "province" and r.current]
    assert len(provinces) == 34  # 23 provinces, 5 autonomous regions, 4 municipalities, 2 SARs
    assert all(r.parent is None for r in provinces)
    for county in counties():
        assert region_lookup(county.code[:2] + "0000").current


def test_shipped_csv_matches_what_is_loaded() -> None:
    rows = shipped_rows()
    assert len(rows) > 7000
    for row in rows:
        region = region_lookup(row["code"])
        assert region.name == row["name"]
        assert region.level == row["level"]
        assert (region.parent or "") == row["parent"]
        assert (str(region.valid_from) if region.valid_from else "") == row["valid_from"]
        assert (str(region.valid_to) if region.valid_to else "") == row["valid_to"]
        assert "|".join(region.former_names) == row["former_names"]
    extra = [r for r in regions_all() if r.sources == ("python-stdnum",)]
    assert len(regions_all()) == len(rows) + len(extra)


# --- build script rules (pure functions, no download) -------------------------------------------


def test_build_rules_on_a_small_example() -> None:
    build = load_build_script()
    revisions = {
        "198012": {"110000": "北京市", "110103": "崇文区", "110221": "昌平县"},
        "199912": {"110000": "北京市", "110103": "崇文区", "110114": "昌平区"},
        "201904": {"110000": "北京市", "110100": "市辖区", "110114": "昌平区"},
    }
    current = {"110000": "北京市", "110114": "昌平区", "110119": "延庆区"}
    events = [
        {"year": 2010, "old": {"code": "110103000000", "name": "崇文区"}, "new": None},
        {
            "year": 2015,
            "old": {"code": "110229000000", "name": "延庆县"},
            "new": {"code": "110119000000", "name": "延庆区"},
        },
    ]
    rows = {row[0]: row for row in build.rows(build.collect(revisions, current, events))}
    header = ["code", "level", "parent", "name", "valid_from", "valid_to", "former_names", "src"]
    as_dicts = {code: dict(zip(header, row, strict=True)) for code, row in rows.items()}
    assert as_dicts["110000"]["valid_from"] == ""  # in the oldest revision: start unknown
    assert as_dicts["110000"]["valid_to"] == ""  # in the current list
    assert as_dicts["110103"]["valid_to"] == "2010"  # last seen in an event
    assert as_dicts["110221"]["valid_to"] == "1980"
    assert as_dicts["110114"]["valid_from"] == "1999"
    assert as_dicts["110119"]["valid_from"] == "2015" and as_dicts["110119"]["src"] == "EQ"
    assert as_dicts["110229"]["valid_from"] == "" and as_dicts["110229"]["valid_to"] == "2015"
    assert as_dicts["110100"]["level"] == "prefecture"
    assert as_dicts["110114"]["parent"] == "110000"  # 110100 市辖区 is skipped
    csv_text = build.render(list(rows.values()))
    assert csv_text.splitlines()[0] == ",".join(header)
