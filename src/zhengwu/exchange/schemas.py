"""Plain data in and out of the exchange directory use cases."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, SecretStr


class SubsystemIn(BaseModel):
    """A department's information system joining the exchange."""

    department_id: int
    code: str = Field(description="SUBSYSTEM part of the identifier, e.g. 'HUJI'.")
    name: str = Field(min_length=1, max_length=200)


class SubsystemOut(BaseModel):
    id: int
    department_id: int
    code: str
    name: str
    status: str
    xroad_id: str


class ServiceIn(BaseModel):
    """A service a subsystem offers through the gateway."""

    subsystem_id: int
    service_code: str
    service_version: str | None = None
    name: str = Field(min_length=1, max_length=200)
    upstream_url: str = Field(max_length=1000, description="Base URL the gateway forwards calls to.")
    timeout_ms: int = Field(10_000, ge=100, le=300_000)
    catalog_resource_id: int | None = Field(None, ge=1)
    openapi: dict[str, Any] | None = Field(None, description="OpenAPI 3 document of the service.")
    upstream_credential: SecretStr | None = Field(
        None,
        description="Write-only: the gateway sends it as 'Authorization: Bearer ...' to the upstream "
        "(a front node's token). Stored encrypted, never returned.",
    )


class CredentialIn(BaseModel):
    """A new upstream credential for a service (null removes it)."""

    upstream_credential: SecretStr | None


class ServiceOut(BaseModel):
    id: int
    subsystem_id: int
    service_code: str
    service_version: str | None
    name: str
    upstream_url: str
    timeout_ms: int
    catalog_resource_id: int | None
    has_openapi: bool
    has_upstream_credential: bool = False
    status: str
    xroad_id: str
