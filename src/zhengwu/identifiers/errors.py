"""The one exception for malformed identifiers, and the bilingual wording shared by all of them."""

from __future__ import annotations

from typing import Any, Final

from zhengwu.errors import ValidationError

#: Identifier kinds as they appear in ``InvalidIdentifier.field`` and in error codes.
KINDS_ZH: Final[dict[str, str]] = {
    "resident_id": "公民身份号码",
    "uscc": "统一社会信用代码",
    "org_code": "组织机构代码",
    "region_code": "行政区划代码",
    "identifier": "号码",
}
KINDS_EN: Final[dict[str, str]] = {
    "resident_id": "resident ID number",
    "uscc": "unified social credit code",
    "org_code": "organisation code",
    "region_code": "region code",
    "identifier": "identifier",
}


class InvalidIdentifier(ValidationError):
    """An identifier (resident ID, USCC, organisation code, region code) is malformed.

    ``code`` is ``<kind>.<reason>`` (e.g. ``resident_id.check_digit``), ``field`` is the kind, and
    ``details`` carries ``position`` (1-based, as printed on documents), ``expected`` and ``actual``
    where they apply. When several things are wrong, the most telling one is the message and all of
    them are listed in ``details["errors"]``.
    """

    default_code = "identifier.invalid"

    @property
    def kind(self) -> str:
        """The identifier kind, i.e. the part of ``code`` before the dot."""
        return self.code.split(".", 1)[0]

    @property
    def reason(self) -> str:
        """The part of ``code`` after the kind, e.g. ``check_digit``."""
        return self.code.split(".", 1)[-1]


def invalid(kind: str, what: str, zh: str, en: str, /, **details: Any) -> InvalidIdentifier:
    """Build an :class:`InvalidIdentifier` whose messages name the identifier kind.

    ``zh`` continues the Chinese kind name ("公民身份号码" + "长度应为18位…"); ``en`` follows
    "resident ID number: ".
    """
    return InvalidIdentifier(
        KINDS_ZH[kind] + zh,
        message_en=f"{KINDS_EN[kind]}: {en}",
        code=f"{kind}.{what}",
        field=kind,
        details={k: v for k, v in details.items() if v is not None},
    )


def combine(problems: list[InvalidIdentifier]) -> InvalidIdentifier:
    """Raiseable error for several problems: the first is the headline, all are listed in details."""
    first = problems[0]
    if len(problems) == 1:
        return first
    listed = [p.to_dict() for p in problems]
    for entry in listed:
        entry.pop("field", None)
    return InvalidIdentifier(
        first.message,
        message_en=first.message_en,
        code=first.code,
        field=first.field,
        details=dict(first.details),
        errors=listed,
    )


def show_zh(ch: str) -> str:
    """A character as people can read it in a message, invisible ones by code point."""
    if ch.isprintable() and not ch.isspace():
        return f"“{ch}”"
    return f"U+{ord(ch):04X}"


def show_en(ch: str) -> str:
    """English counterpart of :func:`show_zh`."""
    if ch.isprintable() and not ch.isspace():
        return f"'{ch}'"
    return f"U+{ord(ch):04X}"
