"""Configuration: environment, TOML file, validation, and refusal of default secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhengwu.config import DEV_SECRET_KEY, load_settings
from zhengwu.errors import ConfigurationError


def test_defaults_are_development_with_embedded_sqlite(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.mode == "development"
    assert settings.uses_default_secret
    assert settings.effective_database_url == f"sqlite:///{(tmp_path / 'var' / 'zhengwu.db').resolve()}"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZHENGWU_PORT", "9123")
    monkeypatch.setenv("ZHENGWU_DATABASE_URL", "postgresql+psycopg://u@h/db")
    settings = load_settings()
    assert settings.port == 9123
    assert settings.effective_database_url == "postgresql+psycopg://u@h/db"


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('port = 8100\nzone = "intranet"\nplatform_name = "测试平台"\n', encoding="utf-8")
    monkeypatch.setenv("ZHENGWU_CONFIG", str(config))
    monkeypatch.setenv("ZHENGWU_PORT", "8200")
    settings = load_settings()
    assert settings.zone == "intranet"
    assert settings.platform_name == "测试平台"
    assert settings.port == 8200


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZHENGWU_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "nope.toml" in info.value.message


@pytest.mark.parametrize("mode", ["production", "test"])
def test_default_secret_refused_outside_development(
    mode: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as info:
        load_settings(mode=mode)
    assert info.value.code == "config.default_secret"
    assert info.value.field == "secret_key"
    assert load_settings(mode=mode, secret_key="x" * 40).mode == mode


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("port", 0, "port"),
        ("secret_key", "short", "secret_key"),
        ("node_region_code", "12345", "node_region_code"),
        ("zone", "internet", "zone"),
        ("unknown_option", 1, "unknown_option"),
    ],
)
def test_invalid_values_name_the_option(
    option: str, value: object, field: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as info:
        load_settings(**{option: value})
    assert info.value.field == field
    assert field in info.value.message


def test_describe_documents_every_option_and_masks_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    rows = load_settings().describe()
    assert all(row["description"] for row in rows), [r["name"] for r in rows if not r["description"]]
    secret = next(r for r in rows if r["name"] == "secret_key")
    assert secret["value"] == "********"
    assert DEV_SECRET_KEY not in str(rows)
