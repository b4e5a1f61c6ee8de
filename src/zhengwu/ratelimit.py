"""Token-bucket rate limits and daily quotas (the gateway's grants, the portal's dataset keys).

Two keepers of the same arithmetic (``_take``):

- ``Limiter`` keeps the state in this process's memory. With N processes each counts on its own, so a
  key gets up to N times its allowance; fine for one process (the portal under ``serve``, tests).
- ``SharedLimiter`` keeps it in a small memory-mapped file that every process of one host opens (the
  gateway's ``--workers N``): a check takes an exclusive ``flock`` on the file for a few microseconds, so
  the allowance is exact across workers, and a daily quota survives a restart of the gateway. Machines
  behind a balancer still count each on its own; their limits add up (documented in
  docs/exchange-xroad.md).

Quota days are Beijing calendar days (the day a department's duty is counted in).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import math
import mmap
import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
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


class RateLimiter(Protocol):
    """What the gateway and the portal ask of a limiter."""

    def check(
        self, key: str, limits: LimitsLike, *, now: float | None = None, at: dt.datetime | None = None
    ) -> Refusal | None: ...

    def forget(self, key: str) -> None: ...


def seconds_to_beijing_midnight(at: dt.datetime | None = None) -> int:
    """Seconds until the next Beijing midnight (when a daily quota starts again), at least 1."""
    local = (at or dt.datetime.now(dt.UTC)).astimezone(BEIJING)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), BEIJING)
    return max(1, math.ceil((midnight - local).total_seconds()))


@dataclass
class _State:
    """One key's bucket (tokens left at ``last``, seconds) and its quota day (ordinal, calls used)."""

    tokens: float
    last: float
    day: int
    used: int


def _take(
    state: _State | None, limits: LimitsLike, now: float, at: dt.datetime | None
) -> tuple[_State, Refusal | None]:
    """Take one call from ``state`` (None: a key not seen yet, its bucket full); the new state and the
    refusal if any (nothing is taken on a refusal)."""
    if state is None:
        state = _State(float(limits.burst), now, 0, 0)
    # max(): a clock set back (or a state written by a process with a later clock) never adds tokens.
    elapsed = max(0.0, now - state.last)
    tokens = min(float(limits.burst), state.tokens + elapsed * limits.rate_per_second)
    state.last = max(now, state.last)
    if tokens < 1.0:
        state.tokens = tokens
        return state, Refusal("rate", max(1, math.ceil((1.0 - tokens) / limits.rate_per_second)))
    if limits.quota_per_day is not None:
        local = (at or dt.datetime.now(dt.UTC)).astimezone(BEIJING)
        today = local.date().toordinal()
        if state.day != today:
            state.day, state.used = today, 0
        if state.used >= limits.quota_per_day:
            state.tokens = tokens
            return state, Refusal("quota", seconds_to_beijing_midnight(local))
        state.used += 1
    state.tokens = tokens - 1.0
    return state, None


class Limiter:
    """Token buckets and daily counters keyed by a string (a grant, a dataset key), in this process."""

    def __init__(self) -> None:
        self._states: dict[str, _State] = {}
        # Threadpool routes (the portal) share one limiter: a check is a read-modify-write.
        self._lock = threading.Lock()

    def check(
        self, key: str, limits: LimitsLike, *, now: float | None = None, at: dt.datetime | None = None
    ) -> Refusal | None:
        """Take one call from ``key``'s allowance, or say why not (nothing is taken on a refusal)."""
        with self._lock:
            state, refusal = _take(
                self._states.get(key), limits, time.monotonic() if now is None else now, at
            )
            self._states[key] = state
            return refusal

    def forget(self, key: str) -> None:
        """Drop a key's state (a revoked key)."""
        with self._lock:
            self._states.pop(key, None)


# The shared file: a header (magic, version, slot count) and open-addressed slots of 32 bytes each:
# key hash (0 = empty), tokens, last (wall-clock seconds: processes and restarts share it), quota day
# (ordinal), calls used that day.
_MAGIC = b"ZWRL"
_HEADER = struct.Struct("<4sII")
_SLOT = struct.Struct("<QddII")
SHARED_SLOTS = 65_536  # 2 MiB: room for far more grants and keys than a gateway serves
_PROBES = 64


def _key_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") or 1


class SharedLimiter:
    """``Limiter``'s rules with the state in a file mapped by every process of this host (see above).

    A key whose slot cannot be found within a few probes (a table nearly full: tens of thousands of
    live keys) is counted in this process's memory instead, so a full table degrades to per-process
    limits rather than refusing calls.
    """

    def __init__(self, path: Path, *, slots: int = SHARED_SLOTS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        size = _HEADER.size + slots * _SLOT.size
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._thread_lock = threading.Lock()
        self._local = Limiter()
        with self._locked():
            header = os.pread(self._fd, _HEADER.size, 0)
            if len(header) < _HEADER.size or _HEADER.unpack(header) != (_MAGIC, 1, slots):
                # New, or written by another layout: start afresh (limits restart full, as after a reboot).
                os.ftruncate(self._fd, 0)
                os.ftruncate(self._fd, size)
                os.pwrite(self._fd, _HEADER.pack(_MAGIC, 1, slots), 0)
        self._map = mmap.mmap(self._fd, size)
        self._slots = slots

    def _locked(self) -> _FileLock:
        return _FileLock(self._fd, self._thread_lock)

    def _find(self, h: int) -> int | None:
        """The offset of the slot of the key hashing to ``h`` (claimed if new), or None when the probes
        find no room."""
        for i in range(_PROBES):
            offset = _HEADER.size + ((h + i) % self._slots) * _SLOT.size
            found = int.from_bytes(self._map[offset : offset + 8], "little")
            if found == h:
                return offset
            if found == 0:
                self._map[offset : offset + 8] = h.to_bytes(8, "little")
                # A claimed slot with last == 0 is a key not seen yet (its bucket full).
                self._map[offset + 8 : offset + _SLOT.size] = bytes(_SLOT.size - 8)
                return offset
        return None

    def check(
        self, key: str, limits: LimitsLike, *, now: float | None = None, at: dt.datetime | None = None
    ) -> Refusal | None:
        """Take one call from ``key``'s allowance across every process sharing the file."""
        wall = time.time() if now is None else now
        h = _key_hash(key)
        with self._locked():
            offset = self._find(h)
            if offset is None:
                return self._local.check(key, limits, now=wall, at=at)
            _, tokens, last, day, used = _SLOT.unpack_from(self._map, offset)
            state = _State(tokens, last, day, used) if last > 0 else None
            state, refusal = _take(state, limits, wall, at)
            _SLOT.pack_into(self._map, offset, h, state.tokens, state.last, state.day, state.used)
            return refusal

    def forget(self, key: str) -> None:
        """Reset a key's state (a revoked key; its slot stays claimed, so probe chains stay intact)."""
        with self._locked():
            offset = self._find(_key_hash(key))
            if offset is not None:
                self._map[offset + 8 : offset + _SLOT.size] = bytes(_SLOT.size - 8)
            self._local.forget(key)

    def close(self) -> None:
        """Unmap and close the file (the state stays in it for the next process)."""
        self._map.close()
        os.close(self._fd)


class _FileLock:
    """This process's threads first (``flock`` does not exclude threads sharing a descriptor), then the
    other processes."""

    def __init__(self, fd: int, thread_lock: threading.Lock) -> None:
        self._fd = fd
        self._thread_lock = thread_lock

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()
