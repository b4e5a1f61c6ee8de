"""The kernel's token buckets and Beijing-day quotas (shared by the gateway and the portal's keys)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from zhengwu.ratelimit import Limiter, seconds_to_beijing_midnight


@dataclass(frozen=True)
class _Limits:
    rate_per_second: float
    burst: int
    quota_per_day: int | None = None


def test_a_minute_allowance_may_be_spent_at_once_then_refills() -> None:
    limiter = Limiter()
    per_minute = _Limits(rate_per_second=60 / 60.0, burst=60)
    assert all(limiter.check("k", per_minute, now=0.0) is None for _ in range(60))
    refusal = limiter.check("k", per_minute, now=0.0)
    assert refusal is not None and refusal.kind == "rate" and refusal.retry_after == 1
    assert limiter.check("k", per_minute, now=1.0) is None
    limiter.forget("k")  # a revoked key's state is dropped: a new bucket starts full
    assert all(limiter.check("k", per_minute, now=1.0) is None for _ in range(60))


def test_seconds_to_beijing_midnight() -> None:
    # 15:59:30 UTC is 23:59:30 in Beijing.
    assert seconds_to_beijing_midnight(dt.datetime(2026, 11, 23, 15, 59, 30, tzinfo=dt.UTC)) == 30
    assert seconds_to_beijing_midnight(dt.datetime(2026, 11, 23, 16, 0, 0, tzinfo=dt.UTC)) == 86_400
