"""Plain data in and out of the gateway's client-certificate use cases (mutual TLS)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class CertificateIn(BaseModel):
    """A client certificate to register for a subsystem: PEM text (one certificate)."""

    certificate_pem: str = Field(min_length=1, max_length=64_000, description="The certificate, PEM encoded.")


class CertificateOut(BaseModel):
    id: int
    subsystem_id: int
    xroad_id: str
    fingerprint: str = Field(description="Lower-case hex SHA-256 of the DER certificate.")
    subject: str
    issuer: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime
    status: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class ClientAuthIn(BaseModel):
    """Whether a subsystem's calls must present one of its client certificates."""

    require_client_cert: bool


class ClientAuthOut(BaseModel):
    subsystem_id: int
    xroad_id: str
    require_client_cert: bool
    active_certificates: int


class SubsystemSecurityOut(BaseModel):
    """A subsystem as the certificates page shows it: its client certificates and the mTLS choice."""

    subsystem_id: int
    department_name: str
    code: str
    name: str
    xroad_id: str
    require_client_cert: bool
    certificates: list[CertificateOut]
