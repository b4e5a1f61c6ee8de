"""The front node's work: a read-only connection, the published schema, and safe queries over it.

Safety rests on three rules. (1) Only names from the configuration reach SQL: tables and columns are
reflected once at start-up and looked up in a dictionary; a caller's name that is not a key is refused
with 400 before anything is built. (2) Every value a caller sends becomes a bound parameter after being
converted to the column's Python type (so ``1 OR 1=1`` is simply not an integer). (3) The connection is
read-only where the backend allows it (PostgreSQL and MySQL/MariaDB ``READ ONLY`` sessions, SQLite
``query_only``), so even a mistake here cannot change the department's data.

The change feed orders rows by ``(change_column, key...)`` and its cursor is the last row's values, so
rows sharing one timestamp are neither lost nor repeated across pages. What it cannot see: deleted rows,
intermediate versions of a row changed twice between polls, rows whose change column is NULL, and rows
written by a transaction that commits *after* a later timestamp was already read (a long transaction
stamping ``now()`` at its start). Consumers that need deletes want a trigger-fed change table published
as its own service.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import unicodedata
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, MetaData, Table, and_, create_engine, event, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, NoSuchTableError, SQLAlchemyError

from zhengwu.errors import ConfigurationError, NotFound, UpstreamError, ValidationError
from zhengwu.exchange.node.schemas import ChangePage, NodeConfig, Page, PublishedTable

#: Query parameters with a meaning of their own; a column of that name is filtered as ``name__eq``.
RESERVED = frozenset({"limit", "offset", "after", "since", "fields"})
OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "isnull", "startswith")
MAX_FILTERS = 20
MAX_VALUE_LENGTH = 1000
MAX_IN_VALUES = 100


def _bad(message: str, message_en: str, code: str, field: str | None = None) -> ValidationError:
    return ValidationError(message, message_en=message_en, code=f"node.{code}", field=field)


# --- the connection -------------------------------------------------------------------------------


def _read_only_hook(backend: str, timeout_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if backend == "sqlite":
            dbapi_connection.execute("PRAGMA query_only = ON")
            return
        cursor = dbapi_connection.cursor()
        try:
            if backend == "postgresql":
                cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                cursor.execute(f"SET statement_timeout = {int(timeout_ms)}")
                cursor.execute("SHOW server_version_num")
                if int(cursor.fetchone()[0]) >= 120000:
                    # The driver prepares a statement after a few runs, and PostgreSQL then may pick a
                    # generic plan that ignores the actual filter and LIMIT values (measured: a sort
                    # over the whole table instead of an index walk, 4x slower). Plan every query
                    # for its own values: planning is cheap next to a wrong plan.
                    cursor.execute("SET plan_cache_mode = force_custom_plan")
            elif backend in ("mysql", "mariadb"):
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
                try:  # MariaDB names it in seconds; MySQL 5.7+ in milliseconds for SELECT
                    cursor.execute(f"SET SESSION max_statement_time = {timeout_ms / 1000:.3f}")
                except Exception:  # the other server's variable is tried next
                    cursor.execute(f"SET SESSION max_execution_time = {int(timeout_ms)}")
        finally:
            cursor.close()
        if backend == "postgresql":
            dbapi_connection.commit()

    return on_connect


def node_engine(config: NodeConfig) -> Engine:
    """An engine on the department's database whose every session is read-only where possible."""
    url = make_url(config.database_url.get_secret_value())
    backend = url.get_backend_name()
    # No pre-ping (a round trip per request); connections are recycled instead, and one broken by a
    # database restart fails a single request (502) and is discarded by the pool.
    kwargs: dict[str, Any] = {"pool_recycle": 1800}
    if backend == "sqlite":
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        kwargs.update(pool_size=config.pool_size, max_overflow=config.pool_size)
    if backend in ("mysql", "mariadb") and "charset" not in url.query:
        # The legacy server's default may be latin1 or gbk; ask for utf8mb4 so Chinese arrives intact.
        url = url.update_query_dict({"charset": "utf8mb4"})
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _read_only_hook(backend, config.statement_timeout_ms))
    return engine


# --- the published schema -------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedService:
    """A published table or view, reflected: its table object restricted to the published columns."""

    spec: PublishedTable
    table: Table
    columns: Mapping[str, Any]
    key: tuple[str, ...]
    python_types: Mapping[str, type | None]

    @property
    def code(self) -> str:
        return self.spec.code


def _python_type(column: Any) -> type | None:
    try:
        return column.type.python_type  # type: ignore[no-any-return]
    except NotImplementedError:
        return None


