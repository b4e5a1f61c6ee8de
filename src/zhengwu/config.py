"""Configuration: one typed place for every option.

Options are read, highest priority first, from keyword arguments, environment variables ``ZHENGWU_*``
(nested with ``__``, e.g. ``ZHENGWU_DATABASE_URL``), and an optional TOML file: the path in
``ZHENGWU_CONFIG``, else ``./zhengwu.toml`` when it exists. Every field documents itself through its
``description``; ``zhengwu config show`` prints them all, secrets masked.

Default secrets are for development only: :func:`load_settings` refuses them in any other mode so that a
production deployment cannot start with a key that is published in this repository.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from zhengwu.errors import ConfigurationError

DEV_SECRET_KEY = "zhengwu-development-secret-key-do-not-use-in-production"  # noqa: S105
_CONFIG_FILE_ENV = "ZHENGWU_CONFIG"

Mode = Literal["development", "test", "production"]
Zone = Literal["intranet", "extranet"]
NodeLevel = Literal["national", "provincial", "city", "county"]


class Settings(BaseSettings):
    """Every option of a zhengwu platform node."""

    model_config = SettingsConfigDict(
        env_prefix="ZHENGWU_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    mode: Mode = Field(
        "development",
        description="development (default secrets allowed, demo helpers on), test, or production.",
    )
    data_dir: Path = Field(
        Path("var"),
        description="Directory for the embedded database, uploaded files, archives and keys.",
    )
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL. Empty: an embedded SQLite file <data_dir>/zhengwu.db (WAL mode). "
            "Production: postgresql+psycopg://user@host:5432/zhengwu."
        ),
    )
    secret_key: SecretStr = Field(
        SecretStr(DEV_SECRET_KEY),
        description="Key for keyed hashes (tokens, sessions, pseudonyms). At least 32 characters.",
    )
    host: str = Field("127.0.0.1", description="Address the web server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port the web server listens on.")
    base_url: str | None = Field(None, description="Public URL of this node; default http://host:port.")
    zone: Zone = Field("extranet", description="Network zone of this node: intranet or extranet.")
    node_level: NodeLevel = Field("provincial", description="Level of this platform node in the cascade.")
    node_region_code: str = Field("990000", description="GB/T 2260 code of the region this node serves.")
    platform_name: str = Field("政务信息资源共享平台", description="Name shown on every page.")
    instance: str = Field("CN-DEV", description="X-Road style instance identifier of this exchange.")
    session_max_age_seconds: int = Field(8 * 3600, ge=60, description="Web session lifetime.")
    session_cookie_secure: bool = Field(
        False, description="Mark the session cookie Secure (set True behind HTTPS)."
    )
    token_default_days: int = Field(90, ge=1, le=3650, description="Default lifetime of new API tokens.")
    password_min_length: int = Field(10, ge=8, description="Minimum length of a password.")
    login_max_failures: int = Field(5, ge=1, description="Failed sign-ins before an account is locked.")
    login_lock_minutes: int = Field(15, ge=1, description="How long a locked account stays locked.")
    share_request_deadline_working_days: int = Field(
        10, ge=1, description="Working days a provider has to answer a share request (国发〔2016〕51号)."
    )
    correction_deadline_working_days: int = Field(
        10,
        ge=1,
        le=365,
        description="Working days to answer a data correction request (校核).",
    )
    log_level: str = Field("INFO", description="Python logging level.")
    opendata_harvest_scheduler: bool = Field(
        False,
        description="Run due harvest sources from a thread inside `zhengwu serve` (off: use "
        "`zhengwu opendata harvest run --due` from cron or a systemd timer).",
    )
    opendata_harvest_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="Timeout of each HTTP request a harvest job makes to a remote portal."
    )
    gateway_tls_certfile: Path | None = Field(
        None,
        description="PEM certificate (chain) of the exchange gateway; set, `zhengwu gateway` serves HTTPS.",
    )
    gateway_tls_keyfile: Path | None = Field(
        None, description="PEM private key of gateway_tls_certfile (if not in the same file)."
    )
    gateway_tls_client_ca: Path | None = Field(
        None,
        description="PEM bundle of CAs (or pinned self-signed certificates) that calling systems' client "
        "certificates must chain to; set, the gateway accepts mutual TLS (see docs/exchange-xroad.md).",
    )
    registries_token_ttl_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="Seconds the registries' lookup/verification path reuses a token check "
        "(a revoked token is refused there at most this long after revocation).",
    )
    registries_access_log_durable: bool = Field(
        True,
        description="Answer a registry lookup/verification only once its access record is flushed to "
        "disk (one flush per group commit); off: once committed, flushed by PostgreSQL within ≈ 0.6 s "
        "(faster; a database crash can lose the last records, see registries/hotstore.py).",
    )
    search_warm_on_start: bool = Field(
        True,
        description="Load the catalog's and the open data portal's in-memory search indexes in the "
        "background when the server starts, so the first search does not wait for them.",
    )
    opendata_usage_flush_seconds: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="Seconds between two writes of the open data portal's buffered usage counts.",
    )
    opendata_usage_flush_events: int = Field(
        1000, ge=1, description="Buffered usage events that trigger a write before the interval ends."
    )

    @field_validator("secret_key")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 32:
            raise ValueError("secret_key must be at least 32 characters")
        return value

    @field_validator("node_region_code")
    @classmethod
    def _region_six_digits(cls, value: str) -> str:
        if len(value) != 6 or not value.isdigit():
            raise ValueError("node_region_code must be 6 digits (GB/T 2260)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _config_file()
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @cached_property
    def effective_database_url(self) -> str:
        """The database URL in force: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'zhengwu.db').resolve()}"

    @property
    def effective_base_url(self) -> str:
        return self.base_url or f"http://{self.host}:{self.port}"

    @property
    def uses_default_secret(self) -> bool:
        return self.secret_key.get_secret_value() == DEV_SECRET_KEY

    def describe(self) -> list[dict[str, Any]]:
        """Every option with its value (secrets masked) and description, for `zhengwu config show`."""
        rows: list[dict[str, Any]] = []
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            shown: Any = "********" if isinstance(value, SecretStr) else value
            if isinstance(shown, Path):
                shown = str(shown)
            rows.append(
                {
                    "name": name,
                    "env": f"ZHENGWU_{name.upper()}",
                    "value": shown,
                    "description": info.description or "",
                }
            )
        return rows


def _config_file() -> Path | None:
    explicit = os.environ.get(_CONFIG_FILE_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigurationError(
                f"配置文件不存在：{path}",
                message_en=f"configuration file not found: {path}",
                field=_CONFIG_FILE_ENV,
            )
        return path
    default = Path("zhengwu.toml")
    return default if default.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Build the settings and refuse unsafe ones.

    Raises :class:`ConfigurationError` with the offending option named when a value is invalid, or
    when the development secret is used outside development mode.
    """
    try:
        settings = Settings(**overrides)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(
            f"配置项 {field} 无效：{first['msg']}",
            message_en=f"invalid configuration option {field}: {first['msg']}",
            field=field,
            code="config.invalid",
        ) from exc
    if settings.mode != "development" and settings.uses_default_secret:
        raise ConfigurationError(
            "非开发模式下不得使用默认密钥，请设置 ZHENGWU_SECRET_KEY",
            message_en="the default secret key is refused outside development mode; set ZHENGWU_SECRET_KEY",
            field="secret_key",
            code="config.default_secret",
        )
    return settings
