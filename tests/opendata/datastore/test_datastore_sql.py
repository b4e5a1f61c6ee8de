# ruff: noqa: S608 - these tests build SQL on purpose: it is the input under test.
"""datastore_search_sql: one read-only, time-limited SELECT over open tables, nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from opendata.datastore.datastore_helpers import PUBLIC, load_csv
from zhengwu.errors import ValidationError
from zhengwu.opendata.datastore import services
from zhengwu.opendata.datastore.models import DatastoreTable
from zhengwu.opendata.datastore.services import datastore_search_sql
from zhengwu.opendata.datastore.sqlguard import check_sql


def test_select_with_aggregates_and_ctes(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    result = datastore_search_sql(
        db,
        actor=PUBLIC,
        sql=f'SELECT "城市", COUNT(*) AS n, SUM("编号") AS s FROM "{rid}" '
        'GROUP BY "城市" ORDER BY n DESC, "城市"',
    )
    assert result["records"][0] == {"城市": "杭州", "n": 3, "s": 9}
    assert [f["id"] for f in result["fields"]] == ["城市", "n", "s"]
    assert result["fields"][1]["type"] == "int"
    joined = datastore_search_sql(
        db,
        actor=PUBLIC,
        sql=f'WITH hz AS (SELECT * FROM "{rid}" WHERE "城市" = \'杭州\') '
        f'SELECT a."姓名" FROM hz a JOIN "{rid}" b ON a."编号" = b."编号" '
        f'WHERE b."编号" IN (SELECT "编号" FROM "{rid}" WHERE "金额" > 10) ORDER BY a."姓名"',
    )
    assert [r["姓名"] for r in joined["records"]] == ["张三", "王五"]
    qualified = datastore_search_sql(
        db, actor=PUBLIC, sql=f'SELECT "{rid}"."姓名" FROM "{rid}" WHERE _id = 1'
    )
    assert qualified["records"] == [{"姓名": "张三"}]


def test_rows_are_capped_and_flagged(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    result = datastore_search_sql(db, actor=PUBLIC, sql=f'SELECT * FROM "{rid}"', rows_max=2)
    assert len(result["records"]) == 2
    assert result["records_truncated"] is True


REFUSED = [
    ('INSERT INTO "{rid}" (_id) VALUES (99)', "not_select"),
    ('UPDATE "{rid}" SET "姓名" = \'x\'', "not_select"),
    ('DELETE FROM "{rid}"', "not_select"),
    ('DROP TABLE "{rid}"', "not_select"),
    ('SELECT 1; DROP TABLE "{rid}"', "multiple"),
    ('SELECT * FROM "{rid}"; SELECT 1', "multiple"),
    ("SELECT * FROM pg_catalog.pg_class", "table"),
    ("SELECT * FROM pg_class", "table"),
    ("SELECT * FROM information_schema.tables", "table"),
    ("SELECT * FROM sqlite_master", "table"),
    ("SELECT pg_read_file('/etc/passwd')", "function"),
    ('SELECT * FROM "{rid}" WHERE pg_sleep(10) IS NULL', "function"),
    ("SELECT current_setting('data_directory')", "function"),
    ("SELECT lo_import('/etc/passwd')", "function"),
    ("SELECT load_extension('x')", "function"),
    ("SELECT * FROM datastore_tables", "table"),
    ("SELECT * FROM users", "table"),
    ("SELECT * FROM audit_events", "table"),
    ('SELECT * FROM "{table}"', "table"),
    ('SELECT * FROM "{closed}"', "table"),
    ('SELECT * INTO copied FROM "{rid}"', "forbidden"),
    ('SELECT * FROM "{rid}" FOR UPDATE', "forbidden"),
    ('WITH x AS (DELETE FROM "{rid}" RETURNING *) SELECT * FROM x', "forbidden"),
    ("SELECT 'datastore_tables'::regclass", "type"),
    ("SELECT * FROM (WITH u AS (SELECT 1 AS a) SELECT * FROM u) x, users", "table"),
    ("SELECT * FROM generate_series(1, 10)", "function"),
    ("", "empty"),
    ("SELEC * FROM", "syntax"),
]


@pytest.mark.parametrize(("sql", "code"), REFUSED)
def test_refusals(db: Session, tmp_path: Path, sql: str, code: str) -> None:
    rid = load_csv(db, tmp_path).resource_id
    closed = load_csv(db, tmp_path, is_open=False).resource_id
    table = db.scalar(select(DatastoreTable.table_name).where(DatastoreTable.resource_id == rid))
    with pytest.raises(ValidationError) as err:
        datastore_search_sql(db, actor=PUBLIC, sql=sql.format(rid=rid, closed=closed, table=table))
    assert err.value.field == "sql"
    assert err.value.code == f"datastore.sql.{code}", err.value.message_en
    assert datastore_search_sql(db, actor=PUBLIC, sql=f'SELECT COUNT(*) AS n FROM "{rid}"')["records"] == [
        {"n": 5}
    ]


def test_a_slow_query_is_killed_by_the_timeout(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    forever = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT COUNT(*) FROM r"
    with pytest.raises(ValidationError) as err:
        datastore_search_sql(db, actor=PUBLIC, sql=forever, timeout_ms=300)
    assert err.value.code == "datastore.sql.timeout"
    # The session is usable afterwards and the limits are gone.
    assert datastore_search_sql(db, actor=PUBLIC, sql=f'SELECT COUNT(*) AS n FROM "{rid}"')["records"] == [
        {"n": 5}
    ]


def test_database_errors_are_validation_errors(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    with pytest.raises(ValidationError) as err:
        datastore_search_sql(db, actor=PUBLIC, sql=f'SELECT no_such_column FROM "{rid}"')
    assert err.value.code == "datastore.sql.failed"


def test_the_database_fence_holds_even_without_the_parser(db: Session, tmp_path: Path) -> None:
    """Defence in depth: what the parser would refuse, the read-only transaction or authorizer refuses too."""
    rid = load_csv(db, tmp_path).resource_id
    table = db.scalar(select(DatastoreTable.table_name).where(DatastoreTable.resource_id == rid))
    savepoint = db.begin_nested()
    raw: Any = db.connection().connection.driver_connection
    try:
        with pytest.raises(ValidationError):
            if db.get_bind().dialect.name == "postgresql":
                services._run_pg(raw, f'DELETE FROM "{table}"', 1000, 10)
            else:
                services._run_sqlite(raw, "SELECT * FROM datastore_tables", {str(table)}, 1000, 10)
    finally:
        savepoint.rollback()
    assert datastore_search_sql(db, actor=PUBLIC, sql=f'SELECT COUNT(*) AS n FROM "{rid}"')["records"] == [
        {"n": 5}
    ]


def test_the_checked_tree_is_what_runs() -> None:
    checked = check_sql(
        'select "a" from "res-1" where "b" = \'x\'\' or 1=1 --\'',
        dialect="postgres",
        resolve=lambda rid: {"res-1": "ds_abc"}.get(rid),
    )
    assert checked.sql == 'SELECT "a" FROM "ds_abc" AS "res-1" WHERE "b" = \'x\'\' or 1=1 --\''
    assert checked.resource_ids == ["res-1"]
