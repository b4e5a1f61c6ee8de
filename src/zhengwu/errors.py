"""The one exception hierarchy of zhengwu.

Every error a user or a program can cause derives from :class:`ZhengwuError`. Each carries a stable
machine ``code`` (dotted, English, never translated), a Chinese message for people, an English message
for logs and developers, and optionally the ``field`` it concerns. The mapping to HTTP status codes
lives in exactly one place, :mod:`zhengwu.web.errors`; nothing below the web layer knows about HTTP.
"""

from __future__ import annotations

from typing import Any


class ZhengwuError(Exception):
    """Base of every expected error. Never raised directly; use a subclass."""

    default_code = "error"

    def __init__(
        self,
        message: str,
        *,
        message_en: str | None = None,
        code: str | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.message_en = message_en or message
        self.code = code or self.default_code
        self.field = field
        self.details = details or {}
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.message_en and self.message_en != self.message:
            return f"{self.message} ({self.message_en})"
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form, the body of every API error."""
        out: dict[str, Any] = {"code": self.code, "message": self.message, "message_en": self.message_en}
        if self.field is not None:
            out["field"] = self.field
        if self.details:
            out["details"] = self.details
        return out


class ValidationError(ZhengwuError):
    """Input is malformed or breaks a rule. Nothing was written."""

    default_code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        message_en: str | None = None,
        code: str | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        merged = dict(details or {})
        if errors:
            merged["errors"] = errors
        super().__init__(message, message_en=message_en, code=code, field=field, details=merged)


class NotAuthenticated(ZhengwuError):
    """No valid session or token was presented."""

    default_code = "auth.required"


class PermissionDenied(ZhengwuError):
    """The caller is known but may not do this."""

    default_code = "auth.forbidden"


class NotFound(ZhengwuError):
    """The thing asked for does not exist (or the caller may not know it exists)."""

    default_code = "not_found"


class Conflict(ZhengwuError):
    """The request clashes with current state: a duplicate, a stale version, a wrong lifecycle step."""

    default_code = "conflict"


class RateLimited(ZhengwuError):
    """Too many requests; ``details['retry_after']`` says how many seconds to wait."""

    default_code = "rate_limited"


class ConfigurationError(ZhengwuError):
    """The platform is configured in a way that cannot work (or is unsafe outside development)."""

    default_code = "config.invalid"


class UpstreamError(ZhengwuError):
    """A system we depend on (a provider's API, a front node) failed or timed out."""

    default_code = "upstream.failed"
