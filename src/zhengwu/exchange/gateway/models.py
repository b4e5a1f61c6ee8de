"""The gateway's own table: per-grant limits and the elements a grant may receive in clear.

``grant_id`` is a plain integer, not a foreign key: this branch ("gateway") starts at the exchange
branch, before the sharing tables exist (as ``exchange_services.catalog_resource_id``). A grant without
a row gets the gateway's default limits and no element in clear.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Float, Integer
from sqlalchemy.orm import Mapped, mapped_column

from zhengwu.db import Base, BigId, UTCDateTime, utcnow


class GatewayGrantPolicy(Base):
    """Rate limit, daily quota and clear (unmasked) elements of one grant."""

    __tablename__ = "exchange_gateway_grant_policies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    grant_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    rate_per_second: Mapped[float] = mapped_column(Float)
    burst: Mapped[int] = mapped_column(Integer)
    # NULL: no daily quota.
    quota_per_day: Mapped[int | None] = mapped_column(Integer)
    clear_elements: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
