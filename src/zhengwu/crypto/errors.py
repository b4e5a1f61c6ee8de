"""Errors of :mod:`zhengwu.crypto`.

Every failure of the national-cryptography kernel is one of the classes below, each with a stable
dotted ``code`` under ``crypto.`` (for example ``crypto.sm4.auth_failed`` or ``crypto.sm2.bad_key``),
a Chinese ``message`` and an English ``message_en``. OpenSSL's own error strings, when there are
any, go to ``details['openssl']`` for logs; they are never the whole message, because they are
neither stable nor meant for people.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from zhengwu.errors import ConfigurationError, ValidationError

#: What the functions of zhengwu.crypto accept wherever they take bytes.
BytesLike: TypeAlias = bytes | bytearray | memoryview


class CryptoError(ValidationError):
    """Bad input to a cryptographic function: a malformed key, a wrong key size, a bad ciphertext."""

    default_code = "crypto.invalid"

    def __init__(
        self,
        message: str,
        *,
        message_en: str | None = None,
        code: str | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, message_en=message_en, code=code, field=field, details=details)


class DecryptionError(CryptoError):
    """A ciphertext failed its integrity check (tampered, truncated, or the wrong key).

    Raised instead of ever returning a plaintext that was not authenticated.
    """

    default_code = "crypto.decrypt_failed"


class CryptoUnavailableError(ConfigurationError):
    """The machine's OpenSSL 3 libcrypto cannot be loaded or lacks SM2/SM3."""

    default_code = "crypto.openssl.unavailable"


def invalid_type(field: str, expected: str, got: object) -> CryptoError:
    """The error for an argument of the wrong Python type (for example ``str`` where bytes are due)."""
    return CryptoError(
        f"参数 {field} 类型错误，应为 {expected}",
        message_en=f"{field} must be {expected}, not {type(got).__name__}",
        code="crypto.invalid_type",
        field=field,
    )


def as_bytes(value: object, field: str) -> bytes:
    """Accept bytes-like input (bytes, bytearray, memoryview) and return ``bytes``; reject the rest.

    ``str`` is refused on purpose: silently encoding text would hide which encoding was meant.
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise invalid_type(field, "bytes", value)
