"""The X-Road message protocol for REST ("r1") as the gateway speaks it: paths, headers, errors, hashes.

Sources: nordic-institute/X-Road ``doc/Protocols/pr-rest_x-road_message_protocol_for_rest.md`` and
``pr-mrest_x-road_service_metadata_protocol_for_rest.md``; the choices where they are silent or
contradict themselves are in ``docs/exchange-xroad.md``.

* Request: ``{METHOD} /r1/{INSTANCE}/{CLASS}/{MEMBER}/{SUBSYSTEM}/{SERVICE}[/path][?query]`` with the
  mandatory ``X-Road-Client: INSTANCE/CLASS/MEMBER/SUBSYSTEM``. Each part is percent-encoded UTF-8 on
  its own; "/" separates parts. Parts are decoded one by one, then checked against the characters
  X-Road allows, so ``%2F`` inside a part is refused rather than silently shifting the parts.
* Errors raised by the gateway: JSON ``{"type", "message", "detail"}``, header ``X-Road-Error`` with
  the type, type prefixes ``Client.`` (the caller did something wrong), ``Server.ClientProxy.`` (the
  gateway failed), ``Server.ServerProxy.`` (the provider side failed). ``detail`` is the X-Road-Id of
  the call, as a security server puts a UUID there, so a person can find the log record.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

import orjson

from zhengwu.errors import ValidationError
from zhengwu.exchange.identifiers import ClientId, ServiceId, check_part, make_client_id

PROTOCOL = "r1"
#: The URI length limit the protocol suggests a security server may enforce.
MAX_URI_LENGTH = 2000
#: Longest accepted value of X-Road-Id, X-Road-UserId (log column limits).
MAX_ID_HEADER = 255
MAX_ISSUE_HEADER = 1000
#: Service codes of the REST metaservices; never forwarded to a provider.
METASERVICES = frozenset({"listMethods", "allowedMethods", "getOpenAPI"})


@dataclass
class XRoadError(Exception):
    """An error the gateway itself answers, in the protocol's own shape."""

    status: int
    type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


def client_error(status: int, kind: str, message: str, **headers: str) -> XRoadError:
    """A ``Client.<kind>`` error (the caller must change something)."""
    return XRoadError(status, f"Client.{kind}", message, dict(headers))


def bad_request(message: str) -> XRoadError:
    """``Client.BadRequest`` (400): the request does not follow the protocol; the message says why."""
    return client_error(400, "BadRequest", message)


def server_error(status: int, side: str, kind: str, message: str) -> XRoadError:
    """``Server.ClientProxy.<kind>`` (the gateway) or ``Server.ServerProxy.<kind>`` (the provider side)."""
    return XRoadError(status, f"Server.{side}.{kind}", message)


def error_body(error: XRoadError, xroad_id: str) -> bytes:
    """The JSON body of a gateway error."""
    return orjson.dumps({"type": error.type, "message": error.message, "detail": xroad_id})


def _message_of(exc: ValidationError) -> str:
    return f"{exc.message_en} ({exc.message})"


def _decode_part(raw: str, what: str) -> str:
    try:
        text = unquote(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise bad_request(f"{what} is not valid percent-encoded UTF-8") from exc
    return text


@dataclass(frozen=True)
class R1Target:
    """What an r1 request addresses: a service (or a metaservice) of a subsystem, and the rest path."""

    service: ServiceId
    path: str

    @property
    def is_metaservice(self) -> bool:
        """True for listMethods, allowedMethods and getOpenAPI."""
        return self.service.service_code in METASERVICES


def parse_r1_path(raw_path: str, *, instance: str) -> R1Target:
    """Parse the (still percent-encoded) request path of an r1 call.

    Raises :class:`XRoadError` ``Client.BadRequest`` naming the part that is wrong. A service directly
    under a member (no subsystem) is refused: on this platform every service belongs to a subsystem.
    """
    if len(raw_path) > MAX_URI_LENGTH:
        raise bad_request(f"request URI longer than {MAX_URI_LENGTH} characters")
    prefix = f"/{PROTOCOL}/"
    if not raw_path.startswith(prefix):
        raise bad_request(f"the path must start with /{PROTOCOL}/ (protocol version)")
    parts = raw_path[len(prefix) :].split("/")
    if len(parts) < 5 or any(p == "" for p in parts[:5]):
        raise bad_request(
            "the path must be /r1/{instance}/{class}/{member}/{subsystem}/{service}[/path]; "
            f"got {len(parts)} part(s)"
        )
    names = ("xroad_instance", "member_class", "member_code", "subsystem_code", "service_code")
    decoded = [_decode_part(p, n) for p, n in zip(parts[:5], names, strict=True)]
    try:
        provider = make_client_id(*decoded[:4], expected_instance=instance)
        service = ServiceId(provider, check_part("service_code", decoded[4]))
    except ValidationError as exc:
        raise bad_request(f"bad service identifier: {_message_of(exc)}") from exc
    rest = "/".join(parts[5:])
    return R1Target(service, "/" + rest if len(parts) > 5 else "")


def parse_client_header(value: str | None, *, instance: str) -> ClientId:
    """The ``X-Road-Client`` header: mandatory, ``INSTANCE/CLASS/MEMBER/SUBSYSTEM``, parts percent-encoded.

    A member without a subsystem is refused: the gateway authorises information systems, and a grant's
    holder is known by its subsystem (a department may run several).
    """
    if value is None or not value.strip():
        raise bad_request("the X-Road-Client header is mandatory")
    parts = value.strip().split("/")
    if len(parts) != 4:
        raise bad_request(
            f"X-Road-Client must be INSTANCE/CLASS/MEMBER/SUBSYSTEM (4 parts), got {len(parts)} part(s)"
        )
    names = ("xroad_instance", "member_class", "member_code", "subsystem_code")
    decoded = [_decode_part(p, n) for p, n in zip(parts, names, strict=True)]
    try:
        return make_client_id(*decoded, expected_instance=instance)
    except ValidationError as exc:
        raise bad_request(f"bad X-Road-Client: {_message_of(exc)}") from exc


def check_optional_header(name: str, value: str | None, limit: int) -> str | None:
    """X-Road-Id / X-Road-UserId / X-Road-Issue: optional, printable, bounded; percent-decoded."""
    if value is None:
        return None
    text = _decode_part(value.strip(), name)
    if not text:
        return None
    if len(text) > limit:
        raise bad_request(f"{name} longer than {limit} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise bad_request(f"{name} contains control characters")
    return text


def request_hash(method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes) -> str:
    """``X-Road-Request-Hash``: base64 of SHA-512(SHA-512(headers) + SHA-512(body)), as PR-REST 4.3 says.

    "headers" is the request line and the X-Road headers as received (lower-case names, sorted, one
    ``name:value`` a line): the parts that identify the call. With no body only SHA-512(headers) is
    hashed, as the protocol says.
    """
    lines = [f"{method} {raw_path}{'?' + query if query else ''}"]
    lines += [f"{k}:{v}" for k, v in sorted(headers.items()) if k.startswith("x-road-")]
    head = hashlib.sha512("\n".join(lines).encode("utf-8")).digest()
    if not body:
        return base64.b64encode(head).decode("ascii")
    digest = hashlib.sha512(head + hashlib.sha512(body).digest()).digest()
    return base64.b64encode(digest).decode("ascii")
