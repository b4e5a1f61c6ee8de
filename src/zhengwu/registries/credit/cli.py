"""``zhengwu credit``: ingest 双公示 records and list entries, print the platform key, verify reports.

``report-verify`` needs no database and no network: it checks a saved report envelope (the JSON the
API returns) or a report PDF (its attached envelope and its page binding) against the SM2 signatures,
optionally pinned to a public key file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from zhengwu.accounts.permissions import Actor
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state
from zhengwu.crypto import sm2_public_key_from_private
from zhengwu.registries.credit.ingest import ingest_credit
from zhengwu.registries.credit.pdf import credit_report_pdf_verify
from zhengwu.registries.credit.report import (
    Verification,
    credit_report_verify,
    key_fingerprint,
    platform_key,
)
from zhengwu.registries.models import BATCH_STATUS_ZH, BatchStatus


@click.group("credit")
def credit_group() -> None:
    """社会信用信息库 (credit registry)."""


@credit_group.command("ingest")
@click.argument("kind", type=click.Choice(["records", "list_entries"]))
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--source", required=True, help="Code of the delivering department.")
@click.option("--partial", is_flag=True, help="Apply valid rows, list the others in the error file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_state
@handle_errors
def ingest_command(state: CliState, kind: str, file: Path, source: str, partial: bool, as_json: bool) -> None:
    """Ingest FILE (CSV, Excel .xlsx or Parquet) of KIND as one batch."""
    database = state.database(migrate=True)
    with database.session() as db:
        result = ingest_credit(
            db,
            actor=Actor.system("cli"),
            kind=kind,  # type: ignore[arg-type]  # click.Choice restricts the values
            source=source,
            path=file,
            mode="partial" if partial else "atomic",
            error_dir=state.settings().data_dir / "registries" / "errors",
        )
    if as_json:
        echo_json(result.to_dict())
    else:
        label = BATCH_STATUS_ZH.get(BatchStatus(result.status), result.status)
        click.echo(f"批次 #{result.batch_id}：{label}。{result.message or ''}")
        for error in result.errors[:20]:
            click.echo(f"  第 {error.row} 行 [{error.column}]：{error.reason}", err=True)
        if result.error_file:
            click.echo(f"错误文件：{result.error_file}")
    if result.status == BatchStatus.REJECTED.value:
        sys.exit(1)


@credit_group.command("public-key")
@pass_state
def public_key_command(state: CliState) -> None:
    """Print the platform's public signing key (PEM) and its fingerprint."""
    public_pem = sm2_public_key_from_private(platform_key(state.settings().data_dir))
    click.echo(public_pem.decode("ascii"), nl=False)
    click.echo(f"fingerprint: {key_fingerprint(public_pem)}")


@credit_group.command("report-verify")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--public-key",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="PEM of the platform's public key: the signature must be by this key.",
)
def report_verify_command(file: Path, public_key: Path | None) -> None:
    """Verify a saved credit report (the JSON envelope or the PDF) offline; exit 0 if valid, 1 otherwise."""
    pinned = public_key.read_bytes() if public_key else None
    data = file.read_bytes()
    if data.startswith(b"%PDF-"):
        _verdict(credit_report_pdf_verify(data, public_pem=pinned))
        return
    try:
        envelope = json.loads(data)
        report, signature = envelope["report"], envelope["signature"]
        if not isinstance(report, dict) or not isinstance(signature, dict):
            raise TypeError("report and signature must be objects")
    except (ValueError, KeyError, TypeError) as exc:
        click.echo(f"无效：不是信用报告文件（{exc}）", err=True)
        sys.exit(1)
    _verdict(credit_report_verify(report, signature, public_pem=pinned))


def _verdict(result: Verification) -> None:
    if result.valid:
        click.echo(f"有效：签名正确，签名密钥指纹 {result.key_fingerprint}")
        return
    click.echo(f"无效：{result.reason}", err=True)
    sys.exit(1)
