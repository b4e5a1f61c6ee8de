"""Commands for accounts without the web: ``zhengwu user create`` and ``zhengwu token create``."""

from __future__ import annotations

import click
from sqlalchemy import select

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import UserIn
from zhengwu.accounts.services import configure_password_hashing, token_create, user_by_username, user_create
from zhengwu.cli_support import CliState, echo_json, handle_errors, pass_state
from zhengwu.errors import NotFound, ValidationError
from zhengwu.web.forms import validate_form

ROLE_CHOICES = click.Choice([r.value for r in Role])


@click.group("user")
def user_group() -> None:
    """账号 (accounts)."""


def _department_id(state: CliState, code: str | None) -> int | None:
    if not code:
        return None
    with state.database().session() as db:
        dept_id = db.scalar(select(Department.id).where(Department.code == code))
    if dept_id is None:
        raise NotFound(
            f"部门代码 {code} 不存在", message_en=f"department code {code} not found", field="department"
        )
    return int(dept_id)


@user_group.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Display name (姓名).")
@click.option("--department", help="Department code (部门代码).")
@click.option("--role", "roles", multiple=True, type=ROLE_CHOICES, help="Role; repeat for several.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Password (prompted when omitted; never echoed).",
)
@pass_state
@handle_errors
def user_create_command(
    state: CliState,
    username: str,
    display_name: str,
    department: str | None,
    roles: tuple[str, ...],
    password: str,
) -> None:
    """Create an account USERNAME."""
    settings = state.settings()
    configure_password_hashing(fast=settings.mode == "test")
    state.database(migrate=True)
    data = validate_form(
        UserIn,
        {
            "username": username,
            "display_name": display_name,
            "password": password,
            "department_id": _department_id(state, department),
            "roles": list(roles),
        },
    )
    with state.database().session() as db:
        user = user_create(
            db, actor=Actor.system("cli"), data=data, password_min_length=settings.password_min_length
        )
    echo_json(user.model_dump(mode="json"))


@click.group("token")
def token_group() -> None:
    """API 令牌 (API tokens)."""


@token_group.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--days", type=int, help="Lifetime in days (default from settings).")
@pass_state
@handle_errors
def token_create_command(state: CliState, username: str, name: str, days: int | None) -> None:
    """Print a new API token for USERNAME (shown once; only its hash is stored)."""
    settings = state.settings()
    state.database(migrate=True)
    if days is not None and not 1 <= days <= 3650:
        raise ValidationError(
            "有效天数须在 1 至 3650 之间", message_en="--days must be 1..3650", field="days"
        )
    with state.database().session() as db:
        actor = Actor.system("cli")
        user = user_by_username(db, actor=actor, username=username)
        created = token_create(
            db, actor=actor, user_id=user.id, name=name, expires_days=days or settings.token_default_days
        )
    click.echo(created.token)
