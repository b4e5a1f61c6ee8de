"""Masking for display (脱敏): keep enough to recognise a record, hide the rest.

These functions never raise. When the input does not look like what the function expects, everything
is masked rather than guessing which part is safe to show. ``None`` gives ``""``.

Rules:

* resident ID, 18 characters: first 6 and last 4 kept (``110105********1234``); 15 digits: first 6 and
  last 4 kept (``110105*****1234``); anything else: all ``*``.
* phone: an 11-digit mainland mobile number keeps the first 3 and last 4 (``138****1234``), an optional
  ``+86``/``86``/``0086`` prefix and separators are kept as written; any other number of at least 7
  digits keeps only its last 4 digits and its separators (``010-12345678`` -> ``***-****5678``),
  because an area code plus a partial number can already narrow a person down.
* name: the first character is kept and every other letter becomes ``*`` (``张*``, ``欧**``), so the
  length of a name stays visible but not the given name; separators (``·``, space) are kept. A
  one-character name is masked entirely.
"""

from __future__ import annotations

import re
import unicodedata

_MOBILE = re.compile(r"^(?P<prefix>(?:\+|00)?86[\s-]?)?(?P<number>1\d{2}[\s-]?\d{4}[\s-]?\d{4})$")
_NAME_SEPARATORS = frozenset("·•・. -")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return unicodedata.normalize("NFKC", value).strip()
    return None


def mask_resident_id(value: object) -> str:
    """``110105199001011234`` -> ``110105********1234``; unknown shapes are masked entirely."""
    text = _text(value)
    if text is None:
        return ""
    if len(text) in (15, 18) and text[:-1].isascii() and text[:-1].isdigit():
        return text[:6] + "*" * (len(text) - 10) + text[-4:]
    return "*" * len(text)


def mask_phone(value: object) -> str:
    """``13812341234`` -> ``138****1234``; other numbers keep their last 4 digits only."""
    text = _text(value)
    if text is None:
        return ""
    match = _MOBILE.match(text)
    if match:
        prefix = match.group("prefix") or ""
        number = match.group("number")
        seen = 0
        out = []
        for ch in number:
            if ch.isdigit():
                seen += 1
                out.append(ch if seen <= 3 or seen > 7 else "*")
            else:
                out.append(ch)
        return prefix + "".join(out)
    digits = sum(ch.isdigit() for ch in text)
    if digits < 7:
        return "*" * len(text)
    keep_from = digits - 4
    seen = 0
    out = []
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > keep_from else "*")
        else:
            out.append(ch if ch in "-+() " else "*")
    return "".join(out)


def mask_name(value: object) -> str:
    """``张三`` -> ``张*``, ``欧阳修`` -> ``欧**``: keep the first character, mask the others."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    if len(text) <= 1:
        return "*" * len(text)
    return text[0] + "".join(ch if ch in _NAME_SEPARATORS else "*" for ch in text[1:])
