"""Per-grant rate limits (token bucket) and daily quotas, kept in the gateway process.

Each gateway process counts on its own: with N processes behind a balancer a grant gets up to N times
its rate. That is the documented trade-off for a hot path without a round trip to a shared store; a
deployment that needs exact global limits runs one gateway process per grant group or lowers the rate.
Quota days are Beijing calendar days (the day a department's duty is counted in).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass

from zhengwu.exchange.gateway.services import Limits

_BEIJING = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True)
class Refusal:
    """Why a call is refused: ``rate`` or ``quota``, and the seconds to wait (for Retry-After)."""

    kind: str
    retry_after: int


class Limiter:
    """Token buckets and daily counters keyed by grant (or by service and client without a grant)."""

    def __init__(self) -> None:
        self._buckets: dict[str, list[float]] = {}
        self._days: dict[str, tuple[dt.date, int]] = {}

    def check(
        self, key: str, limits: Limits, *, now: float | None = None, at: dt.datetime | None = None
    ) -> Refusal | None:
        """Take one call from ``key``'s allowance, or say why not (nothing is taken on a refusal)."""
        mono = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = [float(limits.burst), mono]
        tokens = min(float(limits.burst), bucket[0] + (mono - bucket[1]) * limits.rate_per_second)
        bucket[1] = mono
        if tokens < 1.0:
            bucket[0] = tokens
            return Refusal("rate", max(1, math.ceil((1.0 - tokens) / limits.rate_per_second)))
        if limits.quota_per_day is not None:
            local = (at or dt.datetime.now(dt.UTC)).astimezone(_BEIJING)
            day, used = self._days.get(key, (local.date(), 0))
            if day != local.date():
                day, used = local.date(), 0
            if used >= limits.quota_per_day:
                bucket[0] = tokens
                midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), _BEIJING)
                return Refusal("quota", max(1, math.ceil((midnight - local).total_seconds())))
            self._days[key] = (day, used + 1)
        bucket[0] = tokens - 1.0
        return None
