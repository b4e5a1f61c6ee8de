"""``zhengwu audit verify``: seal and check the tamper-evident audit trail, and every other log that
registers a verifier (the exchange's message log does, from the root command)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.orm import Session

from zhengwu.audit.services import audit_seal, audit_verify
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state

# (name, verifier): a verifier returns (ok, plain-data report). Registered by the assembly (zhengwu.cli),
# so the kernel never imports a domain.
LogVerifier = Callable[[Session], tuple[bool, dict[str, Any]]]
EXTRA_VERIFIERS: list[tuple[str, LogVerifier]] = []


def register_log_verifier(name: str, verifier: LogVerifier) -> None:
    """Have ``zhengwu audit verify`` also check another tamper-evident log."""
    EXTRA_VERIFIERS.append((name, verifier))


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
    """Check every record's SM3 hash and the chain of the audit trail and of every registered log;
    exit 1 naming the first record that does not match."""
    database = state.database(migrate=True)
    sealed = 0
    if not no_seal:
        with database.session() as db:
            sealed = audit_seal(db)
    with database.session() as db:
        result = audit_verify(db)
    echo_json(
        {
            "log": "audit_trail",
            "ok": result.ok,
            "records": result.records,
            "sealed": result.sealed,
            "newly_sealed": sealed,
            "first_bad_id": result.first_bad_id,
            "reason": result.reason,
        }
    )
    failed = not result.ok
    if not result.ok:
        click.echo(f"审计日志校验失败：记录 {result.first_bad_id}：{result.reason}", err=True)
    for name, verifier in EXTRA_VERIFIERS:
        with database.session() as db:
            ok, report = verifier(db)
        echo_json({"log": name, **report})
        if not ok:
            failed = True
            click.echo(f"{name} 校验失败：{report.get('reason')}", err=True)
    if failed:
        sys.exit(1)
