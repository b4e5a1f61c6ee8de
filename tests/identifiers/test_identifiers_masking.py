"""Masking helpers: the documented shapes, and never an exception or a leak on odd input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhengwu.identifiers import mask_name, mask_phone, mask_resident_id

# No example database: tests must not write .hypothesis/ into the work tree; no deadline on a
# shared 2-core machine.
QUICK = settings(database=None, deadline=None, max_examples=100)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("110105199001011234", "110105********1234"),
        ("11010519491231002X", "110105********002X"),
        (" 110105199001011234 ", "110105********1234"),
        ("110105491231002", "110105*****1002"),
        (110105199001011234, "110105********1234"),
        ("1101051990", "**********"),
        ("abc", "***"),
        ("", ""),
        (None, ""),
        (3.5, ""),
    ],
)
def test_mask_resident_id(value: object, masked: str) -> None:
    assert mask_resident_id(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812341234", "138****1234"),
        ("138 1234 1234", "138 **** 1234"),
        ("138-1234-1234", "138-****-1234"),
        ("+8613812341234", "+86138****1234"),
        ("+86 138 1234 1234", "+86 138 **** 1234"),
        ("008613812341234", "0086138****1234"),
        ("010-12345678", "***-****5678"),
        ("(0755) 8765 4321", "(****) **** 4321"),
        ("12345", "*****"),
        ("电话13812341234号", "*********1234*"),
        ("", ""),
        (None, ""),
        (13812341234, "138****1234"),
    ],
)
def test_mask_phone(value: object, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三", "张*"),
        ("欧阳修", "欧**"),
        ("司马相如", "司***"),
        ("李", "*"),
        ("阿卜杜拉·买买提", "阿***·***"),
        ("John Smith", "J*** *****"),
        (" 张三 ", "张*"),
        ("", ""),
        (None, ""),
        (42, ""),
    ],
)
def test_mask_name(value: object, masked: str) -> None:
    assert mask_name(value) == masked


@QUICK
@given(st.one_of(st.text(), st.integers(), st.none(), st.binary(), st.floats()))
def test_masking_never_raises(value: object) -> None:
    for mask in (mask_resident_id, mask_phone, mask_name):
        assert isinstance(mask(value), str)


@QUICK
@given(st.text(alphabet="0123456789", min_size=18, max_size=18))
def test_resident_id_middle_never_leaks(number: str) -> None:
    masked = mask_resident_id(number)
    assert masked[6:14] == "*" * 8
    assert masked[:6] == number[:6] and masked[-4:] == number[-4:]


@QUICK
@given(st.text(min_size=2))
def test_name_keeps_only_the_first_character(name: str) -> None:
    masked = mask_name(name)
    assert len(masked) == len(name.strip())
    if len(masked) > 1:
        assert masked[0] == name.strip()[0]
    assert all(ch == "*" or ch in "·•・. -" for ch in masked[1:])
