# ruff: noqa: S608 - SQL is assembled from fixed fragments; every caller-supplied value is a bound parameter.
"""``package_search``: the inverted index of open datasets and the queries over it.

Mirrors the catalog's approach (``catalog/search``): jieba segmentation on write, a B-tree inverted
index clustered on (term, dataset) on both backends, no Solr. Text terms are jieba search-mode tokens,
and for titles, tags, topics and publishers also every character bigram and character, so any part of a
title is found. A Chinese query word matches when all its bigrams occur (title-like fields) or all its
jieba words occur (descriptions); an ASCII word of three or more characters matches as a prefix.

Facets and filters are terms as well (``tags=交通``, ``organization=t0001``, ``res_format=CSV``): a
``fq`` clause is one more set in the intersection, and a facet is counted over the matched datasets from
``opendata_search_facets`` (keyed by dataset), or, when nothing narrows the public set, straight from the
index's key ranges. Every value a caller sends reaches SQL as a bound parameter only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import TextClause, bindparam, delete, insert, select, text
from sqlalchemy.orm import Session

from zhengwu.catalog.search.tokens import MAX_QUERY_CHARS, is_cjk, normalize, runs, segmenter, text_terms
from zhengwu.db import UTCDateTime
from zhengwu.errors import ValidationError
from zhengwu.opendata.models import SearchDoc, SearchFacet, SearchTerm
from zhengwu.search.memory import touch_token

MAX_TERM = 80
# The one-row table whose random token every index write replaces (see ``search_memory``).
STATE_TABLE = "opendata_search_state"
PUBLIC_TERM = "__public"
PRIVATE_TERM = "__private"
# CKAN's facet fields; each is a facet term prefix ``<field>=``.
FACET_FIELDS = (
    "organization",
    "groups",
    "tags",
    "res_format",
    "license_id",
    "open_type",
    "update_frequency",
    "spatial",
)
# Fields a filter may name beyond the facets (exact terms, not counted).
FILTER_FIELDS = (*FACET_FIELDS, "name", "id", "capacity", "dataset_type", "type", "state")
RANGE_FIELDS = {"metadata_modified": "metadata_modified", "metadata_created": "metadata_created"}
SORT_FIELDS = {
    "metadata_modified": "metadata_modified",
    "metadata_created": "metadata_created",
    "name": "name",
    "title_string": "title_key",
    "title": "title_key",
    "id": "dataset_id",
}
MAX_ROWS = 1000


class SearchQueryError(ValidationError):
    """A ``q``, ``fq`` or ``sort`` the search cannot parse (CKAN's "Search Query Error", 409)."""

    default_code = "opendata.search_query"


# --- Indexing ----------------------------------------------------------------------------------------


@dataclass
class IndexEntry:
    """What the index stores of one dataset."""

    dataset_id: int
    name: str
    title: str
    package: dict[str, Any]
    metadata_created: dt.datetime
    metadata_modified: dt.datetime
    text_fields: list[str] = field(default_factory=list)  # indexed with bigrams (titles, tags, names)
    long_fields: list[str] = field(default_factory=list)  # indexed with jieba words only
    facets: dict[str, list[str]] = field(default_factory=dict)
    public: bool = True


def _clip(term: str) -> str:
    return term[:MAX_TERM]


def facet_term(name: str, value: str) -> str:
    """The index term of one facet value."""
    return _clip(f"{name}={value}")


def entry_terms(entry: IndexEntry) -> tuple[set[str], set[str]]:
    """(text and filter terms, facet terms) of one dataset."""
    terms: set[str] = set()
    for value in entry.text_fields:
        terms |= text_terms(value, grams=True, stop=False)
    for value in entry.long_fields:
        terms |= text_terms(value)
    facets = {facet_term(k, v) for k, values in entry.facets.items() for v in values if v}
    terms = {_clip(t) for t in terms if t}
    terms |= facets
    terms.add(facet_term("name", entry.name))
    terms.add(facet_term("id", str(entry.package.get("id", ""))))
    terms.add(PUBLIC_TERM if entry.public else PRIVATE_TERM)
    return terms, facets


def index_write(db: Session, entries: Iterable[IndexEntry]) -> int:
    """Replace the index rows of ``entries`` (delete then insert, in the caller's transaction)."""
    batch = list(entries)
    if not batch:
        return 0
    ids = [e.dataset_id for e in batch]
    index_remove(db, ids)
    docs: list[dict[str, Any]] = []
    term_rows: list[dict[str, Any]] = []
    facet_rows: list[dict[str, Any]] = []
    for e in batch:
        terms, facets = entry_terms(e)
        docs.append(
            {
                "dataset_id": e.dataset_id,
                "name": e.name,
                "title_key": normalize(e.title)[:300],
                "metadata_created": e.metadata_created,
                "metadata_modified": e.metadata_modified,
                "package_json": json.dumps(e.package, ensure_ascii=False, separators=(",", ":")),
            }
        )
        term_rows += [{"term": t, "dataset_id": e.dataset_id} for t in terms]
        facet_rows += [{"dataset_id": e.dataset_id, "term": t} for t in facets]
    db.execute(insert(SearchDoc), docs)
    db.execute(insert(SearchTerm), term_rows)
    if facet_rows:
        db.execute(insert(SearchFacet), facet_rows)
    touch_token(db, STATE_TABLE)
    return len(batch)


def index_remove(db: Session, dataset_ids: Sequence[int]) -> None:
    """Drop datasets from the index (deleted datasets are not searchable, as in CKAN)."""
    for chunk_start in range(0, len(dataset_ids), 500):
        chunk = list(dataset_ids[chunk_start : chunk_start + 500])
        db.execute(delete(SearchTerm).where(SearchTerm.dataset_id.in_(chunk)))
        db.execute(delete(SearchFacet).where(SearchFacet.dataset_id.in_(chunk)))
        db.execute(delete(SearchDoc).where(SearchDoc.dataset_id.in_(chunk)))
    touch_token(db, STATE_TABLE)


# --- Query parsing -----------------------------------------------------------------------------------

# One set of datasets in the plan: alternatives (OR) of conjunctions (AND) of term lookups.
# A lookup is ("eq", term) or ("prefix", term).
Lookup = tuple[str, str]
Conjunction = tuple[Lookup, ...]


@dataclass
class Clause:
    """One required (or, if ``negated``, excluded) set: any of its conjunctions."""

    alternatives: list[Conjunction]
    negated: bool = False


@dataclass
class RangeFilter:
    column: str
    low: dt.datetime | None
    high: dt.datetime | None
    negated: bool = False


@dataclass
class SearchPlan:
    """A parsed ``package_search``: what must match, what to count, how to order, which page."""

    clauses: list[Clause] = field(default_factory=list)
    ranges: list[RangeFilter] = field(default_factory=list)
    facet_fields: list[str] = field(default_factory=list)
    facet_limit: int = 50
    facet_mincount: int = 1
    order: list[tuple[str, bool]] = field(default_factory=list)  # (column or "score", descending)
    rows: int = 10
    start: int = 0
    title_needle: str = ""


_FIELD_RE = re.compile(
    r'\s*([+-]?)([A-Za-z_]+):(\[[^\]]*\]|"(?:[^"\\]|\\.)*"|\((?:[^()"]|"(?:[^"\\]|\\.)*")*\)|[^\s()]+)'
)
_WORD_RE = re.compile(r'\s*(AND|OR|&&|\|\||"(?:[^"\\]|\\.)*"|\S+)')


def _bad(message_en: str, field_name: str) -> SearchQueryError:
    return SearchQueryError(
        f"检索条件无法解析：{message_en}",
        message_en=f"Search Query is invalid: {message_en}",
        field=field_name,
    )


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return re.sub(r"\\(.)", r"\1", value)


def _parse_time(value: str, field_name: str) -> dt.datetime | None:
    value = value.strip()
    if value == "*":
        return None
    value = value.upper().replace("NOW", dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").split("/")[0])
    except ValueError:
        raise _bad(f"bad date {value!r}", field_name) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _field_clause(name: str, raw: str, negated: bool, field_name: str) -> Clause | RangeFilter:
    if name in RANGE_FIELDS:
        if not (raw.startswith("[") and raw.endswith("]") and " TO " in raw):
            raise _bad(f"{name} takes a range [from TO to]", field_name)
        low, high = raw[1:-1].split(" TO ", 1)
        return RangeFilter(
            RANGE_FIELDS[name], _parse_time(low, field_name), _parse_time(high, field_name), negated
        )
    if name not in FILTER_FIELDS:
        raise _bad(f"undefined field {name}", field_name)
    if raw.startswith("(") and raw.endswith(")"):
        values = [_unquote(v) for v in re.findall(r'"(?:[^"\\]|\\.)*"|[^\s()]+', raw[1:-1])]
        values = [v for v in values if v not in ("OR", "||")]
    else:
        values = [_unquote(raw)]
    alternatives: list[Conjunction] = []
    for value in values:
        if name == "capacity":
            alternatives.append((("eq", PUBLIC_TERM if value == "public" else PRIVATE_TERM),))
        elif name in ("dataset_type", "type", "state"):
            # Every indexed dataset is an active "dataset": other values match nothing.
            ok = value in ("dataset", "active", "*")
            alternatives.append((("eq", PUBLIC_TERM),) if ok else (("eq", "\x00none"),))
            if ok:
                alternatives.append((("eq", PRIVATE_TERM),))
        elif value == "*":
            alternatives.append((("prefix", f"{name}="),))
        else:
            alternatives.append((("eq", facet_term(name, value)),))
    return Clause(alternatives, negated)


def parse_fq(fq: str, field_name: str = "fq") -> tuple[list[Clause], list[RangeFilter]]:
    """Parse the Lucene subset harvesters send: ``a:x OR a:y -b:z c:[2024-01-01T00:00:00Z TO *]``.

    Adjacent clauses are ANDed; ``OR`` between two clauses of any fields joins them into one.
    """
    clauses: list[Clause] = []
    ranges: list[RangeFilter] = []
    pos, pending_or = 0, False
    fq = fq.strip()
    while pos < len(fq):
        rest = fq[pos:]
        stripped = rest.lstrip()
        if not stripped:
            break
        if stripped.startswith(("OR ", "|| ")):
            pending_or = True
            pos += len(rest) - len(stripped) + 3
            continue
        if stripped.startswith(("AND ", "&& ")):
            pos += len(rest) - len(stripped) + 4
            continue
        m = _FIELD_RE.match(rest)
        if not m:
            raise _bad(f"cannot parse {stripped[:40]!r}", field_name)
        sign, name, raw = m.groups()
        pos += m.end()
        parsed = _field_clause(name, raw, sign == "-", field_name)
        if isinstance(parsed, RangeFilter):
            ranges.append(parsed)
            pending_or = False
            continue
        if pending_or and clauses and not clauses[-1].negated and not parsed.negated:
            clauses[-1].alternatives.extend(parsed.alternatives)
        else:
            clauses.append(parsed)
        pending_or = False
    return clauses, ranges


def text_clauses(q: str) -> tuple[list[Clause], str]:
    """Clauses of free text: every word must match. Returns the clauses and the normalised query."""
    text_q = normalize(q)
    if len(text_q) > MAX_QUERY_CHARS:
        raise _bad("q is too long", "q")
    clauses: list[Clause] = []
    for run in dict.fromkeys(runs(text_q)):
        if is_cjk(run):
            if len(run) == 1:
                clauses.append(Clause([(("eq", run),)]))
                continue
            # Bigrams that tile the run (东川市公积金 → 东川 市公 积金, plus the last pair for an odd
            # length) rather than every overlapping pair: half the posting lists to read, and a title
            # holding the run still holds them all.
            cover = [run[i : i + 2] for i in range(0, len(run) - 1, 2)]
            if len(run) % 2:
                cover.append(run[-2:])
            grams = tuple(("eq", g) for g in dict.fromkeys(cover))
            # The run's dictionary words (jieba's precise cut): a text indexed in search mode holds each
            # whole word as a term, so its sub-words need not be looked up too.
            precise = dict.fromkeys(t for t in segmenter().cut(run) if len(t) > 1)
            words = tuple(("eq", _clip(t)) for t in precise) or grams
            alternatives = list(dict.fromkeys([grams, words]))
            clauses.append(Clause(alternatives))
        else:
            word = run.strip("_")[:MAX_TERM]
            if not word:
                continue
            lookup: Lookup = ("prefix", word) if len(word) >= 3 else ("eq", word)
            clauses.append(Clause([(lookup,)]))
    if len(clauses) > 12:
        raise _bad("too many words in q", "q")
    return clauses, text_q.replace(" ", "")


def split_q(q: str) -> tuple[str, str]:
    """Separate ``field:value`` parts of ``q`` (CKAN passes them to Solr as filters) from free text."""
    if q.strip() in ("", "*:*", "*"):
        return "", ""
    fielded: list[str] = []

    def grab(m: re.Match[str]) -> str:
        name = m.group(2)
        if name in FILTER_FIELDS or name in RANGE_FIELDS or name == "text":
            if name == "text":
                return " " + _unquote(m.group(3)) + " "
            fielded.append(m.group(0).strip())
            return " "
        return m.group(0)

    free = _FIELD_RE.sub(grab, q)
    return free, " ".join(fielded)


def parse_sort(sort: str) -> list[tuple[str, bool]]:
    """``sort`` as CKAN takes it: ``field [asc|desc], ...``; ``score`` ranks title matches first."""
    order: list[tuple[str, bool]] = []
    for part in sort.split(","):
        bits = part.split()
        if not bits:
            continue
        if len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
            raise _bad(f"bad sort {part.strip()!r}", "sort")
        name = bits[0]
        desc = len(bits) == 2 and bits[1].lower() == "desc"
        if name == "score":
            order.append(("score", desc))
        elif name in SORT_FIELDS:
            order.append((SORT_FIELDS[name], desc))
        else:
            raise _bad(f"cannot sort on {name}", "sort")
    return order or [("score", True), ("metadata_modified", True)]


# --- Query execution ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visibility:
    """Which datasets the caller may find: public ones, plus the private ones of ``org_terms``."""

    all_private: bool = False
    org_terms: tuple[str, ...] = ()


@dataclass
class SearchOutcome:
    """Raw result of a search: the total, the page of package dictionaries, facet counts per field."""

    count: int
    packages: list[dict[str, Any]]
    facets: dict[str, list[tuple[str, int]]]
    # Read with the page when organization or groups are counted (saves the facet titles a round trip):
    departments: list[tuple[int, str, str]] | None = None  # (id, code, name)
    groups: dict[str, str] | None = None  # group name → title


class _Params:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.stamps: list[str] = []

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        if isinstance(value, dt.datetime):
            # Bound as the column's type: SQLite compares the stored text, which must have the same form.
            self.stamps.append(name)
        return ":" + name

    def statement(self, sql: str) -> TextClause:
        return text(sql).bindparams(*(bindparam(n, type_=UTCDateTime) for n in self.stamps))


def prefix_upper(prefix: str) -> str:
    """The first string after every string that starts with ``prefix`` (a key range's end)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


_TERMS = "SELECT dataset_id FROM opendata_search_terms WHERE "


def _lookup_sql(lookup: Lookup, params: _Params) -> str:
    kind, term = lookup
    if kind == "eq":
        return _TERMS + f"term = {params.add(term)}"
    # DISTINCT: several terms of one dataset share a prefix, and a lone lookup is not deduplicated by
    # an INTERSECT or UNION (an administrator's ``q=tra`` counted a dataset once per matching term).
    distinct = _TERMS.replace("SELECT ", "SELECT DISTINCT ", 1)
    return distinct + f"term >= {params.add(term)} AND term < {params.add(prefix_upper(term))}"


def _set_sql(alternatives: list[Conjunction], params: _Params, alias: str) -> str:
    parts = []
    for i, conj in enumerate(alternatives):
        inner = " INTERSECT ".join(_lookup_sql(lk, params) for lk in conj)
        parts.append(f"SELECT dataset_id FROM ({inner}) {alias}a{i}")
    return " UNION ".join(parts)


def _visible_sql(vis: Visibility, params: _Params) -> str:
    if vis.all_private:
        return _set_sql([(("eq", PUBLIC_TERM),), (("eq", PRIVATE_TERM),)], params, "v")
    alternatives: list[Conjunction] = [(("eq", PUBLIC_TERM),)]
    alternatives += [(("eq", PRIVATE_TERM), ("eq", t)) for t in vis.org_terms]
    return _set_sql(alternatives, params, "v")


def _matched_sql(plan: SearchPlan, vis: Visibility, params: _Params) -> str:
    positive = [c for c in plan.clauses if not c.negated]
    negative = [c for c in plan.clauses if c.negated]
    if not positive:
        # Only filters that exclude (or none): start from everything the caller may see.
        sql = f"SELECT dataset_id FROM ({_visible_sql(vis, params)}) vis"
    else:
        # Start from what the query asks for and take out the private datasets the caller may not
        # see (usually few), rather than intersecting with the (large) set of public ones.
        parts = [
            f"SELECT dataset_id FROM ({_set_sql(c.alternatives, params, f'c{i}')}) c{i}"
            for i, c in enumerate(positive)
        ]
        sql = " INTERSECT ".join(parts)
        if not vis.all_private:
            hidden = _TERMS + f"term = {params.add(PRIVATE_TERM)}"
            for term in vis.org_terms:
                hidden += " EXCEPT " + _TERMS + f"term = {params.add(term)}"
            sql += f" EXCEPT SELECT dataset_id FROM ({hidden}) hid"
    for i, clause in enumerate(negative):
        sql += f" EXCEPT SELECT dataset_id FROM ({_set_sql(clause.alternatives, params, f'n{i}')}) n{i}"
    return sql


def _range_sql(plan: SearchPlan, params: _Params) -> str:
    conds: list[str] = []
    for r in plan.ranges:
        parts = []
        if r.low is not None:
            parts.append(f"d.{r.column} >= {params.add(r.low)}")
        if r.high is not None:
            parts.append(f"d.{r.column} <= {params.add(r.high)}")
        cond = " AND ".join(parts) or "1=1"
        conds.append(f"NOT ({cond})" if r.negated else f"({cond})")
    return "".join(f" AND {c}" for c in conds)


def _order_sql(plan: SearchPlan, params: _Params) -> str:
    parts: list[str] = []
    for column, desc in plan.order:
        if column == "score":
            if plan.title_needle:
                needle = re.sub(r"([\\%_])", r"\\\1", plan.title_needle)
                like = params.add("%" + needle + "%")
                hit = f"CASE WHEN d.title_key LIKE {like} ESCAPE '\\' THEN 1 ELSE 0 END"
                parts.append(hit + (" DESC" if desc else " ASC"))
            continue
        parts.append(f"d.{column}" + (" DESC" if desc else " ASC"))
    parts.append("d.dataset_id DESC")
    return ", ".join(parts)


def _facet_ranges(plan: SearchPlan, params: _Params, column: str) -> str:
    conds = []
    for name in plan.facet_fields:
        low = f"{name}="
        conds.append(f"({column} >= {params.add(low)} AND {column} < {params.add(prefix_upper(low))})")
    return " OR ".join(conds)


def split_facets(rows: Iterable[Any], plan: SearchPlan) -> dict[str, list[tuple[str, int]]]:
    """Facet counts ``(term, count)`` by field: at least ``facet_mincount``, most frequent first, then by
    value, at most ``facet_limit`` per field."""
    out: dict[str, list[tuple[str, int]]] = {name: [] for name in plan.facet_fields}
    for term, count in rows:
        name, _, value = str(term).partition("=")
        if name in out and count >= plan.facet_mincount:
            out[name].append((value, int(count)))
    for values in out.values():
        values.sort(key=lambda item: (-item[1], item[0]))
        if plan.facet_limit >= 0:
            del values[plan.facet_limit :]
    return out


def search_run_sql(db: Session, plan: SearchPlan, vis: Visibility) -> SearchOutcome:
    """Run a parsed search in SQL: two statements (count with facets, then the page).

    The reference for ``search_memory.search_run`` (which serves ``package_search``): both give the
    same results, as the randomised comparison in the tests checks on both backends.
    """
    narrowed = bool(plan.clauses or plan.ranges or vis.org_terms or vis.all_private)
    facets: dict[str, list[tuple[str, int]]] = {name: [] for name in plan.facet_fields}
    if (
        not narrowed
        and not db.execute(
            text("SELECT 1 FROM opendata_search_terms WHERE term = :t LIMIT 1"), {"t": PRIVATE_TERM}
        ).first()
    ):
        # Nothing narrows the public set and nothing is private: counts come from the index's key ranges.
        params = _Params()
        count = db.execute(
            text(f"SELECT count(*) FROM opendata_search_terms WHERE term = {params.add(PUBLIC_TERM)}"),
            params.values,
        ).scalar_one()
        if plan.facet_fields:
            params = _Params()
            where = _facet_ranges(plan, params, "term")
            rows = db.execute(
                text(f"SELECT term, count(*) FROM opendata_search_terms WHERE {where} GROUP BY term"),
                params.values,
            ).all()
            facets = split_facets(rows, plan)
        params = _Params()
        page_sql = (
            "SELECT d.package_json FROM opendata_search_docs d "
            f"ORDER BY {_order_sql(plan, params)} "
            f"LIMIT {params.add(plan.rows)} OFFSET {params.add(plan.start)}"
        )
    else:
        # One statement, one round trip: the matches are computed once (a materialised CTE) and feed
        # the count, the facet counts and the page.
        params = _Params()
        if plan.ranges:
            matched = (
                "SELECT d.dataset_id FROM opendata_search_docs d "
                f"WHERE d.dataset_id IN ({_matched_sql(plan, vis, params)}){_range_sql(plan, params)}"
            )
        else:
            # The postings alone decide: no probe of the documents for every match.
            matched = _matched_sql(plan, vis, params)
        page = (
            "SELECT d.dataset_id, d.name, d.title_key, d.metadata_created, d.metadata_modified "
            "FROM opendata_search_docs d JOIN m ON m.dataset_id = d.dataset_id "
            f"ORDER BY {_order_sql(plan, params)} "
            f"LIMIT {params.add(plan.rows)} OFFSET {params.add(plan.start)}"
        )
        sql = (
            f"WITH m AS MATERIALIZED ({matched}), p AS ({page}) "
            "SELECT 0 AS k, NULL AS t, count(*) AS n FROM m"
        )
        if plan.facet_fields:
            where = _facet_ranges(plan, params, "f.term")
            sql += (
                " UNION ALL SELECT 1, f.term, count(*) FROM opendata_search_facets f"
                f" JOIN m ON f.dataset_id = m.dataset_id WHERE {where} GROUP BY f.term"
            )
        sql += (
            f" UNION ALL SELECT 2, x.package_json, row_number() OVER (ORDER BY {_order_sql(plan, params)})"
            " FROM p d JOIN opendata_search_docs x ON x.dataset_id = d.dataset_id"
        )
        rows = db.execute(params.statement(sql), params.values).all()
        count = next((int(n) for k, _, n in rows if k == 0), 0)
        if plan.facet_fields:
            facets = split_facets([(t, n) for k, t, n in rows if k == 1], plan)
        ordered = sorted((int(n), t) for k, t, n in rows if k == 2)
        return SearchOutcome(count=count, packages=[json.loads(t) for _, t in ordered], facets=facets)
    packages = []
    if plan.rows > 0 and plan.start < count:
        packages = [json.loads(row[0]) for row in db.execute(text(page_sql), params.values)]
    return SearchOutcome(count=int(count), packages=packages, facets=facets)


def index_names(db: Session, *, limit: int, offset: int) -> list[str]:
    """Names of the public, active datasets in name order (``package_list``)."""
    stmt = (
        select(SearchDoc.name)
        .join(SearchTerm, (SearchTerm.dataset_id == SearchDoc.dataset_id) & (SearchTerm.term == PUBLIC_TERM))
        .order_by(SearchDoc.name)
        .limit(limit)
        .offset(offset)
    )
    return list(db.scalars(stmt))
