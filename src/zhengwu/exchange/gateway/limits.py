"""Per-grant rate limits (token bucket) and daily quotas, shared by the gateway's worker processes.

The limiter itself is the kernel's :mod:`zhengwu.ratelimit` (the open data portal's dataset keys use
it too); this module keeps the gateway's import path.
"""

from __future__ import annotations

from zhengwu.ratelimit import Limiter, RateLimiter, Refusal, SharedLimiter

__all__ = ["Limiter", "RateLimiter", "Refusal", "SharedLimiter"]
