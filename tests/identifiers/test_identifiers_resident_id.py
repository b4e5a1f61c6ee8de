"""Resident ID numbers (GB 11643): published examples, generated numbers, every malformed kind."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric as stdnum_ric

from zhengwu.errors import ValidationError
from zhengwu.identifiers import (
    InvalidIdentifier,
    ResidentId,
    counties,
    parse_resident_id,
    resident_id_15_to_18,
    resident_id_check_digit,
    validate_resident_id,
)

# No example database: tests must not write .hypothesis/ into the work tree; no deadline on a
# shared 2-core machine.
QUICK = settings(database=None, deadline=None, max_examples=100)

TODAY = dt.date(2026, 11, 23)

# GB 11643-1999's own examples, and the one in python-stdnum's documentation.
GB_FEMALE = "11010519491231002X"
GB_OLDEST = "440524188001010014"
STDNUM_EXAMPLE = "360426199101010071"


def gb11643_check(body17: str) -> str:
    """Independent oracle: the weights and the table printed in GB 11643-1999."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(body17, weights, strict=True)) % 11]


def make_id(region: str, born: dt.date, sequence: int) -> str:
    body = f"{region}{born:%Y%m%d}{sequence:03d}"
    return body + gb11643_check(body)


def error_of(value: object, **kwargs: object) -> InvalidIdentifier:
    with pytest.raises(InvalidIdentifier) as info:
        parse_resident_id(value, today=TODAY, **kwargs)  # type: ignore[arg-type]
    return info.value


# --- published examples -------------------------------------------------------------------------


def test_gb_example_female_beijing_chaoyang() -> None:
    rid = parse_resident_id(GB_FEMALE, today=TODAY)
    assert isinstance(rid, ResidentId)
    assert rid.value == GB_FEMALE
    assert rid.region_code == "110105"
    assert rid.region.name == "朝阳区"
    assert rid.region.full_name == "北京市朝阳区"
    assert rid.birth_date == dt.date(1949, 12, 31)
    assert rid.sequence == "002"
    assert rid.sex == "female" and rid.sex_zh == "女"
    assert rid.check_digit == "X"
    assert rid.age(TODAY) == 76
    assert rid.residence_permit is False


def test_gb_example_born_1880_in_a_county_that_no_longer_exists() -> None:
    rid = parse_resident_id(GB_OLDEST, today=TODAY)
    assert rid.birth_date == dt.date(1880, 1, 1)
    assert rid.sex == "male"
    assert rid.region.name == "潮阳县"
    assert not rid.region.current  # abolished, but a number keeps the code that issued it


def test_stdnum_documented_example() -> None:
    assert validate_resident_id(STDNUM_EXAMPLE, today=TODAY) == STDNUM_EXAMPLE
    assert stdnum_ric.is_valid(STDNUM_EXAMPLE)


def test_result_is_frozen() -> None:
    rid = parse_resident_id(GB_FEMALE, today=TODAY)
    with pytest.raises(AttributeError):
        rid.value = "x"  # type: ignore[misc]


# --- check digit --------------------------------------------------------------------------------


@QUICK
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_check_digit_matches_the_standard_and_stdnum(body: str) -> None:
    expected = gb11643_check(body)
    assert resident_id_check_digit(body) == expected
    assert stdnum_ric.calc_check_digit(body + expected) == expected


@pytest.mark.parametrize(
    "bad", ["", "1234567890123456", "123456789012345678", "1101051949123100a", "１" * 17]
)
def test_check_digit_helper_rejects_bad_bodies(bad: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        resident_id_check_digit(bad)
    assert info.value.code == "resident_id.body"


def test_check_digit_helper_rejects_non_strings() -> None:
    with pytest.raises(InvalidIdentifier):
        resident_id_check_digit(12345678901234567)  # type: ignore[arg-type]


# --- generated numbers --------------------------------------------------------------------------


def test_generated_numbers_round_trip() -> None:
    rng = random.Random(11643)
    regions = counties()
    for _ in range(300):
        region = rng.choice(regions)
        born = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange((TODAY - dt.date(1900, 1, 1)).days))
        sequence = rng.randrange(1000)
        number = make_id(region.code, born, sequence)
        rid = parse_resident_id(number, today=TODAY)
        assert rid.region == region
        assert rid.birth_date == born
        assert rid.sex == ("male" if sequence % 2 else "female")
        assert rid.sequence == f"{sequence:03d}"


