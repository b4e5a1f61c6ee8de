"""Fixtures of the registry tests (defined in registries_helpers, which test modules also import)."""

from registries.registries_helpers import world

__all__ = ["world"]
