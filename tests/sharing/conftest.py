"""Fixtures of the sharing tests (defined in sharing_helpers, which test modules also import)."""

from sharing.sharing_helpers import world

__all__ = ["world"]
