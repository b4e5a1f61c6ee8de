"""Unified social credit codes (GB 32100) and organisation codes (GB 11714)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from zhengwu.identifiers import (
    InvalidIdentifier,
    Uscc,
    org_code_check_digit,
    parse_org_code,
    parse_uscc,
    uscc_check_char,
    validate_org_code,
    validate_uscc,
)
from zhengwu.identifiers.uscc import ALPHABET, AUTHORITIES

# No example database: tests must not write .hypothesis/ into the work tree; no deadline on a
# shared 2-core machine.
QUICK = settings(database=None, deadline=None, max_examples=100)

# The example printed in GB 32100-2015, python-stdnum's documented example, and two large
# companies' codes as printed on their business licences (腾讯科技（深圳）, 阿里巴巴（中国）网络技术).
GB_EXAMPLE = "91350100M000100Y43"
STDNUM_EXAMPLE = "91110000600037341L"
PUBLISHED = [GB_EXAMPLE, STDNUM_EXAMPLE, "9144030071526726XG", "91330100716105852F"]

ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def gb11714_check(body8: str) -> str:
    """Independent oracle for GB 11714: values A=10..Z=35, weights 3 7 9 10 5 8 4 2."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(ORG_ALPHABET.index(c) * w for c, w in zip(body8, weights, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def gb32100_check(body17: str) -> str:
    """Independent oracle for GB 32100: weights 3^i mod 31, check = 31 - sum mod 31 (31 -> 0)."""
    total = sum(ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    return ALPHABET[(31 - total % 31) % 31]


def make_uscc(rng: random.Random, authority: str = "9", entity: str = "1", region: str = "110105") -> str:
    usable = [c for c in ALPHABET]
    body8 = "".join(rng.choice(usable) for _ in range(8))
    org = body8 + gb11714_check(body8)
    body17 = authority + entity + region + org
    return body17 + gb32100_check(body17)


def error_of(value: object, **kwargs: object) -> InvalidIdentifier:
    with pytest.raises(InvalidIdentifier) as info:
        parse_uscc(value, **kwargs)  # type: ignore[arg-type]
    return info.value


# --- published codes ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", PUBLISHED)
def test_published_codes_are_valid_for_us_and_for_stdnum(code: str) -> None:
    assert validate_uscc(code) == code
    assert stdnum_uscc.is_valid(code)


def test_gb_example_decoded() -> None:
    u = parse_uscc(GB_EXAMPLE)
    assert isinstance(u, Uscc)
    assert (u.registration_authority_code, u.registration_authority) == ("9", "工商")
    assert (u.entity_type_code, u.entity_type) == ("1", "企业")
    assert u.region_code == "350100"
    assert u.region is not None and u.region.full_name == "福建省福州市"
    assert u.org_code == "M000100Y4"
    assert u.org_code_formatted == "M000100Y-4"
    assert u.check_char == "3"
    data = u.to_dict()
    assert data["region_path"] == ["福建省", "福州市"]
    assert str(data["registration_authority_en"]).startswith("market regulation")


def test_org_code_inside_published_code_is_valid_on_its_own() -> None:
    for code in PUBLISHED:
        assert validate_org_code(code[8:17]) == code[8:17]


# --- check characters ---------------------------------------------------------------------------


@QUICK
@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17))
def test_check_char_matches_the_standard_and_stdnum(body: str) -> None:
    assert uscc_check_char(body) == gb32100_check(body)
    assert stdnum_uscc.calc_check_digit(body) == gb32100_check(body)


@QUICK
@given(st.text(alphabet=ORG_ALPHABET, min_size=8, max_size=8))
def test_org_code_check_matches_the_standard(body: str) -> None:
    assert org_code_check_digit(body) == gb11714_check(body)


