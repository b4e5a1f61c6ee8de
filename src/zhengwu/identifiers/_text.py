"""Turning what people type into the canonical form of an identifier, or saying why it cannot be.

People paste numbers from Word documents and Chinese input methods: surrounding spaces, full-width
digits (１１０…), a lower-case ``x``. By default these are repaired silently; with ``strict=True`` the
same input is rejected with an error that points at the offending character, for interfaces where the
canonical form is a contract (APIs between departments, stored keys).
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from zhengwu.identifiers.errors import invalid, show_en, show_zh

CaseRule = Literal["all", "trailing_x"]


def _ascii_upper(text: str) -> str:
    # str.upper() would also turn "ß" into "SS" and change positions; only ASCII letters matter here.
    return "".join(chr(ord(c) - 32) if "a" <= c <= "z" else c for c in text)


def normalise(value: object, kind: str, *, strict: bool, case: CaseRule) -> str:
    """Return the canonical text of ``value`` or raise :class:`InvalidIdentifier`.

    ``case`` says which lower-case letters are repaired: ``"all"`` (USCC, organisation code) or only a
    ``"trailing_x"`` (resident ID, where no other letter is allowed and an ``a`` should be reported
    as typed).
    """
    if not isinstance(value, str):
        name = "None" if value is None else type(value).__name__
        raise invalid(kind, "type", f"应为文本，实际为 {name}", f"expected a string, got {name}", actual=name)
    stripped = value.strip()
    if not stripped:
        raise invalid(kind, "empty", "为空", "is empty")
    if not strict:
        text = unicodedata.normalize("NFKC", value).strip()
        if case == "all":
            return _ascii_upper(text)
        return text[:-1] + "X" if text.endswith("x") else text
    if stripped != value:
        where = "开头" if value[0].isspace() else "末尾"
        where_en = "leading" if value[0].isspace() else "trailing"
        raise invalid(
            kind,
            "whitespace",
            f"{where}有空白字符",
            f"has {where_en} whitespace",
            position=1 if value[0].isspace() else len(value),
        )
    for i, ch in enumerate(value, start=1):
        folded = unicodedata.normalize("NFKC", ch)
        if folded != ch:
            raise invalid(
                kind,
                "fullwidth",
                f"第{i}位{show_zh(ch)}是全角或兼容字符，应写作半角“{folded}”",
                f"character {show_en(ch)} at position {i} is full-width or a compatibility form;"
                f" write '{folded}'",
                position=i,
                actual=ch,
                expected=folded,
            )
    lower_at = [i for i, c in enumerate(value, start=1) if "a" <= c <= "z"]
    if case == "trailing_x":
        lower_at = [i for i in lower_at if i == len(value) and value[-1] == "x"]
    if lower_at:
        i = lower_at[0]
        ch = value[i - 1]
        raise invalid(
            kind,
            "lowercase",
            f"第{i}位字母“{ch}”应为大写“{ch.upper()}”",
            f"letter '{ch}' at position {i} must be upper case '{ch.upper()}'",
            position=i,
            actual=ch,
            expected=ch.upper(),
        )
    return value
