"""What every command-line module shares: the settings and database of this invocation, and error output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from zhengwu.config import Settings, load_settings
from zhengwu.db import Database, upgrade
from zhengwu.errors import ZhengwuError

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class CliState:
    """Options given to the root command; settings and database are built on first use."""

    overrides: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None
    _database: Database | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(**self.overrides)
        return self._settings

    def database(self, *, migrate: bool = False) -> Database:
        """The database, with migrations applied first when ``migrate``."""
        if self._database is None:
            settings = self.settings()
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            self._database = Database.from_url(settings.effective_database_url)
        if migrate:
            upgrade(self._database.engine)
        return self._database

    def set_data_dir(self, data_dir: Path) -> None:
        self.overrides["data_dir"] = data_dir
        self._settings = None
        self._database = None


pass_state = click.make_pass_decorator(CliState, ensure=True)


def fail(exc: ZhengwuError, *, code: int = 1) -> None:
    """Print an error for people (Chinese, then English) and a stable code, and exit non-zero."""
    click.echo(f"错误 [{exc.code}]：{exc.message}", err=True)
    if exc.message_en and exc.message_en != exc.message:
        click.echo(f"error [{exc.code}]: {exc.message_en}", err=True)
    sys.exit(code)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn zhengwu errors into a clean message and exit status 1 instead of a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ZhengwuError as exc:
            fail(exc)
            raise AssertionError("unreachable") from exc

    return wrapper


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, default=str))
