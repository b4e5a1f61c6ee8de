"""Organisation codes (组织机构代码, GB 11714-1997).

Eight body characters (digits or capital letters, A=10 … Z=35 over the full alphabet) and a check
character: weights 3, 7, 9, 10, 5, 8, 4, 2; check = 11 - (sum mod 11), where 10 is written ``X`` and
11 is written ``0``. Certificates print it as ``XXXXXXXX-X``; both forms are accepted. Since 2015 the
code lives on as positions 9-17 of the unified social credit code, where it keeps its own check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from zhengwu.identifiers._text import normalise
from zhengwu.identifiers.errors import combine, invalid, show_en, show_zh

KIND: Final = "org_code"
WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_VALUES: Final[dict[str, int]] = {c: int(c, 36) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


@dataclass(frozen=True, slots=True)
class OrgCode:
    """A valid organisation code."""

    value: str
    check_digit: str

    @property
    def body(self) -> str:
        """The eight characters before the check character."""
        return self.value[:8]

    @property
    def formatted(self) -> str:
        """Certificate form with the hyphen: ``XXXXXXXX-X``."""
        return f"{self.value[:8]}-{self.value[8]}"

    def to_dict(self) -> dict[str, object]:
        """Plain-data form for JSON."""
        return {
            "value": self.value,
            "kind": KIND,
            "valid": True,
            "formatted": self.formatted,
            "check_digit": self.check_digit,
        }


def org_code_check_digit(body8: str) -> str:
    """Check character for eight body characters (digits, capital letters): ``0``-``9`` or ``X``."""
    try:
        if len(body8) != 8:
            raise KeyError(body8)
        total = sum(_VALUES[c] * w for c, w in zip(body8, WEIGHTS, strict=True))
    except (KeyError, TypeError):
        raise invalid(
            KIND,
            "body",
            "本体应为8位数字或大写字母",
            "the body must be 8 digits or capital letters",
            actual=body8 if isinstance(body8, str) else type(body8).__name__,
        ) from None
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def parse_org_code(value: object, *, strict: bool = False) -> OrgCode:
    """Parse an organisation code, with or without the hyphen before the check character."""
    text = normalise(value, KIND, strict=strict, case="all")
    if len(text) == 10 and text[8] == "-":
        text = text[:8] + text[9]
    elif len(text) == 10 and "-" in text:
        i = text.index("-") + 1
        raise invalid(
            KIND,
            "charset",
            f"第{i}位的连字符位置不对，只能写在第9位校验码之前",
            f"hyphen at position {i} is misplaced; it may only stand before the check character",
            position=i,
            actual="-",
        )
    if len(text) != 9:
        raise invalid(
            KIND,
            "length",
            f"应为9位（或带连字符的10位），实际为{len(text)}位",
            f"must be 9 characters (10 with the hyphen), got {len(text)}",
            expected=9,
            actual=len(text),
        )
    problems = []
    for i, ch in enumerate(text, start=1):
        if i <= 8 and ch not in _VALUES:
            problems.append(
                invalid(
                    KIND,
                    "charset",
                    f"第{i}位{show_zh(ch)}应为数字或大写字母",
                    f"character {show_en(ch)} at position {i} must be a digit or a capital letter",
                    position=i,
                    actual=ch,
                )
            )
        elif i == 9 and not ("0" <= ch <= "9" or ch == "X"):
            problems.append(
                invalid(
                    KIND,
                    "charset",
                    f"第9位（校验码）{show_zh(ch)}应为数字或X",
                    f"check character {show_en(ch)} at position 9 must be a digit or X",
                    position=9,
                    actual=ch,
                )
            )
    if problems:
        raise combine(problems)
    expected = org_code_check_digit(text[:8])
    if text[8] != expected:
        raise invalid(
            KIND,
            "check_digit",
            f"第9位校验码应为“{expected}”，实际为“{text[8]}”",
            f"check digit at position 9 should be '{expected}', got '{text[8]}'",
            position=9,
            expected=expected,
            actual=text[8],
        )
    return OrgCode(value=text, check_digit=expected)


def validate_org_code(value: object, *, strict: bool = False) -> str:
    """Return the normalised 9-character code (no hyphen), or raise :class:`InvalidIdentifier`."""
    return parse_org_code(value, strict=strict).value