def _missing(spec: PublishedTable, names: Sequence[str], what: str) -> ConfigurationError:
    return ConfigurationError(
        f"服务 {spec.code}：表 {spec.table} 没有{what} {', '.join(names)}",
        message_en=f"service {spec.code}: table {spec.table} has no {what} {', '.join(names)}",
        code="node.config.no_column",
        field=spec.code,
    )


def published_reflect(engine: Engine, config: NodeConfig) -> dict[str, PublishedService]:
    """Reflect every published table or view and check the configuration against it."""
    out: dict[str, PublishedService] = {}
    for spec in config.services:
        metadata = MetaData()
        try:
            table = Table(spec.table, metadata, schema=spec.db_schema, autoload_with=engine)
        except NoSuchTableError:
            raise ConfigurationError(
                f"服务 {spec.code}：数据库中没有表或视图 {spec.table}",
                message_en=f"service {spec.code}: no table or view {spec.table}",
                code="node.config.no_table",
                field=spec.code,
            ) from None
        except SQLAlchemyError as exc:
            raise ConfigurationError(
                f"无法连接部门数据库：{type(exc).__name__}",
                message_en=f"cannot reach the department database: {exc}",
                code="node.database.unreachable",
            ) from None
        unknown = [c for c in spec.columns if c not in table.c]
        if unknown:
            raise _missing(spec, unknown, "列")
        key = tuple(spec.key) or tuple(c.name for c in table.primary_key.columns)
        if not key:
            raise ConfigurationError(
                f"服务 {spec.code}：{spec.table} 没有主键（视图须配置 key）",
                message_en=f"service {spec.code}: {spec.table} has no primary key; configure key",
                code="node.config.no_key",
                field=spec.code,
            )
        # Key and change column travel inside cursors, so they must be published columns themselves.
        hidden = [
            c for c in (*key, *([spec.change_column] if spec.change_column else [])) if c not in spec.columns
        ]
        if hidden:
            raise _missing(spec, hidden, "已发布的键或变更列")
        columns = {name: table.c[name] for name in spec.columns}
        out[spec.code] = PublishedService(
            spec=spec,
            table=table,
            columns=columns,
            key=key,
            python_types={name: _python_type(col) for name, col in columns.items()},
        )
    return out


# --- values in and out ----------------------------------------------------------------------------


def _convert(service: PublishedService, name: str, raw: str) -> Any:
    """A caller's text as a value of the column's type, or a 400 naming the column."""
    if len(raw) > MAX_VALUE_LENGTH:
        raise _bad(f"参数 {name} 过长", f"value of {name} is too long", "filter.too_long", name)
    kind = service.python_types[name]
    # Full-width digits, signs and colons (１２３、－、：) are common in hand-typed Chinese input.
    text = unicodedata.normalize("NFKC", raw).strip() if kind is not str else raw
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return lowered in ("true", "1")
        if kind is int:
            number = int(text, 10)
            if not -(2**63) <= number < 2**63:
                raise ValueError(text)
            return number
        if kind is float:
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(text)
            return value
        if kind is decimal.Decimal:
            dec = decimal.Decimal(text)
            if not dec.is_finite() or not _fits(service.columns[name], dec):
                raise ValueError(text)
            return dec
        if kind is dt.datetime:
            return dt.datetime.fromisoformat(text)
        if kind is dt.date:
            return dt.date.fromisoformat(text)
        if kind is dt.time:
            return dt.time.fromisoformat(text)
        if kind is str:
            return raw
        if kind is uuid.UUID:
            return uuid.UUID(text)
    except (ValueError, ArithmeticError):
        raise _bad(
            f"参数 {name} 的值“{raw[:50]}”不符合该列的类型",
            f"value {raw[:50]!r} does not fit the type of column {name}",
            "filter.bad_value",
            name,
        ) from None
    raise _bad(f"列 {name} 不能用于筛选", f"column {name} cannot be filtered", "filter.unsupported", name)


def _fits(column: Any, value: decimal.Decimal) -> bool:
    """A decimal the column's type can hold (a larger one would make the database raise)."""
    precision = getattr(column.type, "precision", None)
    scale = getattr(column.type, "scale", None) or 0
    if isinstance(precision, int):
        return abs(value) < decimal.Decimal(10) ** (precision - scale)
    return value.adjusted() < 1000


