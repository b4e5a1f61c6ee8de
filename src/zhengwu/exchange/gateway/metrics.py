"""Prometheus metrics of the gateway: calls, errors and latency per service and client.

Each :class:`GatewayMetrics` has its own registry, so several gateways (tests, the platform app and a
standalone gateway) can live in one process; ``/metrics`` serves the gateway's registry.

The hot path only adds to plain dictionaries and lists (one event loop thread owns them); a custom
collector turns them into Prometheus families when ``/metrics`` is read. ``prometheus_client``'s own
``Counter.inc`` and ``Histogram.observe`` take a lock and walk their objects on every call: with
``labels()`` they were ≈ 10 % of a gateway worker's CPU under load (py-spy, docs/benchmarks.md).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

# Calls take ~1 ms through the gateway; the buckets resolve the sub-millisecond part and upstream timeouts.
_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Distinct label sets kept per metric (services x clients x statuses stay far below this).
_MAX_SERIES = 100_000


class _Histogram:
    """Counts per bucket (not cumulative; the last slot is +Inf) and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        # bisect_left: a value equal to a bound falls into that bucket (Prometheus' "le").
        self.counts[bisect_left(_BUCKETS, seconds)] += 1
        self.total += seconds

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip((*_BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return out


class GatewayMetrics(Collector):
    """The gateway's counters and histograms."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str, int], int] = {}
        self.errors: dict[tuple[str, str, str], int] = {}
        self.latency: dict[tuple[str, str], _Histogram] = {}
        self.upstream: dict[str, _Histogram] = {}
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def observe(
        self, *, service: str, client: str, status: int, seconds: float, error_type: str | None
    ) -> None:
        """Count one call."""
        key = (service, client, status)
        calls = self.calls
        if key in calls:
            calls[key] += 1
        elif len(calls) < _MAX_SERIES:
            calls[key] = 1
        histogram = self.latency.get((service, client))
        if histogram is None:
            histogram = _Histogram()
            if len(self.latency) < _MAX_SERIES:
                self.latency[(service, client)] = histogram
        histogram.observe(seconds)
        if error_type:
            ekey = (service, client, error_type)
            if ekey in self.errors or len(self.errors) < _MAX_SERIES:
                self.errors[ekey] = self.errors.get(ekey, 0) + 1

    def observe_upstream(self, service: str, seconds: float) -> None:
        """The time the provider's service took for one forwarded call."""
        histogram = self.upstream.get(service)
        if histogram is None:
            histogram = _Histogram()
            if len(self.upstream) < _MAX_SERIES:
                self.upstream[service] = histogram
        histogram.observe(seconds)

    def collect(self) -> Iterator[Metric]:
        """The families, as ``prometheus_client`` counters and histograms would expose them."""
        calls = CounterMetricFamily(
            "zhengwu_gateway_calls",
            "Calls through the gateway, allowed or refused.",
            labels=("service", "client", "status"),
        )
        for (service, client, status), count in list(self.calls.items()):
            calls.add_metric((service, client, str(status)), count)
        yield calls
        errors = CounterMetricFamily(
            "zhengwu_gateway_errors",
            "Calls answered with an X-Road error raised by the gateway.",
            labels=("service", "client", "type"),
        )
        for labels, count in list(self.errors.items()):
            errors.add_metric(labels, count)
        yield errors
        latency = HistogramMetricFamily(
            "zhengwu_gateway_call_seconds",
            "Time from request received to response sent (message log write included).",
            labels=("service", "client"),
        )
        for pair, histogram in list(self.latency.items()):
            latency.add_metric(pair, histogram.buckets(), histogram.total)
        yield latency
        upstream = HistogramMetricFamily(
            "zhengwu_gateway_upstream_seconds", "Time the provider's service took.", labels=("service",)
        )
        for service, histogram in list(self.upstream.items()):
            upstream.add_metric((service,), histogram.buckets(), histogram.total)
        yield upstream

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
