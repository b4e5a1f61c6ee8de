"""The kernel's token buckets and Beijing-day quotas (shared by the gateway and the portal's keys)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from zhengwu.ratelimit import Limiter, SharedLimiter, seconds_to_beijing_midnight


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


# A child process spending one key's allowance on the shared file; prints how many calls were allowed.
_SPEND = """
import sys
from pathlib import Path
from zhengwu.ratelimit import SharedLimiter

class Limits:
    rate_per_second = 0.001
    burst = 100
    quota_per_day = None

limiter = SharedLimiter(Path(sys.argv[1]))
print(sum(limiter.check("grant:7", Limits()) is None for _ in range(int(sys.argv[2]))))
limiter.close()
"""


def test_shared_limiter_follows_the_same_rules(tmp_path: Path) -> None:
    limiter = SharedLimiter(tmp_path / "limits.bin")
    per_minute = _Limits(rate_per_second=1.0, burst=60)
    assert all(limiter.check("k", per_minute, now=1000.0) is None for _ in range(60))
    refusal = limiter.check("k", per_minute, now=1000.0)
    assert refusal is not None and refusal.kind == "rate" and refusal.retry_after == 1
    assert limiter.check("k", per_minute, now=1001.0) is None
    # A clock set back adds no tokens.
    assert limiter.check("k", per_minute, now=900.0) is not None
    limiter.forget("k")
    assert all(limiter.check("k", per_minute, now=1001.0) is None for _ in range(60))
    limiter.close()


def test_shared_limiter_is_exact_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "limits.bin"
    SharedLimiter(path).close()
    children = [
        subprocess.Popen([sys.executable, "-c", _SPEND, str(path), "300"], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    allowed = [int(child.communicate(timeout=60)[0]) for child in children]
    # A burst of 100 at a negligible refill rate: 100 calls in all, not 100 per process.
    assert sum(allowed) == 100, allowed


def test_shared_limiter_quota_survives_a_restart(tmp_path: Path) -> None:
    at = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
    limits = _Limits(rate_per_second=100.0, burst=100, quota_per_day=3)
    first = SharedLimiter(tmp_path / "limits.bin")
    assert [first.check("grant:1", limits, now=10.0, at=at) for _ in range(2)] == [None, None]
    first.close()
    again = SharedLimiter(tmp_path / "limits.bin")
    assert again.check("grant:1", limits, now=11.0, at=at) is None
    refusal = again.check("grant:1", limits, now=12.0, at=at)
    assert refusal is not None and refusal.kind == "quota"
    # The next Beijing day starts afresh.
    assert again.check("grant:1", limits, now=13.0, at=at + dt.timedelta(days=1)) is None
    again.close()


def test_shared_limiter_resets_a_file_of_another_layout(tmp_path: Path) -> None:
    path = tmp_path / "limits.bin"
    path.write_bytes(b"not a limits file" * 10)
    limiter = SharedLimiter(path, slots=64)
    assert limiter.check("k", _Limits(rate_per_second=1.0, burst=1), now=5.0) is None
    assert path.read_bytes()[:4] == b"ZWRL"
    limiter.close()


def test_shared_limiter_with_a_full_table_still_limits_in_process(tmp_path: Path) -> None:
    limiter = SharedLimiter(tmp_path / "limits.bin", slots=4)
    one = _Limits(rate_per_second=0.001, burst=1)
    for i in range(4):
        assert limiter.check(f"k{i}", one, now=1.0) is None
    # The fifth key finds no slot: counted in this process, its limit still holds.
    assert limiter.check("k4", one, now=1.0) is None
    assert limiter.check("k4", one, now=1.0) is not None
    limiter.close()
