"""``zhengwu id …``: check identifiers from the command line.

The root CLI registers :data:`id_group`; it can be driven on its own with ``click.testing.CliRunner``.
"""

from __future__ import annotations

import datetime as dt
import json

import click

from zhengwu.identifiers.recognise import recognise

id_group = click.Group("id", help="公民身份号码、统一社会信用代码、组织机构代码、行政区划代码的核验。")


@id_group.command("check")
@click.argument("values", nargs=-1, required=True)
@click.option("--strict", is_flag=True, help="Reject non-canonical input (spaces, full-width, lower case).")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date to judge future birth dates and ages against (default: today).",
)
def check(values: tuple[str, ...], strict: bool, today: dt.datetime | None) -> None:
    """Validate and decode each VALUE; print one JSON object per value.

    Exits with status 1, after printing every value, if any value is invalid; the reasons go to
    standard error in Chinese and English.
    """
    day = today.date() if today else None
    failed = False
    for value in values:
        result = recognise(value, strict=strict, today=day)
        click.echo(json.dumps(result, ensure_ascii=False))
        if not result["valid"]:
            failed = True
            error = result["error"]
            assert isinstance(error, dict)  # recognise always sets it for invalid values
            click.echo(f"{value}: {error['message']} ({error['message_en']}) [{error['code']}]", err=True)
    if failed:
        raise SystemExit(1)
