"""Response shaping (granted elements, masking), rate limits and quotas, request hashes: no database."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib

import pytest

from zhengwu.exchange.gateway.cache import TTLCache
from zhengwu.exchange.gateway.limits import Limiter
from zhengwu.exchange.gateway.protocol import request_hash
from zhengwu.exchange.gateway.services import Limits
from zhengwu.exchange.gateway.shaping import MAX_DEPTH, ShapeError, mask_value, shape

KNOWN = {"resident_id", "name", "phone", "address", "note"}


def test_records_keep_only_granted_elements_and_mask_sensitive_ones() -> None:
    record = {
        "resident_id": "110105199001011234",
        "name": "欧阳修",
        "phone": "13812341234",
        "x": 1,
        "note": 5,
    }
    out = shape(
        record, known=KNOWN, granted={"resident_id", "name", "phone"}, masked={"resident_id", "name", "phone"}
    )
    assert out == {"resident_id": "110105********1234", "name": "欧**", "phone": "138****1234"}


def test_envelopes_lists_and_nested_records() -> None:
    data = {"data": {"items": [{"name": "张三", "address": "杭州"}, {"note": "n"}], "total": 2}, "page": 1}
    out = shape(data, known=KNOWN, granted={"name"}, masked=set())
    assert out == {"data": {"items": [{"name": "张三"}, {}], "total": 2}, "page": 1}
    assert shape([1, "a", None], known=KNOWN, granted=set(), masked=set()) == [1, "a", None]


def test_mask_value_of_odd_values() -> None:
    assert mask_value("resident_id", 110105199001011234) == "110105********1234"
    assert (
        mask_value("resident_id", "１１０１０５１９９００１０１１２３４") == "110105********1234"
    )  # full-width
    assert mask_value("phone", "+86 138-1234-1234") == "+86 138-****-1234"
    assert mask_value("address", "杭州市西湖区") == "******"
    assert mask_value("note", None) is None and mask_value("note", True) is True
    assert mask_value("name", ["张三", "李四"]) == ["张*", "李*"]
    assert mask_value("address", {"city": "杭州"}) == {"city": "**"}


def test_hostile_nesting_is_refused() -> None:
    deep: object = "x"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ShapeError):
        shape(deep, known=KNOWN, granted=set(), masked=set())


def test_token_bucket_refills_and_says_how_long_to_wait() -> None:
    limiter = Limiter()
    limits = Limits(rate_per_second=2.0, burst=2, quota_per_day=None)
    assert limiter.check("g1", limits, now=0.0) is None
    assert limiter.check("g1", limits, now=0.0) is None
    refusal = limiter.check("g1", limits, now=0.0)
    assert refusal is not None and refusal.kind == "rate" and refusal.retry_after == 1
    assert limiter.check("g1", limits, now=0.5) is None  # one token back after 0.5 s at 2/s
    assert limiter.check("g2", limits, now=0.0) is None  # keys are independent


def test_daily_quota_resets_at_beijing_midnight() -> None:
    limiter = Limiter()
    limits = Limits(rate_per_second=1000.0, burst=1000, quota_per_day=1)
    evening = dt.datetime(2026, 11, 23, 15, 59, 0, tzinfo=dt.UTC)  # 23:59 in Beijing
    assert limiter.check("g", limits, now=0.0, at=evening) is None
    refusal = limiter.check("g", limits, now=1.0, at=evening)
    assert refusal is not None and refusal.kind == "quota" and refusal.retry_after == 60
    assert limiter.check("g", limits, now=2.0, at=evening + dt.timedelta(minutes=2)) is None


def test_request_hash_follows_pr_rest() -> None:
    headers = {"x-road-client": "CN-DEV/GOV/X/Y", "accept": "application/json"}
    no_body = request_hash("GET", "/r1/a", "", headers, b"")
    expected_head = hashlib.sha512(b"GET /r1/a\nx-road-client:CN-DEV/GOV/X/Y").digest()
    assert base64.b64decode(no_body) == expected_head
    with_body = request_hash("GET", "/r1/a", "", headers, b"{}")
    assert (
        base64.b64decode(with_body) == hashlib.sha512(expected_head + hashlib.sha512(b"{}").digest()).digest()
    )


def test_cache_loads_once_for_concurrent_misses_and_does_not_keep_errors() -> None:
    cache = TTLCache(ttl=10.0)
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return calls

    async def failing() -> int:
        raise ValueError("db down")

    async def main() -> None:
        values = await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(50)))
        assert values == [1] * 50 and calls == 1
        with pytest.raises(ValueError):
            await cache.get_or_load("bad", failing)
        assert cache.get("bad") is None
        # A value whose own lifetime is shorter (a token about to expire) is kept only that long.
        await cache.get_or_load("short", load, ttl_of=lambda _: 0.0)
        assert cache.get("short") is None

    asyncio.run(main())