def json_value(value: Any) -> Any:
    """A database value as JSON: decimals as text (no precision lost), times ISO 8601, bytes base64."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


_PLAIN = (bool, int, float, str)


def _items(
    service: PublishedService, rows: Sequence[Any], names: Sequence[str], selected: Sequence[str]
) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts; columns whose values are already JSON skip the per-value conversion."""
    position = {n: i for i, n in enumerate(selected)}
    plain = [(n, position[n]) for n in names if service.python_types[n] in _PLAIN]
    other = [(n, position[n]) for n in names if service.python_types[n] not in _PLAIN]
    out = []
    for row in rows:
        item = {n: row[i] for n, i in plain}
        for n, i in other:
            item[n] = json_value(row[i])
        out.append(item)
    return out


def _encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([json_value(v) for v in values], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_cursor(service: PublishedService, cursor: str, names: Sequence[str], param: str) -> list[Any]:
    bad = _bad(f"参数 {param} 不是有效的游标", f"{param} is not a valid cursor", "cursor.invalid", param)
    if len(cursor) > 4 * MAX_VALUE_LENGTH:
        raise bad
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(values, list) or len(values) != len(names):
        raise bad
    if any(v is None or isinstance(v, list | dict) for v in values):
        raise bad
    return [
        v
        if isinstance(v, bool | int | float) and service.python_types[n] is not str
        else _convert(service, n, str(v))
        for n, v in zip(names, values, strict=True)
    ]


def _after(columns: Sequence[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """Row-value comparison ``(c1, c2, ...) > (v1, v2, ...)`` spelled out so every backend runs it."""
    ors = []
    for i, column in enumerate(columns):
        equal = [columns[j] == values[j] for j in range(i)]
        ors.append(and_(*equal, column > values[i]))
    return or_(*ors)


# --- the queries ----------------------------------------------------------------------------------


def _filters(service: PublishedService, params: Sequence[tuple[str, str]]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    for name, raw in params:
        if name in RESERVED:
            continue
        column_name, op = name, "eq"
        if "__" in name:
            head, _, tail = name.rpartition("__")
            if tail in OPERATORS:
                column_name, op = head, tail
        if column_name not in service.columns:
            raise _bad(
                f"没有可筛选的列 {column_name}",
                f"unknown or unpublished column {column_name!r}",
                "filter.unknown_column",
                column_name,
            )
        if len(clauses) >= MAX_FILTERS:
            raise _bad(f"筛选条件最多 {MAX_FILTERS} 个", f"at most {MAX_FILTERS} filters", "filter.too_many")
        column = service.columns[column_name]
        if op == "isnull":
            flag = raw.strip().lower()
            if flag not in ("true", "false", "1", "0"):
                raise _bad(
                    "isnull 的值应为 true 或 false", "isnull takes true or false", "filter.bad_value", name
                )
            clauses.append(column.is_(None) if flag in ("true", "1") else column.is_not(None))
        elif op == "in":
            items = raw.split(",")
            if len(items) > MAX_IN_VALUES:
                raise _bad(
                    f"in 最多 {MAX_IN_VALUES} 个值",
                    f"in takes at most {MAX_IN_VALUES} values",
                    "filter.too_many",
                    name,
                )
            clauses.append(column.in_([_convert(service, column_name, v) for v in items]))
        elif op == "startswith":
            if service.python_types[column_name] is not str:
                raise _bad(
                    "startswith 只用于文本列",
                    "startswith works on text columns only",
                    "filter.unsupported",
                    name,
                )
            clauses.append(column.startswith(_convert(service, column_name, raw), autoescape=True))
        else:
            value = _convert(service, column_name, raw)
            clauses.append(
                {
                    "eq": column == value,
                    "ne": column != value,
                    "lt": column < value,
                    "lte": column <= value,
                    "gt": column > value,
                    "gte": column >= value,
                }[op]
            )
    return clauses


def _fields(service: PublishedService, fields: str | None) -> list[str]:
    if not fields:
        return list(service.columns)
    names = [f.strip() for f in fields.split(",") if f.strip()]
    unknown = [n for n in names if n not in service.columns]
    if unknown or not names:
        raise _bad(
            f"fields 含有未发布的列 {', '.join(unknown)}",
            f"fields names unknown or unpublished columns {unknown}",
            "fields.unknown_column",
            "fields",
        )
    return list(dict.fromkeys(names))


def _limit(config: NodeConfig, service: PublishedService, raw: str | None) -> int:
    cap = min(config.max_limit, service.spec.max_limit or config.max_limit)
    if raw is None:
        return min(config.default_limit, cap)
    try:
        value = int(unicodedata.normalize("NFKC", raw), 10)
    except ValueError:
        value = -1
    if not 1 <= value <= cap:
        raise _bad(
            f"limit 应为 1 到 {cap} 的整数", f"limit must be an integer 1..{cap}", "page.bad_limit", "limit"
        )
    return value


def _offset(raw: str | None) -> int:
    if raw is None:
        return 0
    try:
        value = int(unicodedata.normalize("NFKC", raw), 10)
    except ValueError:
        value = -1
    if not 0 <= value <= 10_000_000:
        raise _bad(
            "offset 应为非负整数", "offset must be a non-negative integer", "page.bad_offset", "offset"
        )
    return value


def published_service(services: Mapping[str, PublishedService], code: str) -> PublishedService:
    """The published service ``code``, or 404 (an unpublished table is indistinguishable from none)."""
    service = services.get(code)
    if service is None:
        raise NotFound(
            "前置机没有发布该服务", message_en=f"no published service {code!r}", code="node.not_found"
        )
    return service


def _single(params: Sequence[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in params if k == name]
    if len(values) > 1:
        raise _bad(f"参数 {name} 只能给一次", f"{name} given more than once", "param.repeated", name)
    return values[0] if values else None


def _execute(engine: Engine, query: Any) -> list[Any]:
    try:
        with engine.connect() as conn:
            return list(conn.execute(query).all())
    except DataError:
        # A value the checks above let through but the column cannot hold (e.g. text longer than a
        # CHAR column on a strict server): the caller's input, not the database, is at fault.
        raise _bad("参数值超出列的取值范围", "a value does not fit its column", "filter.bad_value") from None
    except SQLAlchemyError as exc:
        # The department's database is this node's upstream: report it as such, hide the details.
        raise UpstreamError(
            "部门数据库暂时无法查询",
            message_en=f"department database error: {type(exc).__name__}",
            code="node.database.error",
        ) from None


def rows_list(
    engine: Engine, config: NodeConfig, service: PublishedService, params: Sequence[tuple[str, str]]
) -> Page:
    """A page of rows: filters, ``fields``, ``limit`` and ``offset`` or the keyset cursor ``after``.

    Rows come in key order, so pages are stable; ``after`` (the previous page's ``next_after``) is the
    cheap way down a large table, ``offset`` the simple one.
    """
    if _single(params, "since") is not None:
        raise _bad("since 只用于 /changes", "since belongs to /changes", "param.misplaced", "since")
    limit = _limit(config, service, _single(params, "limit"))
    offset = _offset(_single(params, "offset"))
    after = _single(params, "after") or None  # empty: from the start
    names = _fields(service, _single(params, "fields"))
    selected = list(dict.fromkeys([*names, *service.key]))
    key_columns = [service.columns[k] for k in service.key]
    query = select(*[service.columns[n] for n in selected]).where(*_filters(service, params))
    if after is not None:
        query = query.where(_after(key_columns, _decode_cursor(service, after, service.key, "after")))
    query = query.order_by(*key_columns).limit(limit + 1).offset(offset)
    rows = _execute(engine, query)
    more = len(rows) > limit
    rows = rows[:limit]
    items = _items(service, rows, names, selected)
    next_after = _encode_cursor([getattr(rows[-1], k) for k in service.key]) if more and rows else None
    # Built without validation: every value was converted above, and pydantic re-checking each cell of
    # each row costs more than the query on a small page.
    return Page.model_construct(items=items, limit=limit, offset=offset, next_after=next_after)


def changes_list(
    engine: Engine, config: NodeConfig, service: PublishedService, params: Sequence[tuple[str, str]]
) -> ChangePage:
    """Rows whose change column is past the cursor ``since``, oldest change first (see module doc)."""
    change = service.spec.change_column
    if change is None:
        raise NotFound(
            "该服务未配置变更列，不提供变更订阅",
            message_en=f"service {service.code} has no change feed",
            code="node.no_change_feed",
        )
    for name in ("after", "offset"):
        if _single(params, name) is not None:
            raise _bad(
                f"/changes 不接受 {name}，请用 since",
                f"/changes takes since, not {name}",
                "param.misplaced",
                name,
            )
    limit = _limit(config, service, _single(params, "limit"))
    since = _single(params, "since") or None  # empty: from the start
    names = _fields(service, _single(params, "fields"))
    order = [change, *[k for k in service.key if k != change]]
    order_columns = [service.columns[n] for n in order]
    selected = list(dict.fromkeys([*names, *order]))
    query = select(*[service.columns[n] for n in selected]).where(
        service.columns[change].is_not(None), *_filters(service, params)
    )
    if since is not None:
        query = query.where(_after(order_columns, _decode_cursor(service, since, order, "since")))
    rows = _execute(engine, query.order_by(*order_columns).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    items = _items(service, rows, names, selected)
    next_since = _encode_cursor([getattr(rows[-1], n) for n in order]) if rows else since
    return ChangePage.model_construct(items=items, next_since=next_since, has_more=more)
