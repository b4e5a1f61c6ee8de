"""Token-bucket rate limits and daily quotas kept in process memory (the gateway, the portal's keys).

Each process counts on its own: with N processes behind a balancer a key gets up to N times its rate.
That is the documented trade-off for a hot path without a round trip to a shared store; a deployment
that needs exact global limits runs one process per key group or lowers the rate. Quota days are
Beijing calendar days (the day a department's duty is counted in).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from zhengwu.db import BEIJING


class LimitsLike(Protocol):
    """What a limiter needs to know of one key's allowance."""

    @property
    def rate_per_second(self) -> float: ...

    @property
    def burst(self) -> int: ...

    @property
    def quota_per_day(self) -> int | None: ...


@dataclass(frozen=True)
class Refusal:
    """Why a call is refused: ``rate`` or ``quota``, and the seconds to wait (for Retry-After)."""

    kind: str
    retry_after: int


def seconds_to_beijing_midnight(at: dt.datetime | None = None) -> int:
    """Seconds until the next Beijing midnight (when a daily quota starts again), at least 1."""
    local = (at or dt.datetime.now(dt.UTC)).astimezone(BEIJING)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), BEIJING)
    return max(1, math.ceil((midnight - local).total_seconds()))


class Limiter:
    """Token buckets and daily counters keyed by a string (a grant, a dataset key)."""

    def __init__(self) -> None:
        self._buckets: dict[str, list[float]] = {}
        self._days: dict[str, tuple[dt.date, int]] = {}
        # Threadpool routes (the portal) share one limiter: a check is a read-modify-write.
        self._lock = threading.Lock()

    def check(
        self, key: str, limits: LimitsLike, *, now: float | None = None, at: dt.datetime | None = None
    ) -> Refusal | None:
        """Take one call from ``key``'s allowance, or say why not (nothing is taken on a refusal)."""
        with self._lock:
            return self._check(key, limits, now=now, at=at)

    def _check(
        self, key: str, limits: LimitsLike, *, now: float | None, at: dt.datetime | None
    ) -> Refusal | None:
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
            local = (at or dt.datetime.now(dt.UTC)).astimezone(BEIJING)
            day, used = self._days.get(key, (local.date(), 0))
            if day != local.date():
                day, used = local.date(), 0
            if used >= limits.quota_per_day:
                bucket[0] = tokens
                return Refusal("quota", seconds_to_beijing_midnight(local))
            self._days[key] = (day, used + 1)
        bucket[0] = tokens - 1.0
        return None

    def forget(self, key: str) -> None:
        """Drop a key's state (a revoked key)."""
        with self._lock:
            self._buckets.pop(key, None)
            self._days.pop(key, None)
