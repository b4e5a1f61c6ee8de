"""Tell what kind of identifier a value is, validate it and decode it, for people and the CLI.

An 18-character value may be a resident ID or a USCC. It is tried as a resident ID first; if that
fails it is tried as a USCC. When both fail, the error reported is the resident ID's if the value has
the resident ID's shape (17 digits and a digit or X), because a mistyped resident ID is far more
common than an all-digit USCC; otherwise the kind whose characters are closer wins. The other
kind's error is kept under ``alternatives`` so nobody is misled.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from zhengwu.identifiers.errors import InvalidIdentifier, invalid
from zhengwu.identifiers.org_code import parse_org_code
from zhengwu.identifiers.regions import region_lookup, region_path
from zhengwu.identifiers.resident_id import parse_resident_id
from zhengwu.identifiers.uscc import parse_uscc


def _failure(
    value: object, text: str | None, kind: str | None, error: InvalidIdentifier
) -> dict[str, object]:
    return {
        "value": text,
        "input": value if isinstance(value, str) else repr(value),
        "kind": kind,
        "valid": False,
        "error": error.to_dict(),
    }


def _charset_count(error: InvalidIdentifier) -> int:
    if error.reason not in ("charset", "fullwidth", "lowercase", "whitespace"):
        return 0
    listed = error.details.get("errors")
    return len(listed) if isinstance(listed, list) else 1


def _resident_shape(text: str) -> bool:
    return len(text) == 18 and text[:17].isascii() and text[:17].isdigit() and text[17] in "0123456789X"


def _eighteen(value: object, text: str, *, strict: bool, today: dt.date | None) -> dict[str, object]:
    try:
        found = parse_resident_id(value, strict=strict, today=today)
    except InvalidIdentifier as rid_error:
        try:
            uscc = parse_uscc(value, strict=strict)
        except InvalidIdentifier as uscc_error:
            prefer_rid = _resident_shape(text) or _charset_count(rid_error) <= _charset_count(uscc_error)
            chosen, other = (rid_error, uscc_error) if prefer_rid else (uscc_error, rid_error)
            out = _failure(value, text, chosen.kind, chosen)
            out["alternatives"] = [{"kind": other.kind, "error": other.to_dict()}]
            return out
        return {**uscc.to_dict(), "input": value}
    return {**found.to_dict(today), "input": value}


def recognise(value: object, *, strict: bool = False, today: dt.date | None = None) -> dict[str, object]:
    """Classify, validate and decode ``value``; always returns a JSON-able dict, never raises.

    ``kind`` is ``resident_id``, ``uscc``, ``org_code``, ``region_code``, or ``None`` when the length
    fits none of them. ``valid`` says whether it passed; if not, ``error`` holds the error as
    :meth:`InvalidIdentifier.to_dict` gives it (code, Chinese message, English message, details).
    """
    if not isinstance(value, str) or not value.strip():
        if isinstance(value, str):
            return _failure(value, None, None, invalid("identifier", "empty", "为空", "is empty"))
        name = "None" if value is None else type(value).__name__
        wrong_type = invalid(
            "identifier", "type", f"应为文本，实际为 {name}", f"expected a string, got {name}", actual=name
        )
        return _failure(value, None, None, wrong_type)
    # Only to choose the kind; each parser normalises (or, when strict, rejects) on its own.
    text = unicodedata.normalize("NFKC", value).strip().upper()
    try:
        if len(text) == 18:
            return _eighteen(value, text, strict=strict, today=today)
        if len(text) == 15:
            return {
                **parse_resident_id(value, strict=strict, today=today, allow_15=True).to_dict(today),
                "input": value,
            }
        if len(text) == 9 or (len(text) == 10 and "-" in text):
            return {**parse_org_code(value, strict=strict).to_dict(), "input": value}
        if len(text) == 6:
            region = region_lookup(value, strict=strict)
            return {
                "value": region.code,
                "input": value,
                "kind": "region_code",
                "valid": True,
                **region.to_dict(),
                "path": [r.name for r in region_path(region.code)],
            }
    except InvalidIdentifier as error:
        return _failure(value, text, error.kind, error)
    unknown = invalid(
        "identifier",
        "length",
        f"无法识别：长度为{len(text)}，应为18位（公民身份号码或统一社会信用代码）、15位（旧身份号码）、"
        "9位（组织机构代码）或6位（行政区划代码）",
        f"cannot tell what this is: {len(text)} characters; expected 18 (resident ID or USCC),"
        " 15 (old resident ID), 9 (organisation code) or 6 (region code)",
        actual=len(text),
    )
    return _failure(value, text, None, unknown)
