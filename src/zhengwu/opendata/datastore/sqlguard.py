"""The gate of ``datastore_search_sql``: one SELECT over open datastore tables, nothing else.

The query is parsed with sqlglot and checked on its syntax tree, failing closed:

* exactly one statement, a SELECT (or UNION/INTERSECT/EXCEPT of SELECTs), with no INTO, no locking
  clause and no data-changing or schema-changing node anywhere (a PostgreSQL CTE may hold a DELETE);
* every table is a CTE visible in its scope or the ``resource_id`` of an open datastore table, never
  qualified by a schema (so ``pg_catalog``, ``information_schema`` and ``sqlite_master`` are out);
* every function is on a short allowlist of pure functions (no ``pg_read_file``, ``current_setting``,
  ``lo_import``, ``dblink``, ``load_extension`` ...); casts only to plain data types.

The checked tree, with resource ids replaced by physical table names, is what runs: the database
never sees the caller's text. The database adds its own fence (a read-only transaction and a
statement timeout on PostgreSQL; an authorizer and a deadline on SQLite), see ``services``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.scope import traverse_scope

from zhengwu.errors import ValidationError

MAX_SQL_LENGTH: Final = 20_000

ALLOWED_FUNCTIONS: Final = frozenset(
    {
        # aggregates
        "COUNT",
        "SUM",
        "AVG",
        "MIN",
        "MAX",
        "STDDEV",
        "STDDEV_POP",
        "STDDEV_SAMP",
        "VARIANCE",
        "VARIANCE_POP",
        "GROUP_CONCAT",
        "ARRAY_AGG",
        "COUNT_IF",
        "PERCENTILE_CONT",
        "PERCENTILE_DISC",
        "MEDIAN",
        "BOOL_AND",
        "BOOL_OR",
        "LOGICAL_AND",
        "LOGICAL_OR",
        # window functions
        "ROW_NUMBER",
        "RANK",
        "DENSE_RANK",
        "NTILE",
        "LAG",
        "LEAD",
        "FIRST_VALUE",
        "LAST_VALUE",
        "PERCENT_RANK",
        "CUME_DIST",
        # scalar
        "ABS",
        "CEIL",
        "FLOOR",
        "ROUND",
        "TRUNC",
        "SQRT",
        "POW",
        "POWER",
        "LN",
        "LOG",
        "EXP",
        "SIGN",
        "MOD",
        "GREATEST",
        "LEAST",
        "COALESCE",
        "NULLIF",
        "IF",
        "CASE",
        "CAST",
        "TRY_CAST",
        "LOWER",
        "UPPER",
        "LENGTH",
        "CHAR_LENGTH",
        "SUBSTRING",
        "SUBSTR",
        "TRIM",
        "LTRIM",
        "RTRIM",
        "REPLACE",
        "CONCAT",
        "CONCAT_WS",
        "LEFT",
        "RIGHT",
        "LPAD",
        "RPAD",
        "STR_POSITION",
        "POSITION",
        "REVERSE",
        "SPLIT_PART",
        "INITCAP",
        "STARTS_WITH",
        "EXTRACT",
        "DATE_TRUNC",
        "TIMESTAMP_TRUNC",
        "DATE_PART",
        "TO_CHAR",
        "TIME_TO_STR",
        "STR_TO_TIME",
        "STR_TO_DATE",
        "TS_OR_DS_TO_DATE",
        "DATE",
        "DATETIME",
        "STRFTIME",
        "DATE_ADD",
        "DATE_SUB",
        "DATE_DIFF",
        "TIMESTAMP_ADD",
        "TIMESTAMP_SUB",
        "TIMESTAMP_DIFF",
        "TO_DATE",
        "TO_NUMBER",
        "NUMERIC",
        "INTERVAL",
        "ANY",
        "IN",
        "BETWEEN",
        "LIKE",
        "ILIKE",
    }
)
ALLOWED_CAST_TYPES: Final = frozenset(
    {
        exp.DataType.Type.INT, exp.DataType.Type.BIGINT, exp.DataType.Type.SMALLINT,
        exp.DataType.Type.DECIMAL, exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT,
        exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR,
        exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPTZ,
        exp.DataType.Type.BOOLEAN, exp.DataType.Type.INTERVAL,
    }
)  # fmt: skip
_FORBIDDEN: Final = (
    exp.DML,
    exp.DDL,
    exp.Command,
    exp.Into,
    exp.Lock,
    exp.Set,
    exp.Pragma,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.Copy,
    exp.Use,
    exp.Placeholder,
    exp.Parameter,
)


@dataclass
class CheckedQuery:
    """A query that passed the gate: the SQL to run and the resources it reads."""

    sql: str
    resource_ids: list[str]
    cte_names: list[str]


def refuse(reason: str, reason_en: str, code: str) -> ValidationError:
    return ValidationError(reason, message_en=reason_en, code=f"datastore.sql.{code}", field="sql")


def check_sql(sql: str, *, dialect: str, resolve: Callable[[str], str | None]) -> CheckedQuery:
    """Check ``sql`` and rewrite its tables; ``resolve(resource_id)`` gives an open table's physical name.

    ``dialect`` is ``postgres`` or ``sqlite``. Raises :class:`ValidationError` (field ``sql``) naming
    what is not allowed.
    """
    if not sql or not sql.strip():
        raise refuse("sql 不能为空", "sql is required", "empty")
    if len(sql) > MAX_SQL_LENGTH:
        raise refuse(f"SQL 过长（上限 {MAX_SQL_LENGTH} 字符）", "sql too long", "too_long")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        raise refuse("SQL 语法错误，无法解析", f"cannot parse the SQL: {str(exc)[:200]}", "syntax") from exc
    if len(statements) != 1:
        raise refuse("只允许一条 SELECT 语句", "only a single SELECT statement is allowed", "multiple")
    tree = statements[0]
    if not isinstance(tree, exp.Select | exp.SetOperation):
        raise refuse("只允许 SELECT 查询", "only SELECT is allowed", "not_select")
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN):
            raise refuse(
                f"查询中不允许 {node.key.upper()}",
                f"{node.key.upper()} is not allowed in datastore_search_sql",
                "forbidden",
            )
        if isinstance(node, exp.Func):
            name = node.name.upper() if isinstance(node, exp.Anonymous) else node.sql_name().upper()
            if name not in ALLOWED_FUNCTIONS:
                raise refuse(f"不允许使用函数 {name}", f"function {name} is not allowed", "function")
        if isinstance(node, exp.DataType) and node.this not in ALLOWED_CAST_TYPES:
            raise refuse("不允许转换为该类型", f"type {node.sql()} is not allowed", "type")
        if isinstance(node, exp.Column) and (node.args.get("db") or node.args.get("catalog")):
            raise refuse("不允许引用其他模式中的列", "schema-qualified columns are not allowed", "table")
    resources = _rewrite_tables(tree, resolve)
    ctes = sorted({cte.alias for cte in tree.find_all(exp.CTE)})
    return CheckedQuery(tree.sql(dialect=dialect), resources, ctes)


def _rewrite_tables(tree: exp.Expression, resolve: Callable[[str], str | None]) -> list[str]:
    checked: set[int] = set()
    resources: list[str] = []
    try:
        scopes = traverse_scope(tree)
    except Exception as exc:  # sqlglot raises plain errors on trees it cannot scope; refuse those
        raise refuse("无法分析查询的表引用", f"cannot resolve the query's tables: {exc}", "scope") from exc
    for scope in scopes:
        for table in scope.tables:
            checked.add(id(table))
            if table.args.get("db") or table.args.get("catalog"):
                raise refuse(
                    f"不允许访问 {table.sql()}：只能查询开放的数据表",
                    f"{table.sql()} is not an open datastore table",
                    "table",
                )
            if table.name in scope.cte_sources or _recursive_self_reference(table):
                continue
            physical = resolve(table.name)
            if physical is None:
                raise refuse(
                    f"“{table.name}”不是开放的数据表，只能查询开放的数据表",
                    f"{table.name} is not an open datastore table",
                    "table",
                )
            name = table.name
            if name not in resources:
                resources.append(name)
            table.set("this", exp.to_identifier(physical, quoted=True))
            if not table.alias:
                # Keep the resource id usable as a qualifier: FROM "ds_x" AS "resource-id".
                table.set("alias", exp.TableAlias(this=exp.to_identifier(name, quoted=True)))
    if any(id(t) not in checked for t in tree.find_all(exp.Table)):
        raise refuse("查询中有无法识别的表引用", "the query has a table reference outside any scope", "table")
    return resources


def _recursive_self_reference(table: exp.Table) -> bool:
    node: Any = table.parent
    while node is not None:
        if isinstance(node, exp.CTE) and node.alias == table.name:
            with_ = node.parent
            return isinstance(with_, exp.With) and bool(with_.args.get("recursive"))
        node = node.parent
    return False