@pytest.mark.parametrize("bad", ["", "9135010", "91350100M000100Y4I", "91350100M000100y4", "９" * 17])
def test_check_char_helper_rejects_bad_bodies(bad: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        uscc_check_char(bad)
    assert info.value.code == "uscc.body"


@pytest.mark.parametrize("bad", ["", "1234567", "123456789", "1234567a", None])
def test_org_code_helper_rejects_bad_bodies(bad: object) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        org_code_check_digit(bad)  # type: ignore[arg-type]
    assert info.value.code == "org_code.body"


# --- generated codes ----------------------------------------------------------------------------


def test_every_authority_and_entity_type_decodes() -> None:
    rng = random.Random(32100)
    for authority, (authority_name, types) in AUTHORITIES.items():
        for entity, entity_name in types.items():
            code = make_uscc(rng, authority, entity)
            u = parse_uscc(code)
            assert (u.registration_authority, u.entity_type) == (authority_name, entity_name)


def test_full_authority_table() -> None:
    assert list(AUTHORITIES) == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "N", "Y"]
    assert AUTHORITIES["1"][1]["1"] == "机关"
    assert AUTHORITIES["5"][1]["1"] == "社会团体"
    assert AUTHORITIES["9"][1] == {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"}


def test_many_generated_codes_round_trip() -> None:
    rng = random.Random(7)
    for _ in range(300):
        code = make_uscc(rng)
        assert validate_uscc(code) == code


def test_national_and_unknown_regions_are_not_errors() -> None:
    rng = random.Random(1)
    national = parse_uscc(make_uscc(rng, "1", "1", "100000"))
    assert national.region is None
    assert national.to_dict()["region_name"] == "全国（中央）"
    unknown = parse_uscc(make_uscc(rng, "9", "1", "999999"))
    assert unknown.region is None and unknown.to_dict()["region_path"] == []


# --- malformed ----------------------------------------------------------------------------------


def test_wrong_length() -> None:
    err = error_of(GB_EXAMPLE[:-1])
    assert err.code == "uscc.length"
    assert err.details == {"expected": 18, "actual": 17}


@pytest.mark.parametrize("letter", list("IOZSV"))
def test_excluded_letters_are_named(letter: str) -> None:
    value = GB_EXAMPLE[:9] + letter + GB_EXAMPLE[10:]
    err = error_of(value)
    assert err.code == "uscc.charset"
    assert err.details == {"position": 10, "actual": letter}
    assert "不使用 I、O、Z、S、V" in err.message
    assert "never used" in err.message_en


def test_letter_in_region_part() -> None:
    err = error_of("9135010AM000100Y43")
    assert err.code == "uscc.charset"
    assert err.details["position"] == 8
    assert "第3–8位为行政区划码" in err.message


def test_punctuation() -> None:
    err = error_of("91350100M000100Y4#")
    assert err.details == {"position": 18, "actual": "#"}


def test_unknown_registration_authority() -> None:
    body = "B1350100M000100Y4"
    err = error_of(body + gb32100_check(body))
    assert err.code == "uscc.registration_authority"
    assert err.details["position"] == 1 and err.details["actual"] == "B"


def test_entity_type_not_defined_for_the_authority() -> None:
    body = "99350100M000100Y4"
    err = error_of(body + gb32100_check(body))
    assert err.code == "uscc.entity_type"
    assert err.details == {"position": 2, "actual": "9", "expected": ["1", "2", "3"]}
    assert "工商" in err.message


def test_wrong_check_char() -> None:
    err = error_of(GB_EXAMPLE[:-1] + "4")
    assert err.code == "uscc.check_char"
    assert err.details == {"position": 18, "expected": "3", "actual": "4"}
    assert "第18位校验码应为“3”，实际为“4”" in err.message


def test_broken_org_code_is_caught_where_stdnum_is_silent() -> None:
    # Position 17 changed and position 18 recomputed: the USCC check passes, GB 11714's does not.
    body = GB_EXAMPLE[:16] + "5"
    value = body + gb32100_check(body)
    assert stdnum_uscc.is_valid(value)
    err = error_of(value)
    assert err.code == "uscc.org_code_check"
    assert err.details == {"position": 17, "expected": "4", "actual": "5"}
    assert "组织机构代码" in err.message and "GB 11714" in err.message_en


def test_typo_in_org_part_reports_both_checks() -> None:
    err = error_of("91350100M000200Y43")
    assert [e["code"] for e in err.details["errors"]] == ["uscc.check_char", "uscc.org_code_check"]


def test_lenient_and_strict_case() -> None:
    assert validate_uscc(" 91350100m000100y43 ") == GB_EXAMPLE
    assert validate_uscc("９１３５０１００Ｍ０００１００Ｙ４３") == GB_EXAMPLE
    err = error_of("91350100m000100Y43", strict=True)
    assert err.code == "uscc.lowercase"
    assert err.details == {"position": 9, "actual": "m", "expected": "M"}


@pytest.mark.parametrize(
    ("value", "code"), [("", "uscc.empty"), (None, "uscc.type"), (91350100, "uscc.type")]
)
def test_empty_and_non_strings(value: object, code: str) -> None:
    assert error_of(value).code == code


# --- organisation codes on their own ------------------------------------------------------------


@pytest.mark.parametrize("typed", ["M000100Y4", "M000100Y-4", " m000100y-4 ", "Ｍ０００１００Ｙ－４"])
def test_org_code_forms(typed: str) -> None:
    org = parse_org_code(typed)
    assert org.value == "M000100Y4"
    assert org.formatted == "M000100Y-4"
    assert org.body == "M000100Y"
    assert org.to_dict()["kind"] == "org_code"


def test_org_code_check_values_x_and_zero() -> None:
    rng = random.Random(11714)
    seen: dict[str, str] = {}
    while len(seen) < 2:
        body = "".join(rng.choice(ORG_ALPHABET) for _ in range(8))
        check = gb11714_check(body)
        if check in ("X", "0"):
            seen[check] = body + check
    for code in seen.values():
        assert validate_org_code(code) == code


def test_org_code_allows_letters_the_uscc_does_not() -> None:
    body = "IOZSV123"
    assert validate_org_code(body + gb11714_check(body)) == body + gb11714_check(body)


@pytest.mark.parametrize(
    ("value", "code", "position"),
    [
        ("M000100Y", "org_code.length", None),
        ("M000100Y45", "org_code.length", None),
        ("M000-100Y4", "org_code.charset", 5),
        ("M000100#4", "org_code.charset", 8),
        ("M000100YA", "org_code.charset", 9),
        ("M000100Y5", "org_code.check_digit", 9),
        ("", "org_code.empty", None),
    ],
)
def test_org_code_errors(value: str, code: str, position: int | None) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        parse_org_code(value)
    assert info.value.code == code
    assert info.value.field == "org_code"
    assert info.value.details.get("position") == position


def test_org_code_check_error_says_expected() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        parse_org_code("M000100Y-5")
    assert info.value.details == {"position": 9, "expected": "4", "actual": "5"}
    assert "应为“4”" in info.value.message


def test_org_code_strict() -> None:
    assert validate_org_code("M000100Y-4", strict=True) == "M000100Y4"
    with pytest.raises(InvalidIdentifier) as info:
        parse_org_code("m000100Y4", strict=True)
    assert info.value.code == "org_code.lowercase"
