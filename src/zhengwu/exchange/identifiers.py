"""X-Road style identifiers of exchange members, subsystems and services.

* A client (member or subsystem): ``INSTANCE/CLASS/MEMBER[/SUBSYSTEM]``.
* A service: ``INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE[/VERSION]``.

Every part uses only the characters X-Road allows (``A-Z a-z 0-9 ' ( ) + , - . = ?``), so an id can
sit in a URL path (``/r1/...``) without escaping. MEMBER is the department's unified social credit code
(USCC, validated in full and required in its canonical upper-case form so one organ has one spelling).

Choice written down: X-Road allows services directly under a member, which makes a five-part id
ambiguous (``MEMBER/SUBSYSTEM/SERVICE`` or ``MEMBER/SERVICE/VERSION``). On this platform every
service belongs to a subsystem (an information system of a department), so a service id always has a
subsystem and five parts mean no version, six parts a version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from zhengwu.errors import ValidationError
from zhengwu.identifiers import validate_uscc
from zhengwu.identifiers.errors import InvalidIdentifier

#: Member classes known to this platform: 政府机关 (GOV), 企业 (COM), 事业单位/社会组织 (ORG, NGO).
MEMBER_CLASSES = frozenset({"GOV", "COM", "ORG", "NGO"})
MAX_PART_LENGTH = 255
_ALLOWED = re.compile(r"[A-Za-z0-9'()+,\-.=?]+")
_ALLOWED_TEXT = "A-Z a-z 0-9 ' ( ) + , - . = ?"

_PART_ZH = {
    "xroad_instance": "实例标识",
    "member_class": "成员类别",
    "member_code": "成员代码",
    "subsystem_code": "子系统代码",
    "service_code": "服务代码",
    "service_version": "服务版本",
}


def _bad(part: str, reason: str, message: str, message_en: str, **details: Any) -> ValidationError:
    return ValidationError(
        f"{_PART_ZH[part]}{message}",
        message_en=f"{part} {message_en}",
        code=f"exchange.id.{reason}",
        field=part,
        details={"part": part, **details},
    )


def check_part(part: str, value: object) -> str:
    """Return ``value`` when it is a valid identifier part; the error names ``part`` and the reason."""
    if not isinstance(value, str):
        raise _bad(part, "type", "应为文本", "must be text", actual=type(value).__name__)
    if value == "":
        raise _bad(part, "empty", "不能为空", "must not be empty")
    if len(value) > MAX_PART_LENGTH:
        raise _bad(
            part,
            "too_long",
            f"不能超过 {MAX_PART_LENGTH} 个字符",
            f"must be at most {MAX_PART_LENGTH} characters",
            length=len(value),
        )
    if not _ALLOWED.fullmatch(value):
        bad = next(ch for ch in value if not _ALLOWED.fullmatch(ch))
        raise _bad(
            part,
            "bad_char",
            f"含有不允许的字符“{bad}”（只允许 {_ALLOWED_TEXT}）",
            f"contains the character {bad!r}; only {_ALLOWED_TEXT} are allowed",
            character=bad,
        )
    return value


def check_member_class(value: object) -> str:
    """A valid, known member class."""
    text = check_part("member_class", value)
    if text not in MEMBER_CLASSES:
        raise _bad(
            "member_class",
            "unknown_class",
            f"“{text}”未知（可用：{'、'.join(sorted(MEMBER_CLASSES))}）",
            f"{text!r} is unknown (known: {', '.join(sorted(MEMBER_CLASSES))})",
            allowed=sorted(MEMBER_CLASSES),
        )
    return text


def check_member_code(value: object) -> str:
    """A member code: a valid USCC in canonical form."""
    text = check_part("member_code", value)
    try:
        canonical = validate_uscc(text)
    except InvalidIdentifier as exc:
        raise ValidationError(
            f"成员代码不是有效的统一社会信用代码：{exc.message}",
            message_en=f"member_code is not a valid USCC: {exc.message_en}",
            code="exchange.id.bad_member_code",
            field="member_code",
            details={"part": "member_code", "uscc_error": exc.code},
        ) from exc
    if canonical != text:
        raise _bad(
            "member_code",
            "not_canonical",
            f"应写作规范形式 {canonical}",
            f"must be written in canonical form {canonical}",
            expected=canonical,
        )
    return text


@dataclass(frozen=True)
class ClientId:
    """A member (no subsystem) or one of its subsystems."""

    xroad_instance: str
    member_class: str
    member_code: str
    subsystem_code: str | None = None

    @property
    def object_type(self) -> str:
        """``MEMBER`` or ``SUBSYSTEM``, as X-Road's ``listClients`` names them."""
        return "SUBSYSTEM" if self.subsystem_code else "MEMBER"

    def __str__(self) -> str:
        parts = [self.xroad_instance, self.member_class, self.member_code]
        if self.subsystem_code:
            parts.append(self.subsystem_code)
        return "/".join(parts)

    def to_xroad(self) -> dict[str, Any]:
        """The ``id`` object of X-Road's ``listClients`` JSON (snake_case, as security servers answer)."""
        out: dict[str, Any] = {
            "member_class": self.member_class,
            "member_code": self.member_code,
            "object_type": self.object_type,
            "xroad_instance": self.xroad_instance,
        }
        if self.subsystem_code:
            out["subsystem_code"] = self.subsystem_code
        return out


