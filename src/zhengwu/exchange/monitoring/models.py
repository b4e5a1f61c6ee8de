"""The monitoring summary: calls of the message log rolled up per minute, service, client and outcome.

The monitoring pages and API read these rows for the full minutes of a window instead of every log
record (:mod:`.rollup` fills them; :mod:`.services` adds the raw records of the window's partial
minutes and of what is not rolled up yet). A row holds sums, so rows of many minutes add up in SQL:

* ``calls``, ``request_bytes``, ``response_bytes``, ``latency_sum_ms``, ``latency_max_ms``,
* ``h00`` … ``h22``: how many calls took at most ``LATENCY_BOUNDS_MS[i]`` (and more than the bound
  before); the last bucket is everything slower. Percentiles are estimated within one bucket.

``outcome`` is ``""`` for a successful call, else the error key of the error report (the X-Road error
type, or ``HTTP <status>`` when the upstream answered an error status itself); ``client_error`` says
whether that error is the caller's (``Client.`` or 4xx). ``key_hash`` (SHA-256 of service, client and
outcome) keeps the unique key short: identifiers may be 1,400 characters long.

``exchange_monitoring_rollup`` is a single row: the last leaf index rolled up (the watermark), locked
``FOR UPDATE`` by a roll-up so concurrent roll-ups never count a record twice.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime, utcnow

#: Upper bounds (milliseconds) of the latency buckets; one more bucket holds everything slower.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000, 30000,
)  # fmt: skip
BUCKETS = len(LATENCY_BOUNDS_MS) + 1
BUCKET_COLUMNS: tuple[str, ...] = tuple(f"h{i:02d}" for i in range(BUCKETS))


class MonitoringMinute(Base):
    """Calls of one minute for one (service, client, outcome)."""

    __tablename__ = "exchange_monitoring_minutes"
    __table_args__ = (
        UniqueConstraint("minute", "key_hash"),
        Index("ix_exchange_monitoring_minutes_service_minute", "service_id", "minute"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Minutes since the Unix epoch (UTC) of the records' logged_at.
    minute: Mapped[int] = mapped_column(BigInteger, index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    # "" when the record names no service (a call refused before its service was known).
    service_id: Mapped[str] = mapped_column(String(1400))
    client_id: Mapped[str] = mapped_column(String(1100))
    outcome: Mapped[str] = mapped_column(String(255))
    client_error: Mapped[bool] = mapped_column(Boolean, default=False)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    request_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    response_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_sum_ms: Mapped[float] = mapped_column(Float, default=0.0)
    latency_max_ms: Mapped[float] = mapped_column(Float, default=0.0)
    h00: Mapped[int] = mapped_column(Integer, default=0)
    h01: Mapped[int] = mapped_column(Integer, default=0)
    h02: Mapped[int] = mapped_column(Integer, default=0)
    h03: Mapped[int] = mapped_column(Integer, default=0)
    h04: Mapped[int] = mapped_column(Integer, default=0)
    h05: Mapped[int] = mapped_column(Integer, default=0)
    h06: Mapped[int] = mapped_column(Integer, default=0)
    h07: Mapped[int] = mapped_column(Integer, default=0)
    h08: Mapped[int] = mapped_column(Integer, default=0)
    h09: Mapped[int] = mapped_column(Integer, default=0)
    h10: Mapped[int] = mapped_column(Integer, default=0)
    h11: Mapped[int] = mapped_column(Integer, default=0)
    h12: Mapped[int] = mapped_column(Integer, default=0)
    h13: Mapped[int] = mapped_column(Integer, default=0)
    h14: Mapped[int] = mapped_column(Integer, default=0)
    h15: Mapped[int] = mapped_column(Integer, default=0)
    h16: Mapped[int] = mapped_column(Integer, default=0)
    h17: Mapped[int] = mapped_column(Integer, default=0)
    h18: Mapped[int] = mapped_column(Integer, default=0)
    h19: Mapped[int] = mapped_column(Integer, default=0)
    h20: Mapped[int] = mapped_column(Integer, default=0)
    h21: Mapped[int] = mapped_column(Integer, default=0)
    h22: Mapped[int] = mapped_column(Integer, default=0)


class MonitoringRollup(Base):
    """The roll-up's watermark: every record with ``leaf_index <= rolled_up_to`` is in the minutes."""

    __tablename__ = "exchange_monitoring_rollup"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # -1: nothing rolled up yet (leaf indexes start at 0).
    rolled_up_to: Mapped[int] = mapped_column(BigInteger, default=-1)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
