"""Factories of the front node tests: a department's legacy database on PostgreSQL and on MariaDB.

The legacy table mixes what real departmental systems hold: a GBK table on MariaDB, Chinese names,
full-width characters, NULLs, decimals, rows sharing one update time, a column and a table that must
never be published, and a view.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
from dataclasses import dataclass

from sqlalchemy import Engine, text

from zhengwu.exchange.node.schemas import NodeConfig, node_config_build

PG_ADMIN_URL = os.environ.get(
    "ZHENGWU_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
MARIADB_ADMIN_URL = os.environ.get("ZHENGWU_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
TOKEN = "node-token-for-tests-0123456789"
NAMES = ["张三", "李四", "王五", "赵六", "钱七", "孙八", "周九", "吴十", "郑十一", "冯十二"]
BASE_TIME = dt.datetime(2026, 11, 1, 8, 0, 0)


@dataclass
class Legacy:
    backend: str
    url: str
    engine: Engine  # read-write, the department's own application


def legacy_rows() -> list[dict[str, object]]:
    rows = []
    for i in range(1, 26):
        rows.append(
            {
                "id": i,
                "name": NAMES[i % len(NAMES)] + ("" if i <= 10 else f"{i}"),
                # Full-width digits and brackets, as typed on Chinese keyboards; every 4th is NULL.
                "note": None if i % 4 == 0 else f"（备注）第１２３号·{i}",
                "amount": decimal.Decimal(f"{i * 100}.{i:02d}"),
                "birth": dt.date(1980 + i, 1 + i % 12, 1 + i % 28),
                # Three rows share each update time, so the change feed must break ties by key.
                "updated_at": BASE_TIME + dt.timedelta(minutes=(i - 1) // 3),
                "password_hash": f"secret-{i}",
            }
        )
    return rows


_INSERT = (
    "INSERT INTO legacy_person (id, name, note, amount, birth, updated_at, password_hash) "
    "VALUES (:id, :name, :note, :amount, :birth, :updated_at, :password_hash)"
)


def fill_legacy(engine: Engine, backend: str) -> None:
    charset = " DEFAULT CHARSET=gbk" if backend == "mariadb" else ""
    timestamp = "DATETIME(6)" if backend == "mariadb" else "TIMESTAMP"
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE legacy_person ("
                " id INTEGER NOT NULL PRIMARY KEY,"
                " name VARCHAR(40) NOT NULL,"
                " note VARCHAR(100),"
                " amount DECIMAL(12, 2),"
                " birth DATE,"
                f" updated_at {timestamp},"
                f" password_hash VARCHAR(100)){charset}"
            )
        )
        conn.execute(text(f"CREATE TABLE secret_salary (id INTEGER PRIMARY KEY, salary INTEGER){charset}"))
        conn.execute(text("INSERT INTO secret_salary VALUES (1, 99999)"))
        conn.execute(text(_INSERT), legacy_rows())
        conn.execute(
            text(
                "CREATE VIEW v_person_born_after_1990 AS"
                " SELECT id, name, birth FROM legacy_person WHERE birth >= '1990-01-01'"
            )
        )


def node_config(legacy: Legacy, **overrides: object) -> NodeConfig:
    data: dict[str, object] = {
        "database_url": legacy.url,
        "tokens": [TOKEN],
        "max_limit": 50,
        "default_limit": 10,
        "services": [
            {
                "code": "persons",
                "table": "legacy_person",
                "title": "户籍人口",
                "columns": ["id", "name", "note", "amount", "birth", "updated_at"],
                "change_column": "updated_at",
            },
            {
                "code": "young",
                "table": "v_person_born_after_1990",
                "title": "1990 年后出生",
                "columns": ["id", "name", "birth"],
                "key": ["id"],
            },
        ],
    }
    data.update(overrides)
    return node_config_build(data, environ={})
