"""``zhengwu audit verify``: seal and check the tamper-evident audit trail."""

from __future__ import annotations

import sys

import click

from zhengwu.audit.services import audit_seal, audit_verify
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state


@click.group("audit")
def audit_group() -> None:
    """审计 (audit trail)."""


@audit_group.command("verify")
@click.option(
    "--no-seal", is_flag=True, help="Only verify; do not chain records written since the last seal."
)
@pass_state
@handle_errors
def audit_verify_command(state: CliState, no_seal: bool) -> None:
    """Check every record's SM3 hash and the chain; exit 1 naming the first record that does not match."""
    database = state.database(migrate=True)
    sealed = 0
    if not no_seal:
        with database.session() as db:
            sealed = audit_seal(db)
    with database.session() as db:
        result = audit_verify(db)
    echo_json(
        {
            "ok": result.ok,
            "records": result.records,
            "sealed": result.sealed,
            "newly_sealed": sealed,
            "first_bad_id": result.first_bad_id,
            "reason": result.reason,
        }
    )
    if not result.ok:
        click.echo(f"审计日志校验失败：记录 {result.first_bad_id}：{result.reason}", err=True)
        sys.exit(1)
