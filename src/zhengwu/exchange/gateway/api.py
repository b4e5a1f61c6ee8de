"""Where the gateway is served: its own ASGI app (``zhengwu gateway``) or mounted in the platform app.

The gateway is a plain ASGI callable (:class:`~.proxy.Gateway`); here it gets its configuration and
its routes (``/r1/...``, ``/listClients``, ``/metrics``) in the platform app. For several worker
processes uvicorn imports :func:`create_gateway_app` and each worker reads its options from the
environment (``ZHENGWU_GATEWAY_*``), as the command sets them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from zhengwu.config import Settings, load_settings
from zhengwu.db import Database
from zhengwu.exchange.credentials import credential_key
from zhengwu.exchange.gateway.proxy import Gateway, GatewayConfig
from zhengwu.exchange.gateway.services import Limits
from zhengwu.exchange.messagelog import messagelog_body_key

ENV_PREFIX = "ZHENGWU_GATEWAY_"


def gateway_config(
    settings: Settings,
    *,
    grant_ttl: float = 5.0,
    auth_ttl: float = 30.0,
    directory_ttl: float = 30.0,
    rate: float = 200.0,
    burst: int = 400,
    quota: int | None = None,
    keep_bodies: bool = False,
    key_file: Path | None = None,
    head_interval: float = 60.0,
    log_socket: str | None = None,
) -> GatewayConfig:
    """The gateway options for ``settings`` (instance, body key) and the command's flags."""
    return GatewayConfig(
        instance=settings.instance,
        grant_ttl=grant_ttl,
        auth_ttl=auth_ttl,
        directory_ttl=directory_ttl,
        default_limits=Limits(rate, burst, quota),
        body_key=messagelog_body_key(settings.secret_key.get_secret_value()) if keep_bodies else None,
        credential_key=credential_key(settings.secret_key.get_secret_value()),
        signing_key_pem=key_file.read_bytes() if key_file is not None else None,
        head_interval=head_interval,
        log_socket=log_socket,
        # Exact limits across `--workers N`, and daily quotas that survive a restart.
        limits_path=settings.data_dir / "gateway" / "limits.bin",
    )


def config_to_env(options: dict[str, object]) -> dict[str, str]:
    """The command's options as environment variables for worker processes."""
    return {ENV_PREFIX + k.upper(): str(v) for k, v in options.items() if v is not None}


def _env_options() -> dict[str, object]:
    kinds = {
        "grant_ttl": float,
        "auth_ttl": float,
        "directory_ttl": float,
        "rate": float,
        "burst": int,
        "quota": int,
        "head_interval": float,
    }
    out: dict[str, object] = {}
    for name, kind in kinds.items():
        raw = os.environ.get(ENV_PREFIX + name.upper())
        if raw:
            out[name] = kind(raw)
    if os.environ.get(ENV_PREFIX + "KEEP_BODIES") == "True":
        out["keep_bodies"] = True
    key = os.environ.get(ENV_PREFIX + "KEY_FILE")
    if key:
        out["key_file"] = Path(key)
    socket_path = os.environ.get(ENV_PREFIX + "LOG_SOCKET")
    if socket_path:
        out["log_socket"] = socket_path
    return out


#: Seconds a thread holds the GIL before it must offer it (CPython's default is 0.005).
GIL_SWITCH_INTERVAL = 0.0005


def create_gateway_app() -> Gateway:
    """Factory for ``uvicorn --factory``: settings and gateway options from the environment."""
    # With an in-process log writer thread (no writer process), the thread waits on PostgreSQL several
    # times per batch; each time it must win the GIL back from the busy event loop, which by default
    # yields only every 5 ms. A 0.5 ms interval cuts the batch commit from tens of milliseconds to a few
    # (measured: docs/benchmarks.md, gateway). With the writer process it changes nothing.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    settings = load_settings()
    database = Database.from_url(settings.effective_database_url)
    return Gateway(database, gateway_config(settings, **_env_options()))  # type: ignore[arg-type]


class _Path:
    """An ASGI endpoint for one exact path (Starlette treats a non-function endpoint as an ASGI app)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.gateway(scope, receive, send)


def gateway_routes(gateway: Gateway) -> list[Mount | Route]:
    """Routes that serve the gateway inside another Starlette/FastAPI app."""
    return [
        Mount("/r1", app=gateway),
        Route("/listClients", endpoint=_Path(gateway), methods=["GET"]),
        Route("/metrics", endpoint=_Path(gateway), methods=["GET"]),
    ]
