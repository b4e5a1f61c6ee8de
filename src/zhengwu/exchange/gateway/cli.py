"""``zhengwu gateway`` (serve the exchange gateway, X-Road REST r1) and ``zhengwu gateway-policy``."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click
import uvicorn

from zhengwu.accounts.permissions import Actor
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state
from zhengwu.exchange.gateway.api import config_to_env
from zhengwu.exchange.gateway.services import grant_policy_set


@click.command("gateway")
@click.option("--host", help="Bind address (default from settings).")
@click.option("--port", type=int, help="Port (default from settings).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@click.option(
    "--grant-ttl",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds a grant decision is cached (a revoked grant stops within this).",
)
@click.option(
    "--auth-ttl", type=float, default=30.0, show_default=True, help="Seconds a token check is cached."
)
@click.option(
    "--directory-ttl", type=float, default=30.0, show_default=True, help="Seconds a service lookup is cached."
)
@click.option("--rate", type=float, default=200.0, show_default=True, help="Default calls/s per grant.")
@click.option("--burst", type=int, default=400, show_default=True, help="Default burst per grant.")
@click.option("--quota", type=int, default=None, help="Default calls per day per grant (none if omitted).")
@click.option("--keep-bodies", is_flag=True, help="Keep request/response bodies in the log, SM4-encrypted.")
@click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="SM2 private key PEM: sign a tree head every --head-interval seconds.",
)
@click.option("--head-interval", type=float, default=60.0, show_default=True)
@pass_state
@handle_errors
def gateway_command(
    state: CliState,
    host: str | None,
    port: int | None,
    workers: int,
    grant_ttl: float,
    auth_ttl: float,
    directory_ttl: float,
    rate: float,
    burst: int,
    quota: int | None,
    keep_bodies: bool,
    key_file: Path | None,
    head_interval: float,
) -> None:
    """共享交换网关：X-Road REST (r1) 服务调用、授权检查、限流、脱敏与交换日志。"""
    settings = state.settings()
    logging.basicConfig(level=settings.log_level)
    state.database(migrate=True)
    options: dict[str, object] = {
        "grant_ttl": grant_ttl,
        "auth_ttl": auth_ttl,
        "directory_ttl": directory_ttl,
        "rate": rate,
        "burst": burst,
        "quota": quota,
        "keep_bodies": keep_bodies or None,
        "key_file": key_file.resolve() if key_file else None,
        "head_interval": head_interval,
    }
    # Workers (and the single-process case alike) build the gateway from the environment, so both
    # paths run the same code; the root options (--data-dir, --database-url) travel the same way.
    os.environ.update(config_to_env(options))
    for name, value in state.overrides.items():
        os.environ["ZHENGWU_" + name.upper()] = str(value)
    uvicorn.run(
        "zhengwu.exchange.gateway.api:create_gateway_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@click.command("gateway-policy")
@click.argument("grant_id", type=int)
@click.option("--rate", type=float, required=True, help="Calls per second allowed on the grant.")
@click.option("--burst", type=int, required=True, help="Calls allowed at once above the rate.")
@click.option("--quota", type=int, default=None, help="Calls per Beijing day (none if omitted).")
@click.option("--clear", default="", help="Comma-separated elements of the grant sent unmasked.")
@pass_state
@handle_errors
def gateway_policy_command(
    state: CliState, grant_id: int, rate: float, burst: int, quota: int | None, clear: str
) -> None:
    """Set a grant's rate limit, daily quota and elements in clear (as the platform; audited)."""
    database = state.database(migrate=True)
    with database.session() as db:
        out = grant_policy_set(
            db,
            actor=Actor.system("cli"),
            grant_id=grant_id,
            rate_per_second=rate,
            burst=burst,
            quota_per_day=quota,
            clear_elements=[c.strip() for c in clear.split(",") if c.strip()],
        )
    echo_json(out)
