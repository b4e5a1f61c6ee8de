"""The gateway's answer caches: entries expire after a TTL; loads are single-flight and refreshed ahead.

* Single flight: when many calls miss the same key at once (64 connections after an entry expired),
  one database lookup runs and every caller awaits it, instead of 64 lookups queueing for the thread
  pool.
* Refresh ahead: a hit in the last fifth of an entry's life starts one background reload, so a busy
  key never expires under load. The bound on staleness stays the TTL plus one lookup: a revoked grant
  stops being honoured within ``grant_ttl`` seconds plus the time of that lookup.

Loader errors are not cached: they reach the callers waiting on that load, and the next call retries.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("zhengwu.exchange.gateway")

_REFRESH_AT = 0.2


class TTLCache:
    """A dict whose entries expire; cleared wholesale when it grows past ``max_size`` (no LRU cost)."""

    def __init__(self, ttl: float, max_size: int = 100_000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._data: dict[Any, tuple[float, float, Any]] = {}
        self._loading: dict[Any, asyncio.Future[Any]] = {}
        self.loads = 0

    def get(self, key: Any) -> Any:
        """The value, or None when absent or expired."""
        item = self._data.get(key)
        if item is None or item[0] < time.monotonic():
            return None
        return item[2]

    def put(self, key: Any, value: Any, ttl: float | None = None) -> None:
        """Keep ``value`` for ``ttl`` seconds (default the cache's)."""
        life = self.ttl if ttl is None else min(ttl, self.ttl)
        if life <= 0:
            return
        if len(self._data) >= self.max_size:
            self._data.clear()
        self._data[key] = (time.monotonic() + life, life, value)

    def clear(self) -> None:
        """Forget everything (loads in flight still finish and are kept)."""
        self._data.clear()

    async def get_or_load(
        self,
        key: Any,
        load: Callable[[], Awaitable[Any]],
        ttl_of: Callable[[Any], float] | None = None,
    ) -> Any:
        """The cached value of ``key``, or the result of one shared ``load()``."""
        item = self._data.get(key)
        if item is not None:
            expires, life, value = item
            left = expires - time.monotonic()
            if left >= 0:
                if left < life * _REFRESH_AT and key not in self._loading:
                    self._start(key, load, ttl_of).add_done_callback(_ignore_failure)
                return value
        future = self._loading.get(key) or self._start(key, load, ttl_of)
        return await asyncio.shield(future)

    def _start(
        self, key: Any, load: Callable[[], Awaitable[Any]], ttl_of: Callable[[Any], float] | None
    ) -> asyncio.Future[Any]:
        async def run() -> Any:
            try:
                value = await load()
                self.loads += 1
                self.put(key, value, None if ttl_of is None else ttl_of(value))
                return value
            finally:
                self._loading.pop(key, None)

        future = asyncio.ensure_future(run())
        self._loading[key] = future
        return future


def _ignore_failure(future: asyncio.Future[Any]) -> None:
    # A failed background refresh leaves the entry to expire; the next miss reports the error.
    if not future.cancelled() and future.exception() is not None:
        log.warning("cache refresh failed: %s", future.exception())
