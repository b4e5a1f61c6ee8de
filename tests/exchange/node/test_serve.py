"""``zhengwu node serve`` as a real process over a TOML file, and a trigger-fed change table for deletes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import text

from factories_node import TOKEN, Legacy, legacy_rows, node_config
from servers import free_port
from zhengwu.exchange.node.api import create_node_app


def test_serve_from_a_toml_file(legacy: Legacy, tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text(
        f'title = "户籍前置机"\nport = {free_port()}\n\n'
        '[[services]]\ncode = "persons"\ntable = "legacy_person"\ntitle = "户籍人口"\n'
        'columns = ["id", "name"]\n',
        encoding="utf-8",
    )
    port = int(config.read_text(encoding="utf-8").split("port = ")[1].split("\n")[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHENGWU_")}
    # Secrets come from the environment, not the file.
    env |= {"ZHENGWU_NODE_DATABASE_URL": legacy.url, "ZHENGWU_NODE_TOKENS": TOKEN}
    log = (tmp_path / "node.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "zhengwu", "node", "serve", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "node.log").read_text(encoding="utf-8")
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "node did not start"
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        rows = httpx.get(base + "/services/persons/rows", params={"id__lte": "3"}, headers=headers).json()
        assert [r["id"] for r in rows["items"]] == [1, 2, 3] and set(rows["items"][0]) == {"id", "name"}
        assert httpx.get(base + "/services/persons/rows").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


_TRIGGERS = {
    "postgresql": [
        "CREATE TABLE person_changes (seq SERIAL PRIMARY KEY, person_id INTEGER NOT NULL,"
        " op CHAR(1) NOT NULL)",
        "CREATE FUNCTION log_person_change() RETURNS trigger AS $$ BEGIN "
        "IF TG_OP = 'DELETE' THEN INSERT INTO person_changes (person_id, op) VALUES (OLD.id, 'D');"
        " RETURN OLD; "
        "END IF; INSERT INTO person_changes (person_id, op) VALUES (NEW.id, left(TG_OP, 1)); RETURN NEW; "
        "END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER person_changes_trg AFTER INSERT OR UPDATE OR DELETE ON legacy_person "
        "FOR EACH ROW EXECUTE FUNCTION log_person_change()",
    ],
    "mariadb": [
        "CREATE TABLE person_changes (seq INTEGER AUTO_INCREMENT PRIMARY KEY, person_id INTEGER NOT NULL, "
        "op CHAR(1) NOT NULL)",
        "CREATE TRIGGER person_changes_u AFTER UPDATE ON legacy_person FOR EACH ROW "
        "INSERT INTO person_changes (person_id, op) VALUES (NEW.id, 'U')",
        "CREATE TRIGGER person_changes_d AFTER DELETE ON legacy_person FOR EACH ROW "
        "INSERT INTO person_changes (person_id, op) VALUES (OLD.id, 'D')",
    ],
}
_UNDO = {
    "postgresql": [
        "DROP TRIGGER person_changes_trg ON legacy_person",
        "DROP FUNCTION log_person_change()",
        "DROP TABLE person_changes",
    ],
    "mariadb": [
        "DROP TRIGGER person_changes_u",
        "DROP TRIGGER person_changes_d",
        "DROP TABLE person_changes",
    ],
}


def test_a_trigger_fed_change_table_shows_deletes(legacy: Legacy) -> None:
    """The documented recipe for deletes: triggers fill a change table, published with its sequence."""
    with legacy.engine.begin() as conn:
        for statement in _TRIGGERS[legacy.backend]:
            conn.execute(text(statement))
    try:
        config = node_config(
            legacy,
            services=[
                {
                    "code": "changes",
                    "table": "person_changes",
                    "columns": ["seq", "person_id", "op"],
                    "change_column": "seq",
                }
            ],
        )
        app = create_node_app(config)
        with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as node:
            first = node.get("/services/changes/changes")
            assert first.status_code == 200, first.text
            start = first.json()
            assert start["items"] == []
            with legacy.engine.begin() as conn:
                conn.execute(text("UPDATE legacy_person SET note = NULL WHERE id = 2"))
                conn.execute(text("DELETE FROM legacy_person WHERE id = 5"))
            feed = node.get("/services/changes/changes", params={"since": start["next_since"]}).json()
            assert [(r["person_id"], r["op"]) for r in feed["items"]] == [(2, "U"), (5, "D")]
        app.state.engine.dispose()
    finally:
        with legacy.engine.begin() as conn:
            for statement in _UNDO[legacy.backend]:
                conn.execute(text(statement))
            conn.execute(text("DELETE FROM legacy_person WHERE id IN (2, 5)"))
            conn.execute(
                text(
                    "INSERT INTO legacy_person (id, name, note, amount, birth, updated_at, password_hash) "
                    "VALUES (:id, :name, :note, :amount, :birth, :updated_at, :password_hash)"
                ),
                [r for r in legacy_rows() if r["id"] in (2, 5)],
            )
