"""Column types: inferred from every value of a file, then used to convert values for the database.

Types are CKAN's names: ``int`` (stored as BIGINT), ``numeric``, ``date``, ``timestamp`` and ``text``.
A column gets the narrowest type that every non-empty value fits; anything else stays ``text`` (mixed
columns are not errors). Values are normalised before the test: full-width digits and signs
(``１２３．５``) become ASCII, ``2024年3月5日`` and ``2024/3/5`` are dates. Text values are kept as
written. Codes with a leading zero (``0571``) or more than 15 digits (resident IDs) stay text, as a
person reading them expects. Excel serial day numbers become dates where the publisher declares the
column a date, or in a workbook column whose name says it is a date (日期, date).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from openpyxl.utils.datetime import from_excel

TYPES: Final = ("int", "numeric", "date", "timestamp", "text")
TYPE_ALIASES: Final = {
    "integer": "int",
    "int4": "int",
    "int8": "int",
    "bigint": "int",
    "float": "numeric",
    "float8": "numeric",
    "number": "numeric",
    "decimal": "numeric",
    "string": "text",
    "datetime": "timestamp",
}

_FULL_WIDTH: Final = {
    **{0xFF10 + i: ord("0") + i for i in range(10)},
    0xFF0B: ord("+"),
    0xFF0D: ord("-"),
    0x2212: ord("-"),
    0xFF0E: ord("."),
    0x3002: ord("."),
    0xFF0C: ord(","),
    0xFF1A: ord(":"),
    0xFF0F: ord("/"),
    0x3000: ord(" "),
    0xFF45: ord("e"),
    0xFF25: ord("E"),
}
_INT = re.compile(r"[+-]?(?:0|[1-9]\d{0,14})")
_NUM = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d{1,3})?")
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_TS = re.compile(
    r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[T ]|\s+)"
    r"(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2})(?:\.(\d{1,6}))?秒?)?Z?"
)
_DATE_HINT: Final = re.compile(r"日期|时间|date|time|day", re.IGNORECASE)
# Excel serial days of 1954-10-03 .. 2119-01-09: plausible dates, implausible as small integers.
_SERIAL_MIN, _SERIAL_MAX = 20_000, 80_000


def canonical_type(name: str) -> str | None:
    """CKAN's type name for ``name`` (``integer`` → ``int``), or None if unknown."""
    key = name.strip().lower()
    key = TYPE_ALIASES.get(key, key)
    return key if key in TYPES else None


def normalise(text: str) -> str:
    """Full-width digits and signs to ASCII, surrounding blanks removed."""
    return text.translate(_FULL_WIDTH).strip()


def parse_date(text: str) -> dt.date | None:
    m = _DATE.fullmatch(text)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def parse_timestamp(text: str) -> dt.datetime | None:
    m = _TS.fullmatch(text)
    if not m:
        day = parse_date(text)
        return dt.datetime(day.year, day.month, day.day) if day else None
    try:
        return dt.datetime(
            int(m[1]),
            int(m[2]),
            int(m[3]),
            int(m[4]),
            int(m[5]),
            int(m[6] or 0),
            int((m[7] or "0").ljust(6, "0")),
        )
    except ValueError:
        return None


