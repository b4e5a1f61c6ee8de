"""``datastore_search`` parameters, checked against the table's fields, and the query built from them.

Nothing the caller sends becomes SQL text: field names are looked up in the table's own field list
(unknown ones are refused with the parameter's name), values are bound parameters converted to the
field's type, sort directions are one of ``asc``/``desc``. The query is built with SQLAlchemy Core.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Select,
    and_,
    column,
    false,
    func,
    literal,
    or_,
    select,
    table,
)
from sqlalchemy.orm import Session

from zhengwu.errors import ValidationError
from zhengwu.opendata.datastore.inference import convert

ROWS_MAX: Final = 32_000
MAX_OFFSET: Final = 1_000_000_000
# Beyond this many matches the total is estimated by PostgreSQL's planner (CKAN does the same).
TOTAL_EXACT_LIMIT: Final = 10_000
ID_FIELD: Final = {"id": "_id", "type": "int"}


def invalid(param: str, message: str, message_en: str) -> ValidationError:
    return ValidationError(message, message_en=message_en, code=f"datastore.{param}", field=param)


def jsonable(value: Any) -> Any:
    """A database value as JSON: ISO dates, numbers for numerics, text for the rest."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < 10**15:
            return int(value)
        return float(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def db_value(value: Any, kind: str, backend: str) -> Any:
    """A converted value in the form the backend stores (SQLite keeps dates as ISO text)."""
    if backend == "sqlite" and value is not None:
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return float(value)
    return value


def _names(value: list[str] | str | None, param: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip().strip('"') for part in value.split(",") if part.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value]
    raise invalid(
        param, f"{param} 应为字段名列表或逗号分隔的字符串", f"{param} must be a list of field names"
    )


@dataclass
class SearchParams:
    """Checked parameters: every name is a field of the table, every value converted to its type."""

    selected: list[dict[str, str]]
    filters: list[tuple[str, list[Any]]] = field(default_factory=list)
    q: list[tuple[list[str], str]] = field(default_factory=list)
    sort: list[tuple[str, bool]] = field(default_factory=list)
    sort_text: str = ""
    limit: int = 100
    offset: int = 0
    distinct: bool = False
    backend: str = "postgresql"

    @classmethod
    def parse(
        cls,
        table_fields: list[dict[str, str]],
        *,
        filters: Any,
        q: Any,
        fields: Any,
        sort: Any,
        limit: Any,
        offset: Any,
        distinct: bool,
        backend: str,
    ) -> SearchParams:
        """Check every parameter; raise ValidationError naming the first bad one."""
        all_fields = [ID_FIELD, *table_fields]
        by_name = {f["id"]: f for f in all_fields}

        def known(name: str, param: str) -> dict[str, str]:
            if name not in by_name:
                raise invalid(param, f"字段“{name[:60]}”不存在", f"field '{name[:60]}' does not exist")
            return by_name[name]

        wanted = _names(fields, "fields")
        if wanted:
            selected = [known(n, "fields") for n in dict.fromkeys(wanted)]
        else:
            selected = list(table_fields) if distinct else all_fields
        params = cls(selected=selected, distinct=bool(distinct), backend=backend)
        params.limit = _int(limit, "limit", 0, None)
        params.limit = min(params.limit, ROWS_MAX)
        params.offset = _int(offset, "offset", 0, MAX_OFFSET)
        if filters is not None:
            if not isinstance(filters, dict):
                raise invalid(
                    "filters", "filters 应为对象 {字段: 值}", "filters must be an object {field: value}"
                )
            for name, raw in filters.items():
                spec = known(str(name), "filters")
                values = raw if isinstance(raw, list) else [raw]
                if not values:
                    raise invalid("filters", f"filters 中“{name}”的取值为空", f"empty value list for {name}")
                converted = []
                for v in values:
                    if (v is not None and not isinstance(v, str | int | float)) or isinstance(v, bool):
                        raise invalid("filters", f"filters 中“{name}”的取值无效", f"invalid value for {name}")
                    try:
                        value = convert(v if v is None or isinstance(v, str) else str(v), spec["type"])
                    except ValueError as exc:
                        raise invalid(
                            "filters",
                            f"filters 中“{name}”的取值无效：{exc}",
                            f"value for {name} does not fit {spec['type']}",
                        ) from exc
                    converted.append(db_value(value, spec["type"], backend))
                params.filters.append((spec["id"], converted))
        if isinstance(q, str):
            if q.strip():
                text_fields = [f["id"] for f in table_fields if f["type"] == "text"]
                params.q.append((text_fields, q.strip()))
        elif isinstance(q, dict):
            for name, text in q.items():
                spec = known(str(name), "q")
                if not isinstance(text, str):
                    raise invalid("q", "q 的取值应为文本", "q values must be strings")
                params.q.append(([spec["id"]], text))
        elif q is not None:
            raise invalid("q", "q 应为文本或 {字段: 文本}", "q must be a string or an object")
        items = sort.split(",") if isinstance(sort, str) else sort
        if items is not None and not (isinstance(items, list) and all(isinstance(i, str) for i in items)):
            raise invalid(
                "sort", "sort 应为 “字段 [asc|desc]” 的列表", "sort must be 'field [asc|desc]' items"
            )
        for item in items or []:
            name, desc = _sort_item(item)
            if not name:
                continue
            spec = known(name, "sort")
            if params.distinct and spec not in params.selected:
                raise invalid(
                    "sort", "distinct 查询只能按所选字段排序", "with distinct, sort by selected fields only"
                )
            params.sort.append((spec["id"], desc))
        params.sort_text = ", ".join(f'"{n}" {"desc" if d else "asc"}' for n, d in params.sort)
        return params


def _sort_item(item: str) -> tuple[str, bool]:
    text = item.strip()
    lowered = text.lower()
    desc = False
    for suffix, is_desc in ((" desc", True), (" asc", False)):
        if lowered.endswith(suffix):
            text, desc = text[: -len(suffix)].strip(), is_desc
            break
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        text = text[1:-1]
    return text, desc


def _int(value: Any, param: str, low: int, high: int | None) -> int:
    if isinstance(value, bool):
        raise invalid(param, f"{param} 应为整数", f"{param} must be an integer")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"{low}–{high}" if high is not None else f"≥{low}"
        raise invalid(param, f"{param} 应为 {bound} 的整数", f"{param} must be an integer {bound}")
    return value


@dataclass
class SearchQuery:
    """The built statements: the page of records, and the filtered rows for counting."""

    page: Select[Any]
    matches: Select[Any]
    has_conditions: bool


def build_search(table_name: str, params: SearchParams) -> SearchQuery:
    """SELECT of the page, with the filters, text search, sort and paging of ``params``."""
    cols: dict[str, ColumnClause[Any]] = {f["id"]: column(f["id"]) for f in [ID_FIELD, *params.selected]}
    for name, _ in params.filters:
        cols.setdefault(name, column(name))
    for names, _ in params.q:
        for name in names:
            cols.setdefault(name, column(name))
    for name, _ in params.sort:
        cols.setdefault(name, column(name))
    source = table(table_name, *cols.values())
    conditions: list[ColumnElement[bool]] = []
    for name, values in params.filters:
        col = source.c[name]
        non_null = [v for v in values if v is not None]
        parts: list[ColumnElement[bool]] = []
        if len(non_null) == 1:
            parts.append(col == non_null[0])
        elif non_null:
            parts.append(col.in_(non_null))
        if len(non_null) != len(values):
            parts.append(col.is_(None))
        conditions.append(or_(*parts) if len(parts) > 1 else parts[0])
    for names, text in params.q:
        if not names:
            conditions.append(false())
            continue
        conditions.append(or_(*(source.c[n].icontains(text, autoescape=True) for n in names)))
    selected = [source.c[f["id"]] for f in params.selected]
    page = select(*selected).select_from(source)
    if conditions:
        page = page.where(and_(*conditions))
    if params.distinct:
        page = page.distinct()
    order = [source.c[n].desc() if d else source.c[n].asc() for n, d in params.sort]
    if not order and not params.distinct:
        order = [source.c["_id"].asc()]  # stable pages
    page = page.order_by(*order).limit(params.limit).offset(params.offset)
    if params.distinct:
        matches = select(*selected).select_from(source).distinct()
    else:
        matches = select(literal(1)).select_from(source)
    if conditions:
        matches = matches.where(and_(*conditions))
    return SearchQuery(page, matches, bool(conditions))


# Planner estimates of big totals, by (statement, parameters): a datastore table is written once and
# analysed at load, so the estimate of one filter stays what it was; a page of a popular filter then
# needs no EXPLAIN round trip. Bounded: emptied when full.
_ESTIMATES: dict[tuple[str, tuple[Any, ...]], int] = {}
ESTIMATES_MAX: Final = 10_000


def run_search(
    db: Session, query: SearchQuery, params: SearchParams, *, include_total: bool, row_count: int
) -> tuple[list[dict[str, Any]], int | None, bool]:
    """Run the page query and, if asked, the total (exact up to TOTAL_EXACT_LIMIT, estimated above).

    The capped count rides in the page's statement as an uncorrelated scalar subquery (computed once):
    one round trip for a filtered page, where there were two. Only an empty page past the first
    needs the count on its own, and only a total above the cap asks the planner (EXPLAIN) for an
    estimate, remembered per filter.
    """
    names = [f["id"] for f in params.selected]
    counted = include_total and (query.has_conditions or params.distinct)
    page = query.page
    if counted:
        capped = select(func.count()).select_from(query.matches.limit(TOTAL_EXACT_LIMIT + 1).subquery())
        page = page.add_columns(capped.scalar_subquery().label("_total_capped"))
    rows = db.execute(page).all()
    records = [{n: jsonable(v) for n, v in zip(names, r, strict=False)} for r in rows]
    if not include_total:
        return records, None, False
    if not counted:
        return records, row_count, False
    if rows:
        total = int(rows[0][-1])
    elif params.offset == 0 and params.limit > 0:
        total = 0  # nothing matches
    else:
        total = int(db.scalar(capped) or 0)
    if total <= TOTAL_EXACT_LIMIT or params.backend != "postgresql":
        if total > TOTAL_EXACT_LIMIT:
            total = int(db.scalar(select(func.count()).select_from(query.matches.subquery())) or 0)
        return records, total, False
    compiled = query.matches.compile(dialect=db.get_bind().dialect)
    key = (str(compiled), tuple(sorted((k, repr(v)) for k, v in compiled.params.items())))
    estimate = _ESTIMATES.get(key)
    if estimate is None:
        plan = db.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + key[0], compiled.params).scalar()
        data = plan if isinstance(plan, list) else json.loads(str(plan))
        estimate = int(data[0]["Plan"]["Plan Rows"])
        if len(_ESTIMATES) >= ESTIMATES_MAX:
            _ESTIMATES.clear()
        _ESTIMATES[key] = estimate
    return records, max(estimate, total), True
