"""The ``zhengwu`` command: the root group and the kernel's own commands (db, serve, config).

Domain commands live in each domain's ``cli.py`` and are attached here.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import click
import uvicorn
from sqlalchemy.orm import Session

from zhengwu import __version__
from zhengwu.accounts.cli import token_group, user_group
from zhengwu.app import create_app
from zhengwu.audit.cli import audit_group, register_log_verifier
from zhengwu.catalog.search.cli import catalog_group
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state
from zhengwu.db import current_revision, downgrade, upgrade
from zhengwu.demo.cli import demo_command, seed_group
from zhengwu.exchange.cli import exchange_group
from zhengwu.exchange.gateway.cli import gateway_command, gateway_policy_command
from zhengwu.exchange.node.cli import node_group
from zhengwu.exchange.verify import messagelog_verify
from zhengwu.identifiers.cli import id_group
from zhengwu.opendata.cli import opendata_group
from zhengwu.opendata.datastore.cli import datastore_group
from zhengwu.opendata.harvest.schedule import HarvestScheduler
from zhengwu.registries.cli import registries_group
from zhengwu.registries.credit.cli import credit_group
from zhengwu.registries.geospatial.cli import geo_group
from zhengwu.sharing.cli import sharing_group
from zhengwu.web.server import ONE_WRITE_HTTP, run_workers


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="zhengwu")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Data directory (default ./var).")
@click.option("--database-url", help="SQLAlchemy URL (default: SQLite file in the data directory).")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, database_url: str | None) -> None:
    """zhengwu 政务：政务信息资源共享平台。"""
    state = ctx.ensure_object(CliState)
    if data_dir is not None:
        state.overrides["data_dir"] = data_dir
    if database_url:
        state.overrides["database_url"] = database_url


@cli.group("db")
def db_group() -> None:
    """数据库迁移 (database migrations)."""


@db_group.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
@pass_state
@handle_errors
def db_upgrade(state: CliState, revision: str) -> None:
    """Apply migrations."""
    database = state.database()
    upgrade(database.engine, revision)
    click.echo(f"数据库已升级到 {current_revision(database.engine)} ({database.backend})")


@db_group.command("downgrade")
@click.argument("revision")
@pass_state
@handle_errors
def db_downgrade(state: CliState, revision: str) -> None:
    """Revert migrations down to REVISION (e.g. 'base')."""
    database = state.database()
    downgrade(database.engine, revision)
    click.echo(f"数据库已回退到 {current_revision(database.engine)}")


@db_group.command("current")
@pass_state
@handle_errors
def db_current(state: CliState) -> None:
    """Print the current revision."""
    click.echo(current_revision(state.database().engine) or "(empty)")


@cli.command("serve")
@click.option("--host", help="Bind address (default from settings).")
@click.option("--port", type=int, help="Port (default from settings).")
@click.option("--workers", type=int, default=1, show_default=True)
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="One log line per call.")
@pass_state
@handle_errors
def serve(state: CliState, host: str | None, port: int | None, workers: int, access_log: bool) -> None:
    """Apply migrations and serve the platform.

    uvicorn with httptools, one socket write per answer; several workers each listen on their own socket
    of the port, so connections spread over them (zhengwu.web.server)."""
    if host:
        state.overrides["host"] = host
    if port:
        state.overrides["port"] = port
    settings = state.settings()
    logging.basicConfig(level=settings.log_level)
    database = state.database(migrate=True)
    options: dict[str, Any] = {
        "http": ONE_WRITE_HTTP,
        "log_level": settings.log_level.lower(),
        "access_log": access_log,
    }
    # Optional: due harvest sources run from a thread of this process (default: cron/timer instead).
    scheduler = (
        HarvestScheduler(database, timeout=settings.opendata_harvest_timeout_seconds).start()
        if settings.opendata_harvest_scheduler
        else None
    )
    try:
        if workers > 1:
            # Each worker builds the app from the environment: pass the command line's settings there.
            os.environ.update({f"ZHENGWU_{k.upper()}": str(v) for k, v in state.overrides.items()})
            run_workers(
                "zhengwu.app:create_app", host=settings.host, port=settings.port, workers=workers, **options
            )
        else:
            app = create_app(settings, database=database)
            uvicorn.run(app, host=settings.host, port=settings.port, **options)
    finally:
        if scheduler is not None:
            scheduler.stop()


@cli.group("config")
def config_group() -> None:
    """配置 (configuration)."""


@config_group.command("show")
@pass_state
@handle_errors
def config_show(state: CliState) -> None:
    """Print every option, its environment variable, value (secrets masked) and meaning."""
    for row in state.settings().describe():
        echo_json(row)


cli.add_command(id_group)
cli.add_command(user_group)
cli.add_command(token_group)
cli.add_command(audit_group)
cli.add_command(demo_command)
cli.add_command(seed_group)
cli.add_command(exchange_group)
cli.add_command(node_group)
cli.add_command(gateway_command)
cli.add_command(gateway_policy_command)
cli.add_command(registries_group)
cli.add_command(credit_group)
registries_group.add_command(geo_group)
cli.add_command(sharing_group)
cli.add_command(opendata_group)
cli.add_command(catalog_group)
cli.add_command(datastore_group)


def _verify_message_log(db: Session) -> tuple[bool, dict[str, Any]]:
    result = messagelog_verify(db)
    return result.ok, result.to_dict()


register_log_verifier("exchange_message_log", _verify_message_log)


def main() -> None:
    """Entry point of the ``zhengwu`` console script."""
    cli(prog_name="zhengwu")
