"""Fixtures of the credit registry tests (defined in credit_helpers, which test modules also import)."""

from registries.credit.credit_helpers import credit

__all__ = ["credit"]
