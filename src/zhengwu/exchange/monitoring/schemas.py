"""Plain data out of the monitoring use cases (the shape of X-Road's operational data, summarised)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class Latency(BaseModel):
    """Call durations in milliseconds (``finished_at - started_at`` of the records), nearest-rank."""

    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    mean: float | None = None


class CallStats(BaseModel):
    """Counts over a set of calls. An error is a refused or failed call (HTTP status 400 or more)."""

    calls: int = 0
    errors: int = 0
    client_errors: int = Field(0, description="Refusals blamed on the caller (Client.* or 4xx).")
    server_errors: int = Field(0, description="Failures of the platform or provider (Server.* or 5xx).")
    error_rate: float = 0.0
    request_bytes: int = 0
    response_bytes: int = 0
    latency_ms: Latency = Field(default_factory=Latency)


class Window(BaseModel):
    start: dt.datetime
    end: dt.datetime
    bucket_seconds: int


class ServiceSummary(BaseModel):
    """One service over the window."""

    service_id: str
    name: str | None = Field(None, description="Name in the directory, when the service is registered.")
    provider: str | None = Field(None, description="Department that provides it.")
    stats: CallStats


class ClientSummary(BaseModel):
    client_id: str
    consumer: str | None = Field(None, description="Department of the calling member or subsystem.")
    stats: CallStats


class SeriesPoint(BaseModel):
    start: dt.datetime
    calls: int
    errors: int
    p95_ms: float | None


class ServiceOperationalData(BaseModel):
    """Operational data of one service: totals, per client, over time."""

    window: Window
    service: ServiceSummary
    by_client: list[ClientSummary]
    series: list[SeriesPoint]


class Overview(BaseModel):
    """Every service the caller may see, with totals and a time series of all their calls."""

    window: Window
    scope: str = Field(description="'all', or the X-Road member id the caller is limited to.")
    totals: CallStats
    services: list[ServiceSummary]
    series: list[SeriesPoint]


class DepartmentTraffic(BaseModel):
    """A department's calls in (to its services) and out (by its subsystems)."""

    window: Window
    department_id: int
    department: str
    member_id: str
    incoming: CallStats
    outgoing: CallStats
    incoming_by_client: list[ClientSummary]
    outgoing_by_service: list[ServiceSummary]
    series_in: list[SeriesPoint]
    series_out: list[SeriesPoint]


class ErrorCall(BaseModel):
    logged_at: dt.datetime
    xroad_id: str
    client_id: str
    service_id: str | None
    http_status: int
    error_type: str | None
    duration_ms: float


class ErrorReport(BaseModel):
    window: Window
    by_type: dict[str, int]
    recent: list[ErrorCall]
