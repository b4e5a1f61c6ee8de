"""``zhengwu id check`` driven through click's test runner."""

from __future__ import annotations

import json

from click.testing import CliRunner, Result

from zhengwu.identifiers import resident_id_check_digit
from zhengwu.identifiers.cli import id_group


def run(*args: str) -> Result:
    return CliRunner().invoke(id_group, list(args))


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_valid_values_print_one_json_object_each() -> None:
    result = run("check", "11010519491231002X", "91350100M000100Y43", "110101", "--today", "2026-11-23")
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    assert [o["kind"] for o in out] == ["resident_id", "uscc", "region_code"]
    assert out[0]["age"] == 76
    assert "朝阳区" in result.stdout  # ensure_ascii=False keeps Chinese readable
    assert result.stderr == ""


def test_invalid_value_exits_1_with_reasons_in_both_languages() -> None:
    result = run("check", "11010519491231002X", "110105194912310021", "--today", "2026-11-23")
    assert result.exit_code == 1
    out = lines(result.stdout)
    assert [o["valid"] for o in out] == [True, False]
    assert "110105194912310021" in result.stderr
    assert "校验码应为“X”" in result.stderr
    assert "should be 'X'" in result.stderr
    assert "resident_id.check_digit" in result.stderr


def test_strict_flag() -> None:
    assert run("check", "11010519491231002x").exit_code == 0
    result = run("check", "--strict", "11010519491231002x")
    assert result.exit_code == 1
    assert "resident_id.lowercase" in result.stderr


def test_today_flag_decides_what_is_future() -> None:
    body = "11010520260101001"
    value = body + resident_id_check_digit(body)
    assert run("check", value, "--today", "2026-11-23").exit_code == 0
    result = run("check", value, "--today", "2025-12-31")
    assert result.exit_code == 1
    assert "晚于今天" in result.stderr


def test_values_are_required() -> None:
    result = run("check")
    assert result.exit_code == 2


def test_group_is_named_id() -> None:
    assert id_group.name == "id"
    assert "check" in id_group.commands
