"""recognise(): which kind a value is, whether it is valid, and what it says."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from zhengwu.identifiers import recognise, resident_id_check_digit, uscc_check_char
from zhengwu.identifiers.org_code import org_code_check_digit

TODAY = dt.date(2026, 11, 23)


def all_digit_uscc() -> str:
    """A valid USCC made only of digits, which is not a valid resident ID (its date is impossible)."""
    rng = random.Random(18)
    while True:
        org_body = f"{rng.randrange(10**8):08d}"
        org = org_body + org_code_check_digit(org_body)
        body = "91110105" + org
        check = uscc_check_char(body)
        if org[-1].isdigit() and check.isdigit() and not ("01" <= body[10:12] <= "12"):
            return body + check


def test_resident_id() -> None:
    out = recognise("11010519491231002X", today=TODAY)
    assert out["kind"] == "resident_id" and out["valid"] is True
    assert out["birth_date"] == "1949-12-31"
    assert out["sex"] == "female" and out["age"] == 76
    assert out["region_path"] == ["北京市", "朝阳区"]


def test_old_resident_id_is_converted() -> None:
    out = recognise("110105491231002", today=TODAY)
    assert out["kind"] == "resident_id" and out["valid"] is True
    assert out["value"] == "11010519491231002X"
    assert out["converted_from"] == "110105491231002"


def test_uscc() -> None:
    out = recognise("91350100M000100Y43")
    assert out["kind"] == "uscc" and out["valid"] is True
    assert out["registration_authority"] == "工商" and out["entity_type"] == "企业"
    assert out["org_code"] == "M000100Y4"
    assert out["region_path"] == ["福建省", "福州市"]


def test_all_digit_uscc_is_recognised_as_uscc() -> None:
    code = all_digit_uscc()
    out = recognise(code, today=TODAY)
    assert out["kind"] == "uscc" and out["valid"] is True


def test_mistyped_resident_id_reports_the_resident_id_error() -> None:
    body = "11010519491231002"
    wrong = "0" if resident_id_check_digit(body) != "0" else "1"
    out = recognise(body + wrong, today=TODAY)
    assert out["valid"] is False
    assert out["kind"] == "resident_id"
    error = out["error"]
    assert isinstance(error, dict) and error["code"] == "resident_id.check_digit"
    alternatives = out["alternatives"]
    assert isinstance(alternatives, list) and alternatives[0]["kind"] == "uscc"


def test_mistyped_uscc_reports_the_uscc_error() -> None:
    out = recognise("91350100M000100Y44")
    assert out["valid"] is False and out["kind"] == "uscc"
    error = out["error"]
    assert isinstance(error, dict) and error["code"] == "uscc.check_char"


def test_org_code_with_and_without_hyphen() -> None:
    for value in ("M000100Y4", "M000100Y-4"):
        out = recognise(value)
        assert out["kind"] == "org_code" and out["valid"] is True and out["value"] == "M000100Y4"


def test_region_code() -> None:
    out = recognise("330103")
    assert out["kind"] == "region_code" and out["valid"] is True
    assert out["name"] == "下城区" and out["current"] is False
    assert out["path"] == ["浙江省", "杭州市", "下城区"]


def test_unknown_region_code() -> None:
    out = recognise("999999")
    assert out["kind"] == "region_code" and out["valid"] is False
    error = out["error"]
    assert isinstance(error, dict) and error["code"] == "region_code.unknown"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1234", "identifier.length"),
        ("", "identifier.empty"),
        ("   ", "identifier.empty"),
        (None, "identifier.type"),
        (12345, "identifier.type"),
    ],
)
def test_unrecognisable(value: object, code: str) -> None:
    out = recognise(value)
    assert out["valid"] is False and out["kind"] is None
    error = out["error"]
    assert isinstance(error, dict) and error["code"] == code


def test_strict_is_passed_on() -> None:
    assert recognise(" 11010519491231002X", today=TODAY)["valid"] is True
    out = recognise(" 11010519491231002X", strict=True, today=TODAY)
    error = out["error"]
    assert isinstance(error, dict) and error["code"] == "resident_id.whitespace"


@pytest.mark.parametrize(
    "value",
    ["11010519491231002X", "91350100M000100Y43", "M000100Y4", "110101", "x", None, "110105199902300012"],
)
def test_results_are_json(value: object) -> None:
    out = recognise(value, today=TODAY)
    assert json.loads(json.dumps(out, ensure_ascii=False)) == out
