"""``zhengwu sharing escalate`` and ``zhengwu sharing expire``: the daily sweeps of the sharing workflow.

Run them once a day (cron or a systemd timer), after midnight Beijing time: a request becomes overdue the
day after its deadline.
"""

from __future__ import annotations

import datetime as dt

import click

from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state
from zhengwu.sharing.calendar import beijing_today, calendar_covers
from zhengwu.sharing.corrections import correction_escalate_overdue
from zhengwu.sharing.grants import grant_expire_due
from zhengwu.sharing.services import share_request_escalate_overdue


@click.group("sharing")
def sharing_group() -> None:
    """共享申请 (sharing requests, grants, corrections)."""


def _today(value: dt.datetime | None) -> dt.date:
    return value.date() if value is not None else beijing_today()


@sharing_group.command("escalate")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Beijing date to judge deadlines by (default: today).",
)
@pass_state
@handle_errors
def escalate_command(state: CliState, today: dt.datetime | None) -> None:
    """Escalate share requests and corrections past their deadline to the platform (once each)."""
    day = _today(today)
    database = state.database(migrate=True)
    with database.session() as db:
        requests = share_request_escalate_overdue(db, today=day)
        corrections = correction_escalate_overdue(db, today=day)
    echo_json(
        {
            "today": day.isoformat(),
            "calendar_exact": calendar_covers(day),
            "requests_escalated": requests.escalated,
            "request_ids": requests.request_ids,
            "deadlines_recomputed": requests.deadlines_recomputed,
            "corrections_escalated": corrections.escalated,
            "correction_ids": corrections.correction_ids,
        }
    )
    if not calendar_covers(day):
        click.echo(f"注意：节假日数据不含 {day.year} 年，期限按周末推算；请升级 chinesecalendar。", err=True)


@sharing_group.command("expire")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Beijing date (default: today); grants that ended before it are marked expired.",
)
@pass_state
@handle_errors
def expire_command(state: CliState, today: dt.datetime | None) -> None:
    """Mark grants whose period is over as expired."""
    day = _today(today)
    database = state.database(migrate=True)
    with database.session() as db:
        expired = grant_expire_due(db, today=day)
    echo_json({"today": day.isoformat(), "grants_expired": expired})