def test_historical_region_codes_are_accepted() -> None:
    # 110103 崇文区 was merged into 东城区 in 2010; 320212 马山区 (1987-2000) is known only to stdnum.
    for code in ("110103", "320212", "110221"):
        rid = parse_resident_id(make_id(code, dt.date(1980, 5, 17), 123), today=TODAY)
        assert not rid.region.current


def test_residence_permits_of_hong_kong_macao_taiwan() -> None:
    for code in ("810000", "820000", "830000"):
        rid = parse_resident_id(make_id(code, dt.date(1990, 1, 1), 11), today=TODAY)
        assert rid.residence_permit
    assert parse_resident_id(make_id("830000", dt.date(1990, 1, 1), 11), today=TODAY).to_dict(TODAY)[
        "region_path"
    ] == ["台湾居民（居住证）"]


def test_age_counts_completed_years() -> None:
    rid = parse_resident_id(make_id("110101", dt.date(2000, 11, 24), 1), today=TODAY)
    assert rid.age(TODAY) == 25
    assert rid.age(dt.date(2000, 11, 24)) == 0
    assert rid.age(dt.date(2001, 11, 24)) == 1


def test_born_today_is_fine_tomorrow_is_not() -> None:
    assert parse_resident_id(make_id("110101", TODAY, 1), today=TODAY).birth_date == TODAY
    err = error_of(make_id("110101", TODAY + dt.timedelta(days=1), 1))
    assert err.code == "resident_id.birth_date"
    assert err.details["reason"] == "future"


def test_to_dict_is_plain_data() -> None:
    data = parse_resident_id(GB_FEMALE, today=TODAY).to_dict(TODAY)
    assert data["birth_date"] == "1949-12-31"
    assert data["region_path"] == ["北京市", "朝阳区"]
    assert data["sex"] == "female"
    assert data["age"] == 76


# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "  11010519491231002X\t",
        "11010519491231002x",
        "１１０１０５１９４９１２３１００２Ｘ",
        "１１０１０５１９４９１２３１００２ｘ",
        "\u300011010519491231002X\u3000",
    ],
)
def test_lenient_mode_repairs_typing(typed: str) -> None:
    assert validate_resident_id(typed, today=TODAY) == GB_FEMALE


def test_strict_mode_rejects_surrounding_spaces() -> None:
    err = error_of(" " + GB_FEMALE, strict=True)
    assert err.code == "resident_id.whitespace"
    assert "空白" in err.message and "whitespace" in err.message_en


def test_strict_mode_rejects_full_width_with_position() -> None:
    err = error_of("110105１9491231002X", strict=True)
    assert err.code == "resident_id.fullwidth"
    assert err.details == {"position": 7, "actual": "１", "expected": "1"}
    assert "第7位" in err.message


def test_strict_mode_rejects_lower_case_x() -> None:
    err = error_of("11010519491231002x", strict=True)
    assert err.code == "resident_id.lowercase"
    assert err.details["position"] == 18


def test_strict_mode_accepts_canonical() -> None:
    assert validate_resident_id(GB_FEMALE, strict=True, today=TODAY) == GB_FEMALE


# --- malformed input, one kind at a time --------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", "\u3000"])
def test_empty(value: str) -> None:
    assert error_of(value).code == "resident_id.empty"


@pytest.mark.parametrize("value", [None, 11010519491231002, b"11010519491231002X", ["1"]])
def test_not_a_string(value: object) -> None:
    err = error_of(value)
    assert err.code == "resident_id.type"
    assert isinstance(err, ValidationError)
    assert err.field == "resident_id"


@pytest.mark.parametrize("value", [GB_FEMALE[:-1], GB_FEMALE + "1", "1"])
def test_wrong_length(value: str) -> None:
    err = error_of(value)
    assert err.code == "resident_id.length"
    assert err.details == {"expected": 18, "actual": len(value)}
    assert f"实际为{len(value)}位" in err.message


def test_fifteen_digits_get_a_hint_unless_allowed() -> None:
    err = error_of("110105491231002")
    assert err.code == "resident_id.length"
    assert "15位旧号码" in err.message and "15-digit" in err.message_en
    rid = parse_resident_id("110105491231002", today=TODAY, allow_15=True)
    assert rid.value == GB_FEMALE and rid.converted_from == "110105491231002"


def test_bad_character_names_position_and_character() -> None:
    err = error_of("1101051949A231002X")
    assert err.code == "resident_id.charset"
    assert err.details["position"] == 11 and err.details["actual"] == "A"
    assert "第11位“A”不是数字" in err.message
    assert "position 11" in err.message_en


