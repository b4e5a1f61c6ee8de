"""``zhengwu exchange ...``: verify, sign, archive the message log; check archives offline."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from zhengwu.accounts.permissions import Actor
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state
from zhengwu.exchange.archive import archive_verify, archive_verify_chain, messagelog_archive
from zhengwu.exchange.gateway.cli import subsystem_cert_group
from zhengwu.exchange.messagelog import head_dict, messagelog_sign_head
from zhengwu.exchange.monitoring.rollup import BATCH, monitoring_rollup
from zhengwu.exchange.services import service_credential_set
from zhengwu.exchange.verify import messagelog_verify

_KEY = click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="PEM file of the platform's SM2 signing key.",
)


@click.group("exchange")
def exchange_group() -> None:
    """共享交换 (exchange): message log tools."""


exchange_group.add_command(subsystem_cert_group)


@exchange_group.command("log-verify")
@click.option(
    "--trusted-key",
    "trusted",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public key PEM that signed heads must use (repeatable). Without it, each head's own key is used.",
)
@pass_state
@handle_errors
def log_verify_command(state: CliState, trusted: tuple[Path, ...]) -> None:
    """Recompute every record, archive and signed head; exit 1 naming the first one that does not match."""
    database = state.database(migrate=True)
    with database.session() as db:
        result = messagelog_verify(db, trusted_public_pems=[p.read_bytes() for p in trusted] or None)
    echo_json(result.to_dict())
    if not result.ok:
        click.echo(f"交换日志校验失败：{result.reason}", err=True)
        sys.exit(1)


@exchange_group.command("log-sign-head")
@_KEY
@pass_state
@handle_errors
def log_sign_head_command(state: CliState, key_file: Path) -> None:
    """Sign a tree head over the whole log as it is now."""
    database = state.database(migrate=True)
    with database.session() as db:
        head = messagelog_sign_head(db, private_pem=key_file.read_bytes())
        out = head_dict(head)
    echo_json({k: v for k, v in out.items() if k != "public_pem"})


@exchange_group.command("log-archive")
@_KEY
@click.option("--out-dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--before", type=click.DateTime(), help="Archive records logged before this UTC time.")
@pass_state
@handle_errors
def log_archive_command(state: CliState, key_file: Path, out_dir: Path, before: dt.datetime | None) -> None:
    """Archive records older than the retention period to a signed file, then delete them."""
    database = state.database(migrate=True)
    with database.session() as db:
        result = messagelog_archive(
            db,
            out_dir=out_dir,
            private_pem=key_file.read_bytes(),
            before=before.replace(tzinfo=dt.UTC) if before else None,
        )
    if result is None:
        click.echo("没有到期可归档的记录")
        return
    echo_json(
        {
            "path": str(result.path),
            "first_index": result.first_index,
            "end_index": result.end_index,
            "records": result.record_count,
            "manifest_hash": result.manifest_hash,
        }
    )


@exchange_group.command("archive-verify")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option(
    "--chain", is_flag=True, help="PATHS are all archives from the first: check the hash chain too."
)
def archive_verify_command(paths: tuple[Path, ...], public_key: Path, chain: bool) -> None:
    """Check archive files offline (no database needed)."""
    pem = public_key.read_bytes()
    results = [archive_verify_chain(list(paths), pem)] if chain else [archive_verify(p, pem) for p in paths]
    for result in results:
        echo_json(result.__dict__)
    if not all(r.ok for r in results):
        sys.exit(1)


@exchange_group.command("service-credential")
@click.argument("service_id", type=int)
@click.option(
    "--credential",
    envvar="ZHENGWU_UPSTREAM_CREDENTIAL",
    help="The new credential (or ZHENGWU_UPSTREAM_CREDENTIAL; prompted for, hidden, when neither is given).",
)
@click.option("--remove", is_flag=True, help="Remove the service's credential.")
@pass_state
@handle_errors
def service_credential_command(
    state: CliState, service_id: int, credential: str | None, remove: bool
) -> None:
    """Set or rotate the upstream credential the gateway sends to a service (a front node's token)."""
    if remove and credential:
        raise click.UsageError("give either --credential or --remove")
    if not remove and not credential:
        credential = click.prompt("上游凭据", hide_input=True, confirmation_prompt=True)
    settings = state.settings()
    database = state.database(migrate=True)
    with database.session() as db:
        out = service_credential_set(
            db,
            actor=Actor.system("cli"),
            service_id=service_id,
            credential=None if remove else credential,
            instance=settings.instance,
            secret_key=settings.secret_key.get_secret_value(),
        )
    echo_json(
        {
            "service_id": out.id,
            "xroad_id": out.xroad_id,
            "has_upstream_credential": out.has_upstream_credential,
        }
    )


@exchange_group.command("monitoring-rollup")
@click.option("--batch", type=int, default=BATCH, show_default=True, help="Records per transaction.")
@click.option(
    "--max-batches", type=int, default=None, help="Stop after this many batches (default: until done)."
)
@pass_state
@handle_errors
def monitoring_rollup_command(state: CliState, batch: int, max_batches: int | None) -> None:
    """Roll new message log records up into the per-minute monitoring summary (safe to run concurrently;
    run it from a timer so monitoring pages seldom have raw records to read)."""
    database = state.database(migrate=True)
    if max_batches is not None and max_batches < 1:
        raise click.BadParameter("must be at least 1", param_hint="--max-batches")
    records, batches = 0, 0
    while max_batches is None or batches < max_batches:
        with database.session() as db:
            done = monitoring_rollup(db, actor=Actor.system("cli"), limit=batch)
        records += done.records
        batches += 1
        if done.remaining == 0 or done.records == 0:
            break
    echo_json(
        {
            "records": records,
            "batches": batches,
            "rolled_up_to": done.rolled_up_to,
            "remaining": done.remaining,
        }
    )
