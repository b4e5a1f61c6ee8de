"""``zhengwu gateway`` (serve the exchange gateway, X-Road REST r1, optionally over mutual TLS),
``zhengwu gateway-policy`` and ``zhengwu exchange subsystem-cert`` (client certificates of subsystems)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click
import uvicorn

from zhengwu.accounts.permissions import Actor
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state
from zhengwu.exchange.gateway.api import config_to_env
from zhengwu.exchange.gateway.certificates import (
    subsystem_cert_add,
    subsystem_cert_list,
    subsystem_cert_revoke,
    subsystem_client_auth_set,
)
from zhengwu.exchange.gateway.services import grant_policy_set
from zhengwu.exchange.gateway.tls import ContextFactory, PeerCertificateProtocol, TlsOptions
from zhengwu.exchange.gateway.workers import run as run_lean
from zhengwu.exchange.logwriter import spawn_writer
from zhengwu.exchange.messagelog import messagelog_body_key


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
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM certificate of the gateway: serve HTTPS (default: setting gateway_tls_certfile).",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM private key of --tls-cert (default: setting gateway_tls_keyfile).",
)
@click.option(
    "--tls-client-ca",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM CA bundle for client certificates: accept mutual TLS (default: gateway_tls_client_ca).",
)
@click.option(
    "--log-writer",
    type=click.Choice(["process", "thread"]),
    default="process",
    show_default=True,
    help="Message log writer: its own process shared by all workers, or a thread in each worker.",
)
@click.option(
    "--server",
    type=click.Choice(["lean", "uvicorn"]),
    default="lean",
    show_default=True,
    help="HTTP server: the gateway's own httptools/uvloop server, or uvicorn (same ASGI app).",
)
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
    tls_cert: Path | None,
    tls_key: Path | None,
    tls_client_ca: Path | None,
    log_writer: str,
    server: str,
) -> None:
    """共享交换网关：X-Road REST (r1) 服务调用、授权检查、限流、脱敏与交换日志。"""
    settings = state.settings()
    logging.basicConfig(level=settings.log_level)
    database = state.database(migrate=True)
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
    certfile = tls_cert or settings.gateway_tls_certfile
    client_ca = tls_client_ca or settings.gateway_tls_client_ca
    tls: dict[str, object] = {}
    options_tls: TlsOptions | None = None
    if certfile is not None:
        options_tls = TlsOptions(certfile, tls_key or settings.gateway_tls_keyfile, client_ca)
        tls = {
            "ssl_certfile": str(certfile),
            "ssl_context_factory": ContextFactory(options_tls),
            # The HTTP protocol that hands each connection's client certificate to the gateway.
            "http": PeerCertificateProtocol,
            # The gateway terminates TLS itself: no proxy in front may rewrite the client address.
            "proxy_headers": False,
        }
    elif client_ca is not None:
        raise click.UsageError("--tls-client-ca needs --tls-cert (mutual TLS runs over HTTPS)")
    writer = None
    if log_writer == "process":
        # One writer process for every worker: it owns the log's connection and group commit, so the
        # workers' event loops keep their cores (docs/benchmarks.md, "Exchange gateway").
        body_key = messagelog_body_key(settings.secret_key.get_secret_value()) if keep_bodies else None
        writer = spawn_writer(database.engine.url.render_as_string(hide_password=False), body_key=body_key)
        os.environ.update(config_to_env({"log_socket": writer.socket_path}))
    try:
        if server == "lean":
            # The default: a quarter of a worker's time was uvicorn (docs/benchmarks.md, "Exchange gateway").
            run_lean(host or settings.host, port or settings.port, workers=workers, tls=options_tls)
            return
        uvicorn.run(
            "zhengwu.exchange.gateway.api:create_gateway_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_level="warning",
            access_log=False,
            **tls,  # type: ignore[arg-type]
        )
    finally:
        if writer is not None:
            writer.stop()


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


@click.group("subsystem-cert")
def subsystem_cert_group() -> None:
    """TLS client certificates of subsystems (mutual TLS at the gateway; as the platform, audited)."""


@subsystem_cert_group.command("add")
@click.argument("subsystem_id", type=int)
@click.argument("pem_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_state
@handle_errors
def subsystem_cert_add_command(state: CliState, subsystem_id: int, pem_file: Path) -> None:
    """Register the certificate in PEM_FILE for the subsystem SUBSYSTEM_ID."""
    settings = state.settings()
    with state.database(migrate=True).session() as db:
        out = subsystem_cert_add(
            db,
            actor=Actor.system("cli"),
            subsystem_id=subsystem_id,
            certificate_pem=pem_file.read_text("ascii", errors="replace"),
            instance=settings.instance,
        )
    echo_json(out.model_dump(mode="json"))


@subsystem_cert_group.command("list")
@click.argument("subsystem_id", type=int)
@pass_state
@handle_errors
def subsystem_cert_list_command(state: CliState, subsystem_id: int) -> None:
    """The certificates of the subsystem SUBSYSTEM_ID, newest first."""
    settings = state.settings()
    with state.database(migrate=True).session() as db:
        out = subsystem_cert_list(
            db, actor=Actor.system("cli"), subsystem_id=subsystem_id, instance=settings.instance
        )
    echo_json([c.model_dump(mode="json") for c in out])


@subsystem_cert_group.command("revoke")
@click.argument("certificate_id", type=int)
@pass_state
@handle_errors
def subsystem_cert_revoke_command(state: CliState, certificate_id: int) -> None:
    """Revoke the certificate CERTIFICATE_ID (gateways refuse it within their --auth-ttl)."""
    settings = state.settings()
    with state.database(migrate=True).session() as db:
        out = subsystem_cert_revoke(
            db, actor=Actor.system("cli"), certificate_id=certificate_id, instance=settings.instance
        )
    echo_json(out.model_dump(mode="json"))


@subsystem_cert_group.command("require")
@click.argument("subsystem_id", type=int)
@click.option("--off", is_flag=True, help="Accept an API token alone again.")
@pass_state
@handle_errors
def subsystem_cert_require_command(state: CliState, subsystem_id: int, off: bool) -> None:
    """Require mutual TLS for the subsystem SUBSYSTEM_ID (a token alone is then refused)."""
    settings = state.settings()
    with state.database(migrate=True).session() as db:
        out = subsystem_client_auth_set(
            db,
            actor=Actor.system("cli"),
            subsystem_id=subsystem_id,
            require_client_cert=not off,
            instance=settings.instance,
        )
    echo_json(out.model_dump(mode="json"))
