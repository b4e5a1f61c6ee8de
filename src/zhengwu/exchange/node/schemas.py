"""The front node's configuration (a TOML file or command-line options) and its answers.

A node publishes *only* what is listed here: each service names one table or view and the columns it
may show. Everything else in the department's database stays invisible, whatever a caller asks for.

Example ``node.toml``::

    database_url = "mysql+pymysql://reader:secret@10.0.0.5:3306/huji?charset=utf8mb4"
    tokens = ["a-long-random-token-shared-with-the-gateway"]
    port = 8700

    [[services]]
    code = "persons"                 # the X-Road service code
    table = "legacy_person"          # a table or a view
    title = "户籍人口"
    columns = ["id", "name", "birth_date", "updated_at"]
    key = ["id"]                     # default: the primary key (a view must name one)
    change_column = "updated_at"     # enables /changes (an updated-at or increasing column)
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic import ValidationError as PydanticValidationError

from zhengwu.errors import ConfigurationError, ValidationError
from zhengwu.exchange.identifiers import check_part

#: Environment variables that override the file, so secrets need not be written into it.
ENV_DATABASE_URL = "ZHENGWU_NODE_DATABASE_URL"
ENV_TOKENS = "ZHENGWU_NODE_TOKENS"


class PublishedTable(BaseModel):
    """One table or view published as one service."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    code: str = Field(description="Service code (X-Road characters only).")
    table: str = Field(min_length=1, max_length=128)
    db_schema: str | None = Field(None, alias="schema", max_length=128)
    title: str = Field("", max_length=200)
    description: str = Field("", max_length=2000)
    columns: list[str] = Field(min_length=1, description="The published columns; nothing else is shown.")
    key: list[str] = Field(default_factory=list, description="Unique, non-null ordering key.")
    change_column: str | None = Field(None, description="Updated-at or increasing column for /changes.")
    max_limit: int | None = Field(None, ge=1, le=100_000)

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        try:
            return check_part("service_code", value)
        except ValidationError as exc:  # pydantic reports ValueError; keep the reason
            raise ValueError(exc.message_en) from None

    @field_validator("columns")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("columns are listed twice")
        return value


class NodeConfig(BaseModel):
    """The whole front node: where its database is, who may call it, what it publishes."""

    model_config = ConfigDict(extra="forbid")

    database_url: SecretStr = Field(description="SQLAlchemy URL of the department's own database.")
    tokens: list[SecretStr] = Field(
        default_factory=list, description="Shared secrets the gateway sends (Authorization: Bearer …)."
    )
    allow_anonymous: bool = Field(False, description="Serve without tokens (development only).")
    host: str = "127.0.0.1"
    port: int = Field(8700, ge=1, le=65535)
    title: str = Field("前置机", max_length=200)
    default_limit: int = Field(100, ge=1, le=100_000)
    max_limit: int = Field(1000, ge=1, le=100_000)
    statement_timeout_ms: int = Field(10_000, ge=100, le=3_600_000)
    pool_size: int = Field(5, ge=1, le=100)
    services: list[PublishedTable] = Field(min_length=1)

    @field_validator("tokens")
    @classmethod
    def _long_tokens(cls, value: list[SecretStr]) -> list[SecretStr]:
        for token in value:
            if len(token.get_secret_value()) < 16:
                raise ValueError("every token must be at least 16 characters")
        return value

    @field_validator("services")
    @classmethod
    def _unique_codes(cls, value: list[PublishedTable]) -> list[PublishedTable]:
        codes = [s.code for s in value]
        if len(set(codes)) != len(codes):
            raise ValueError("two services share a code")
        return value

    def token_values(self) -> list[str]:
        return [t.get_secret_value() for t in self.tokens]


def node_config_build(data: dict[str, Any], *, environ: dict[str, str] | None = None) -> NodeConfig:
    """Validate a configuration mapping, with the environment's database URL and tokens laid over it."""
    env = os.environ if environ is None else environ
    merged = dict(data)
    if env.get(ENV_DATABASE_URL):
        merged["database_url"] = env[ENV_DATABASE_URL]
    if env.get(ENV_TOKENS):
        merged["tokens"] = [t.strip() for t in env[ENV_TOKENS].split(",") if t.strip()]
    try:
        config = NodeConfig.model_validate(merged)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(
            f"前置机配置有误：{where}：{first['msg']}",
            message_en=f"front node configuration: {where}: {first['msg']}",
            code="node.config.invalid",
            field=where,
        ) from None
    if not config.tokens and not config.allow_anonymous:
        raise ConfigurationError(
            "前置机必须配置至少一个访问令牌（tokens 或环境变量 ZHENGWU_NODE_TOKENS）",
            message_en="a front node needs at least one token (tokens or ZHENGWU_NODE_TOKENS)",
            code="node.config.no_token",
            field="tokens",
        )
    return config


def node_config_load(path: Path, *, environ: dict[str, str] | None = None) -> NodeConfig:
    """Read a TOML configuration file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(
            f"无法读取前置机配置文件 {path}：{exc}",
            message_en=f"cannot read front node configuration {path}: {exc}",
            code="node.config.unreadable",
        ) from None
    return node_config_build(data, environ=environ)


class Page(BaseModel):
    """One page of rows."""

    items: list[dict[str, Any]]
    limit: int
    offset: int
    next_after: str | None = Field(description="Keyset cursor for the next page (pass as `after`).")


class ChangePage(BaseModel):
    """Rows changed after a cursor, oldest first."""

    items: list[dict[str, Any]]
    next_since: str | None = Field(description="Pass as `since` to continue; unchanged when no rows.")
    has_more: bool
