"""The gateway's metrics: plain counters exposed in the Prometheus text format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from zhengwu.exchange.gateway.metrics import GatewayMetrics


def test_counts_and_cumulative_buckets_are_exposed() -> None:
    metrics = GatewayMetrics()
    for seconds in (0.0004, 0.0005, 0.003, 100.0):
        metrics.observe(service="S", client="C", status=200, seconds=seconds, error_type=None)
    metrics.observe(service="S", client="C", status=403, seconds=0.001, error_type="Client.AccessDenied")
    metrics.observe_upstream("S", 0.002)
    families = {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}
    calls = {
        (s.labels["status"], s.value)
        for s in families["zhengwu_gateway_calls"].samples
        if s.name.endswith("_total")
    }
    assert calls == {("200", 4.0), ("403", 1.0)}
    errors = [s for s in families["zhengwu_gateway_errors"].samples if s.name.endswith("_total")]
    assert [(s.labels["type"], s.value) for s in errors] == [("Client.AccessDenied", 1.0)]
    buckets = {
        s.labels["le"]: s.value
        for s in families["zhengwu_gateway_call_seconds"].samples
        if s.name.endswith("_bucket")
    }
    # "le" is inclusive: 0.0005 falls into the 0.0005 bucket; 100 s only into +Inf.
    assert buckets["0.0005"] == 2 and buckets["0.001"] == 3 and buckets["0.005"] == 4
    assert buckets["30.0"] == 4 and buckets["+Inf"] == 5
    upstream = [s for s in families["zhengwu_gateway_upstream_seconds"].samples if s.name.endswith("_count")]
    assert upstream[0].value == 1