@dataclass
class ColumnGuess:
    """What the values of one column seen so far could all be."""

    name: str
    could_int: bool = True
    could_num: bool = True
    could_date: bool = True
    could_ts: bool = True
    could_serial: bool = True
    non_empty: int = 0

    def see(self, value: Any) -> None:
        """Narrow the candidates with one value."""
        if value is None:
            return
        if isinstance(value, str):
            text = value.strip() if value.isascii() else normalise(value)
            if not text:
                return
            self.non_empty += 1
            self.could_serial = False
            number = (
                (self.could_num or self.could_int) and bool(_NUM.fullmatch(text)) and not _leading_zero(text)
            )
            if self.could_int and not (number and _INT.fullmatch(text)):
                self.could_int = False
            if number:
                self.could_date = self.could_ts = False  # a number is never a date
                return
            self.could_num = False
            if self.could_date and parse_date(text) is None:
                self.could_date = False
            if self.could_ts and parse_timestamp(text) is None:
                self.could_ts = False
            return
        self.non_empty += 1
        if isinstance(value, (bool, dict | list)):
            self.could_int = self.could_num = self.could_date = self.could_ts = self.could_serial = False
        elif isinstance(value, int):
            self.could_date = self.could_ts = False
            self.could_serial = self.could_serial and _SERIAL_MIN <= value <= _SERIAL_MAX
            self.could_int = self.could_int and abs(value) < 10**15
        elif isinstance(value, float):
            self.could_int = self.could_date = self.could_ts = False
            self.could_serial = self.could_serial and _SERIAL_MIN <= value <= _SERIAL_MAX
        elif isinstance(value, dt.datetime):
            self.could_int = self.could_num = self.could_serial = False
            if value.time() != dt.time(0):
                self.could_date = False
        elif isinstance(value, dt.date):
            self.could_int = self.could_num = self.could_serial = False
        else:  # time of day, bytes and the like: kept as their text
            self.could_int = self.could_num = self.could_date = self.could_ts = self.could_serial = False

    def type(self, *, spreadsheet: bool = False) -> str:
        """The narrowest type every value fits; ``text`` for an empty column."""
        if self.non_empty == 0:
            return "text"
        if spreadsheet and self.could_serial and self.could_num and _DATE_HINT.search(self.name):
            return "date" if self.could_int else "timestamp"
        if self.could_int:
            return "int"
        if self.could_num:
            return "numeric"
        if self.could_date:
            return "date"
        if self.could_ts:
            return "timestamp"
        return "text"


def _leading_zero(text: str) -> bool:
    """A code rather than a number: a leading zero (0571) or more than 15 digits (an ID number)."""
    digits = text.lstrip("+-")
    if digits.isdigit() and len(digits) > 15:
        return True
    return len(digits) > 1 and digits[0] == "0" and digits[1] != "."


def convert(value: Any, kind: str) -> Any:
    """``value`` as the Python value of a ``kind`` column; raises ValueError with a reason if it does not fit.

    Dates and timestamps come back as ``datetime.date`` / naive ``datetime.datetime``, numerics as
    ``Decimal``; empty cells as None.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if kind == "text":
            return value
        text = normalise(value)
        if not text:
            return None
        if kind == "int":
            if not _INT.fullmatch(text):
                raise ValueError("不是整数")
            return int(text)
        if kind == "numeric":
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise ValueError("不是数值") from None
            if not number.is_finite():
                raise ValueError("不是有限数值")
            return number
        if kind == "date":
            day = parse_date(text)
            if day is None:
                raise ValueError("不是日期（应为 YYYY-MM-DD）")
            return day
        stamp = parse_timestamp(text)
        if stamp is None:
            raise ValueError("不是时间（应为 YYYY-MM-DD HH:MM:SS）")
        return stamp
    if kind == "text":
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        if isinstance(value, dt.datetime | dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if isinstance(value, (bool, dict | list)):
        raise ValueError(f"不能作为 {kind}")
    if kind in ("date", "timestamp") and isinstance(value, int | float):
        if not _SERIAL_MIN <= value <= _SERIAL_MAX:
            raise ValueError("不是 Excel 日期序号")
        stamp = from_excel(value)
        return stamp.date() if kind == "date" else stamp
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int):
            raise ValueError("不是整数")
        return value
    if kind == "numeric":
        if not isinstance(value, int | float):
            raise ValueError("不是数值")
        return Decimal(str(value))
    if isinstance(value, dt.datetime):
        return value.date() if kind == "date" else value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return value if kind == "date" else dt.datetime(value.year, value.month, value.day)
    raise ValueError(f"不能作为 {kind}")