def test_bad_check_character() -> None:
    err = error_of("11010519491231002Y")
    assert err.code == "resident_id.charset"
    assert err.details["position"] == 18
    assert "数字或X" in err.message


def test_invisible_character_is_shown_by_code_point() -> None:
    err = error_of("110105\u200b9491231002X")
    assert "U+200B" in err.message and "U+200B" in err.message_en


def test_several_bad_characters_are_all_listed() -> None:
    err = error_of("A101051949123100BX")
    assert err.details["position"] == 1
    assert [e["details"]["position"] for e in err.details["errors"]] == [1, 17]


def test_wrong_check_digit_says_expected_and_actual() -> None:
    err = error_of("110105194912310021")
    assert err.code == "resident_id.check_digit"
    assert err.details == {"position": 18, "expected": "X", "actual": "1"}
    assert "应为“X”，实际为“1”" in err.message
    assert "should be 'X', got '1'" in err.message_en
    # python-stdnum agrees it is wrong but cannot say why.
    assert not stdnum_ric.is_valid("110105194912310021")


@pytest.mark.parametrize("date", ["19990230", "20230229", "19991301", "19990001", "19990100", "00000000"])
def test_impossible_birth_date(date: str) -> None:
    body = f"110105{date}001"
    err = error_of(body + gb11643_check(body))
    assert err.code == "resident_id.birth_date"
    assert err.details["reason"] == "nonexistent"
    assert err.details["position"] == 7
    assert "不存在" in err.message and "does not exist" in err.message_en


def test_leap_day_exists_in_leap_years() -> None:
    assert parse_resident_id(make_id("110105", dt.date(2000, 2, 29), 1), today=TODAY)


def test_future_birth_date() -> None:
    err = error_of(make_id("110105", dt.date(2030, 1, 1), 1))
    assert err.details["reason"] == "future"
    assert "晚于今天（2026-11-23）" in err.message


def test_absurdly_old_birth_date() -> None:
    err = error_of(make_id("110105", dt.date(1879, 12, 31), 1))
    assert err.code == "resident_id.birth_date"
    assert err.details["reason"] == "too_old"
    assert "1880" in err.message


def test_unknown_region() -> None:
    err = error_of(make_id("999999", dt.date(1990, 1, 1), 1))
    assert err.code == "resident_id.region"
    assert err.details == {"position": 1, "actual": "999999"}
    assert "999999" in err.message and "GB/T 2260" in err.message_en


def test_all_problems_are_listed_with_the_most_telling_first() -> None:
    body = "99999919990230001"
    wrong = "1" if gb11643_check(body) != "1" else "2"
    err = error_of(body + wrong)
    codes = [e["code"] for e in err.details["errors"]]
    assert codes == ["resident_id.birth_date", "resident_id.region", "resident_id.check_digit"]
    assert err.code == "resident_id.birth_date"


def test_to_dict_of_an_error_is_the_api_body() -> None:
    body = error_of("110105194912310021").to_dict()
    assert body["code"] == "resident_id.check_digit"
    assert body["field"] == "resident_id"
    assert body["message"].startswith("公民身份号码")
    assert body["message_en"].startswith("resident ID number:")


# --- 15 -> 18 -----------------------------------------------------------------------------------


def test_15_to_18_gb_example() -> None:
    assert resident_id_15_to_18("110105491231002", today=TODAY) == GB_FEMALE


def test_15_to_18_round_trip_on_generated_numbers() -> None:
    rng = random.Random(15)
    regions = counties()
    for _ in range(100):
        region = rng.choice(regions).code
        born = dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(36500))
        seq = rng.randrange(1000)
        old = f"{region}{born:%y%m%d}{seq:03d}"
        assert resident_id_15_to_18(old, today=TODAY) == make_id(region, born, seq)


@pytest.mark.parametrize(
    ("old", "code"),
    [
        ("11010549123100", "resident_id.length"),
        ("11010519491231002X", "resident_id.length"),
        ("11010549123100X", "resident_id.charset"),
        ("110105990230001", "resident_id.birth_date"),
        ("999999491231002", "resident_id.region"),
        ("", "resident_id.empty"),
    ],
)
def test_15_to_18_rejects(old: str, code: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        resident_id_15_to_18(old, today=TODAY)
    assert info.value.code == code


def test_15_digit_date_positions_are_those_of_the_old_number() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        resident_id_15_to_18("110105990230001", today=TODAY)
    assert info.value.details["position"] == 7
    assert "第7–12位" in info.value.message
