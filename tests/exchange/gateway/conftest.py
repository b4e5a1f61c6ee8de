"""Fixtures of the gateway tests (defined in tests/gateway_env.py, shared with the SIGKILL test)."""

from gateway_env import exchange, upstream_url

__all__ = ["exchange", "upstream_url"]
