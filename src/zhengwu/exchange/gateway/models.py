"""The gateway's own tables: per-grant limits and clear elements, and the client certificates of
subsystems for mutual TLS (with the per-subsystem choice of requiring it).

``grant_id`` is a plain integer, not a foreign key: this branch ("gateway") starts at the exchange
branch, before the sharing tables exist (as ``exchange_services.catalog_resource_id``). A grant without
a row gets the gateway's default limits and no element in clear.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String
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


class GatewayClientCertificate(Base):
    """A TLS client certificate registered for a subsystem (X-Road: an "internal TLS certificate").

    Only the SHA-256 fingerprint of the DER encoding is needed to recognise the certificate; subject,
    issuer, serial and validity are kept so operators can tell certificates apart and the gateway can
    refuse an expired one with a clear error (the TLS layer does not check times, see ``tls.py``).
    """

    __tablename__ = "exchange_gateway_client_certs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subsystem_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_subsystems.id", ondelete="CASCADE"), index=True
    )
    # Lower-case hex SHA-256 of the DER certificate: one certificate belongs to one subsystem.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(1000))
    issuer: Mapped[str] = mapped_column(String(1000))
    serial: Mapped[str] = mapped_column(String(100))
    not_before: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # "active" or "revoked"; a revoked certificate stays, so a refused call can name it.
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class GatewaySubsystemAuth(Base):
    """How a subsystem must authenticate at the gateway; no row: an API token is enough."""

    __tablename__ = "exchange_gateway_subsystem_auth"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subsystem_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_subsystems.id", ondelete="CASCADE"), unique=True
    )
    # True: calls must present one of the subsystem's certificates; a token alone is refused.
    require_client_cert: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
