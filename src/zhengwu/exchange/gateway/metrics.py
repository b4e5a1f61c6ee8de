"""Prometheus metrics of the gateway: calls, errors and latency per service and client.

Each :class:`GatewayMetrics` has its own registry, so several gateways (tests, the platform app and a
standalone gateway) can live in one process; ``/metrics`` serves the gateway's registry.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

# Calls take ~1 ms through the gateway; the buckets resolve the sub-millisecond part and upstream timeouts.
_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GatewayMetrics:
    """The gateway's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "zhengwu_gateway_calls",
            "Calls through the gateway, allowed or refused.",
            ("service", "client", "status"),
            registry=self.registry,
        )
        self.errors = Counter(
            "zhengwu_gateway_errors",
            "Calls answered with an X-Road error raised by the gateway.",
            ("service", "client", "type"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "zhengwu_gateway_call_seconds",
            "Time from request received to response sent (message log write included).",
            ("service", "client"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.upstream = Histogram(
            "zhengwu_gateway_upstream_seconds",
            "Time the provider's service took.",
            ("service",),
            buckets=_BUCKETS,
            registry=self.registry,
        )

    def observe(
        self, *, service: str, client: str, status: int, seconds: float, error_type: str | None
    ) -> None:
        """Count one call."""
        # The labelled children, kept per (service, client, status): ``labels()`` validates and locks on
        # every call. Bounded like the label sets themselves (services x clients x statuses).
        key = (service, client, status)
        children = self._children.get(key)
        if children is None:
            children = (self.calls.labels(service, client, str(status)), self.latency.labels(service, client))
            if len(self._children) < 100_000:
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if error_type:
            self.errors.labels(service, client, error_type).inc()

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