@dataclass(frozen=True)
class ServiceId:
    """A service of a subsystem, optionally versioned."""

    client: ClientId
    service_code: str
    service_version: str | None = None

    def __str__(self) -> str:
        out = f"{self.client}/{self.service_code}"
        return f"{out}/{self.service_version}" if self.service_version else out


def _check_instance(value: str, expected_instance: str | None) -> str:
    text = check_part("xroad_instance", value)
    if expected_instance is not None and text != expected_instance:
        raise _bad(
            "xroad_instance",
            "wrong_instance",
            f"“{text}”不是本平台的实例“{expected_instance}”",
            f"{text!r} is not this platform's instance {expected_instance!r}",
            expected=expected_instance,
        )
    return text


def _split(value: object, kind: str, lengths: tuple[int, ...]) -> list[str]:
    if not isinstance(value, str):
        raise ValidationError(
            "标识应为文本", message_en=f"{kind} id must be text", code="exchange.id.type", field=kind
        )
    parts = value.split("/")
    if len(parts) not in lengths:
        shapes = {
            "client": "INSTANCE/CLASS/MEMBER[/SUBSYSTEM]",
            "service": "INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE[/VERSION]",
        }[kind]
        raise ValidationError(
            f"标识应有 {' 或 '.join(map(str, lengths))} 段（{shapes}），实际为 {len(parts)} 段",
            message_en=f"a {kind} id has {' or '.join(map(str, lengths))} parts ({shapes}), got {len(parts)}",
            code="exchange.id.parts",
            field=kind,
            details={"expected": list(lengths), "actual": len(parts)},
        )
    return parts


def make_client_id(
    instance: str,
    member_class: str,
    member_code: str,
    subsystem_code: str | None = None,
    *,
    expected_instance: str | None = None,
) -> ClientId:
    """Validate the parts and build a :class:`ClientId`."""
    return ClientId(
        _check_instance(instance, expected_instance),
        check_member_class(member_class),
        check_member_code(member_code),
        None if subsystem_code is None else check_part("subsystem_code", subsystem_code),
    )


def parse_client_id(value: object, *, expected_instance: str | None = None) -> ClientId:
    """Parse ``INSTANCE/CLASS/MEMBER[/SUBSYSTEM]``; errors name the offending part.

    ``expected_instance`` (usually ``Settings.instance``) refuses ids of other X-Road instances.
    """
    parts = _split(value, "client", (3, 4))
    return make_client_id(*parts, expected_instance=expected_instance)


def parse_service_id(value: object, *, expected_instance: str | None = None) -> ServiceId:
    """Parse ``INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE[/VERSION]``; errors name the offending part."""
    parts = _split(value, "service", (5, 6))
    client = make_client_id(*parts[:4], expected_instance=expected_instance)
    version = check_part("service_version", parts[5]) if len(parts) == 6 else None
    return ServiceId(client, check_part("service_code", parts[4]), version)
