"""Resident ID numbers (公民身份号码, GB 11643-1999).

Eighteen characters: a six-digit region code (the county that first issued the number, kept for life
even after the county is renamed or abolished), the birth date YYYYMMDD, a three-digit sequence whose
parity gives the sex (odd = male), and a check character (ISO 7064 MOD 11-2, ``X`` standing for 10).
Numbers issued before 1999 had 15 digits: a two-digit year (always 19xx) and no check character.

The same layout is used by the residence permits of Hong Kong, Macao and Taiwan residents
(港澳台居民居住证, region 810000 / 820000 / 830000); those are accepted and flagged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

from stdnum.cn import ric as _stdnum_ric

from zhengwu.identifiers._text import normalise
from zhengwu.identifiers.errors import InvalidIdentifier, combine, invalid, show_en, show_zh
from zhengwu.identifiers.regions import Region, region_get, region_path

KIND: Final = "resident_id"
#: GB 11643's own example (440524188001010014) is born on 1880-01-01; nothing older is plausible.
MIN_BIRTH_YEAR: Final = 1880

# 830000 is not a GB/T 2260 code: it was assigned for Taiwan residents' residence permits (2018).
_TAIWAN_PERMIT = Region(
    code="830000",
    name="台湾居民（居住证）",
    level="province",
    parent=None,
    valid_from=2018,
    valid_to=None,
    full_name="台湾居民（居住证）",
    sources=("GB 11643 residence permit rule",),
)
PERMIT_CODES: Final = frozenset({"810000", "820000", "830000"})

Sex = Literal["male", "female"]


@dataclass(frozen=True, slots=True)
class ResidentId:
    """A valid resident ID number, decoded."""

    value: str
    region: Region
    birth_date: dt.date
    sequence: str
    sex: Sex
    check_digit: str
    converted_from: str | None = None

    @property
    def region_code(self) -> str:
        """Positions 1-6."""
        return self.value[:6]

    @property
    def sex_zh(self) -> str:
        """男 or 女."""
        return "男" if self.sex == "male" else "女"

    @property
    def residence_permit(self) -> bool:
        """True for the residence permits of Hong Kong, Macao and Taiwan residents."""
        return self.region_code in PERMIT_CODES

    def age(self, today: dt.date | None = None) -> int:
        """Completed years of age on ``today`` (default: the local date)."""
        today = today or dt.date.today()
        born = self.birth_date
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    def to_dict(self, today: dt.date | None = None) -> dict[str, object]:
        """Plain-data form for JSON (dates as ISO strings)."""
        path = [self.region] if self.region.code == "830000" else region_path(self.region.code)
        out: dict[str, object] = {
            "value": self.value,
            "kind": KIND,
            "valid": True,
            "region_code": self.region_code,
            "region_name": self.region.name,
            "region_full_name": self.region.full_name,
            "region_path": [r.name for r in path],
            "region_current": self.region.current,
            "birth_date": self.birth_date.isoformat(),
            "age": self.age(today),
            "sex": self.sex,
            "sex_zh": self.sex_zh,
            "sequence": self.sequence,
            "check_digit": self.check_digit,
            "residence_permit": self.residence_permit,
        }
        if self.converted_from is not None:
            out["converted_from"] = self.converted_from
        return out


def resident_id_check_digit(body17: str) -> str:
    """Check character for the first 17 digits (ISO 7064 MOD 11-2): ``"0"``-``"9"`` or ``"X"``.

    Cheap enough to call per row in a synthetic-data generator; the arithmetic is python-stdnum's.
    """
    if not (isinstance(body17, str) and len(body17) == 17 and body17.isascii() and body17.isdigit()):
        raise invalid(
            KIND,
            "body",
            "本体应为17位数字",
            "the body must be 17 ASCII digits",
            actual=body17 if isinstance(body17, str) else type(body17).__name__,
        )
    return _stdnum_ric.calc_check_digit(body17 + "0")


def _length_error(text: str, *, allow_15: bool) -> InvalidIdentifier:
    hint_zh = "（15位旧号码请先升为18位）" if len(text) == 15 and not allow_15 else ""
    hint_en = " (convert the old 15-digit number to 18 digits first)" if hint_zh else ""
    want = "18位或15位" if allow_15 else "18位"
    want_en = "18 or 15" if allow_15 else "18"
    return invalid(
        KIND,
        "length",
        f"长度应为{want}，实际为{len(text)}位{hint_zh}",
        f"length must be {want_en} characters, got {len(text)}{hint_en}",
        expected=18,
        actual=len(text),
    )


def _charset_problems(text: str, *, check_position: int | None) -> list[InvalidIdentifier]:
    problems = []
    for i, ch in enumerate(text, start=1):
        if "0" <= ch <= "9":
            continue
        if i == check_position:
            if ch == "X":
                continue
            problems.append(
                invalid(
                    KIND,
                    "charset",
                    f"第{i}位（校验码）{show_zh(ch)}应为数字或X",
                    f"check character {show_en(ch)} at position {i} must be a digit or X",
                    position=i,
                    actual=ch,
                )
            )
        else:
            problems.append(
                invalid(
                    KIND,
                    "charset",
                    f"第{i}位{show_zh(ch)}不是数字",
                    f"character {show_en(ch)} at position {i} is not a digit",
                    position=i,
                    actual=ch,
                )
            )
    return problems


def _birth_date(
    digits: str, first: int, today: dt.date | None
) -> tuple[dt.date | None, InvalidIdentifier | None]:
    """Check YYYYMMDD found at 1-based ``first``; return the date or the problem."""
    span = f"第{first}–{first + 7}位" if len(digits) == 8 else f"第{first}–{first + 5}位"
    span_en = f"positions {first}-{first + 7}" if len(digits) == 8 else f"positions {first}-{first + 5}"
    full = digits if len(digits) == 8 else "19" + digits
    shown = f"{full[:4]}-{full[4:6]}-{full[6:]}"
    try:
        born = dt.date(int(full[:4]), int(full[4:6]), int(full[6:]))
    except ValueError:
        return None, invalid(
            KIND,
            "birth_date",
            f"{span}的出生日期 {shown} 不存在",
            f"birth date {shown} ({span_en}) does not exist",
            position=first,
            actual=digits,
            reason="nonexistent",
        )
    if born.year < MIN_BIRTH_YEAR:
        return None, invalid(
            KIND,
            "birth_date",
            f"{span}的出生日期 {shown} 早于{MIN_BIRTH_YEAR}年，不可能",
            f"birth date {shown} ({span_en}) is before {MIN_BIRTH_YEAR}",
            position=first,
            actual=digits,
            reason="too_old",
        )
    today = today or dt.date.today()
    if born > today:
        return None, invalid(
            KIND,
            "birth_date",
            f"{span}的出生日期 {shown} 晚于今天（{today.isoformat()}）",
            f"birth date {shown} ({span_en}) is after today ({today.isoformat()})",
            position=first,
            actual=digits,
            reason="future",
        )
    return born, None


def _region(code: str) -> tuple[Region | None, InvalidIdentifier | None]:
    region = _TAIWAN_PERMIT if code == "830000" else region_get(code)
    if region is not None:
        return region, None
    return None, invalid(
        KIND,
        "region",
        f"第1–6位地区码“{code}”不是已知的行政区划代码（GB/T 2260，含历史代码）",
        f"region code '{code}' (positions 1-6) is not a known GB/T 2260 code, current or historical",
        position=1,
        actual=code,
    )


def _check_problem(text: str, expected: str, position: int) -> InvalidIdentifier:
    return invalid(
        KIND,
        "check_digit",
        f"第{position}位校验码应为“{expected}”，实际为“{text[position - 1]}”",
        f"check digit at position {position} should be '{expected}', got '{text[position - 1]}'",
        position=position,
        expected=expected,
        actual=text[position - 1],
    )


def _parse18(text: str, today: dt.date | None, converted_from: str | None = None) -> ResidentId:
    problems: list[InvalidIdentifier] = []
    born, problem = _birth_date(text[6:14], 7, today)
    if problem:
        problems.append(problem)
    region, problem = _region(text[:6])
    if problem:
        problems.append(problem)
    expected = resident_id_check_digit(text[:17])
    if text[17] != expected:
        problems.append(_check_problem(text, expected, 18))
    if problems:
        raise combine(problems)
    assert born is not None and region is not None  # guaranteed by the empty problem list
    return ResidentId(
        value=text,
        region=region,
        birth_date=born,
        sequence=text[14:17],
        sex="male" if int(text[16]) % 2 else "female",
        check_digit=text[17],
        converted_from=converted_from,
    )


def _convert15(text: str, today: dt.date | None) -> str:
    if len(text) != 15:
        raise invalid(
            KIND,
            "length",
            f"15位旧号码长度应为15位，实际为{len(text)}位",
            f"an old-style number must have 15 digits, got {len(text)}",
            expected=15,
            actual=len(text),
        )
    problems = _charset_problems(text, check_position=None)
    if problems:
        raise combine(problems)
    for problem in (_birth_date(text[6:12], 7, today)[1], _region(text[:6])[1]):
        if problem:
            problems.append(problem)
    if problems:
        raise combine(problems)
    body = text[:6] + "19" + text[6:]
    return body + resident_id_check_digit(body)


def resident_id_15_to_18(value: object, *, strict: bool = False, today: dt.date | None = None) -> str:
    """Convert an old 15-digit number (year 19xx, no check digit) to its 18-character form.

    The date and the region are validated first, so garbage is not silently upgraded.
    """
    return _convert15(normalise(value, KIND, strict=strict, case="trailing_x"), today)


def parse_resident_id(
    value: object, *, strict: bool = False, today: dt.date | None = None, allow_15: bool = False
) -> ResidentId:
    """Parse and validate a resident ID number; raise :class:`InvalidIdentifier` on any defect.

    Checks, in the order reported: length, characters, birth date (exists, not before 1880, not after
    ``today``), region code (known to GB/T 2260 at some time), check digit. With ``allow_15`` an old
    15-digit number is converted and its result keeps the original in ``converted_from``.
    """
    text = normalise(value, KIND, strict=strict, case="trailing_x")
    if len(text) == 15 and allow_15:
        return _parse18(_convert15(text, today), today, converted_from=text)
    if len(text) != 18:
        raise _length_error(text, allow_15=allow_15)
    problems = _charset_problems(text, check_position=18)
    if problems:
        raise combine(problems)
    return _parse18(text, today)


def validate_resident_id(
    value: object, *, strict: bool = False, today: dt.date | None = None, allow_15: bool = False
) -> str:
    """Return the normalised 18-character number, or raise :class:`InvalidIdentifier`."""
    return parse_resident_id(value, strict=strict, today=today, allow_15=allow_15).value
