"""Per-grant rate limits (token bucket) and daily quotas, kept in the gateway process.

The limiter itself is the kernel's :mod:`zhengwu.ratelimit` (the open data portal's dataset keys use
it too); this module keeps the gateway's import path.
"""

from __future__ import annotations

from zhengwu.ratelimit import Limiter, Refusal

__all__ = ["Limiter", "Refusal"]
