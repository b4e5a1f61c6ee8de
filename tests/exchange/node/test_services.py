"""Front node configuration and reflection: what may be published, and a connection that cannot write."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from factories_node import TOKEN, Legacy, node_config
from zhengwu.errors import ConfigurationError
from zhengwu.exchange.node.schemas import node_config_build, node_config_load
from zhengwu.exchange.node.services import node_engine, published_reflect


def _service(**fields: object) -> dict[str, object]:
    return {"code": "persons", "table": "legacy_person", "columns": ["id", "name"], **fields}


@pytest.mark.parametrize(
    ("service", "code"),
    [
        (_service(table="no_such_table"), "node.config.no_table"),
        (_service(columns=["id", "nickname"]), "node.config.no_column"),
        (_service(columns=["name"]), "node.config.no_column"),  # the key must be published
        (_service(change_column="updated_at"), "node.config.no_column"),  # so must the change column
        ({"code": "young", "table": "v_person_born_after_1990", "columns": ["id"]}, "node.config.no_key"),
    ],
)
def test_reflection_refuses_a_wrong_configuration(
    legacy: Legacy, service: dict[str, object], code: str
) -> None:
    config = node_config(legacy, services=[service])
    engine = node_engine(config)
    try:
        with pytest.raises(ConfigurationError) as caught:
            published_reflect(engine, config)
        assert caught.value.code == code
    finally:
        engine.dispose()


def test_the_node_connection_is_read_only(legacy: Legacy) -> None:
    engine = node_engine(node_config(legacy))
    try:
        with pytest.raises(DBAPIError), engine.begin() as conn:
            conn.execute(text("UPDATE legacy_person SET name = 'x' WHERE id = 1"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT name FROM legacy_person WHERE id = 1")).scalar() != "x"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"tokens": []}, "node.config.no_token"),
        ({"tokens": ["short"]}, "node.config.invalid"),
        ({"services": []}, "node.config.invalid"),
        ({"services": [_service(code="bad/code")]}, "node.config.invalid"),
        ({"services": [_service(), _service()]}, "node.config.invalid"),
        ({"services": [_service(columns=["id", "id"])]}, "node.config.invalid"),
        ({"services": [_service(surprise=1)]}, "node.config.invalid"),
    ],
)
def test_configuration_is_checked(data: dict[str, object], code: str) -> None:
    base: dict[str, object] = {"database_url": "sqlite://", "tokens": [TOKEN], "services": [_service()]}
    with pytest.raises(ConfigurationError) as caught:
        node_config_build({**base, **data}, environ={})
    assert caught.value.code == code


def test_configuration_file_with_bom_and_environment_overrides(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text(
        '\ufeffdatabase_url = "sqlite://"\ntitle = "户籍前置机"\n\n'
        '[[services]]\ncode = "persons"\ntable = "legacy_person"\ncolumns = ["id", "name"]\n',
        encoding="utf-8",
    )
    env = {"ZHENGWU_NODE_TOKENS": f"{TOKEN}, {TOKEN}-2", "ZHENGWU_NODE_DATABASE_URL": "sqlite:///x.db"}
    config = node_config_load(path, environ=env)
    assert config.title == "户籍前置机"
    assert config.token_values() == [TOKEN, f"{TOKEN}-2"]
    assert config.database_url.get_secret_value() == "sqlite:///x.db"
    assert "sqlite:///x.db" not in repr(config)
    path.write_text("database_url = [", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        node_config_load(path, environ={})
    assert caught.value.code == "node.config.unreadable"
