"""Catalog search: keeping the index of published resources, and querying it with facets and ranking.

Index (``indexing.py``). Only the snapshot *in force* of a published resource is indexed (the
``catalog_resource_versions`` row of ``published_version``), never the working copy, so a revision
being edited, a draft or a withdrawn entry cannot be found. The entry lifecycle calls
:func:`search_index_update` on publication and :func:`search_index_remove` on withdrawal;
:func:`search_index_rebuild` recreates everything.

Matching (``tokens.py``, ``query.py``). Index and query are segmented with jieba (search mode; names
also by character bigrams and single characters, and by pinyin initials). A query is an AND of words;
each word uses the first of its spellings whose terms all occur in the index. Both backends hold one
inverted index; matching starts from the rarest term's postings (``query.py``).

Ranking, best first: exact name (or resource code), name prefix, every word in the name, every word in
name/keywords/topic/provider/summary, then matches that need the data elements; within a rank shorter
names first, then the most recently published.

Facets count the hits of the current query *and* filters (as CKAN does), exactly, over the in-memory
copy of the index (``memory.py``) that the page of hits comes from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor, require_authenticated
from zhengwu.catalog.models import (
    Delivery,
    OpenType,
    ResourceCategory,
    ShareType,
    UpdateFrequency,
)
from zhengwu.catalog.schemas import ENUM_LABELS_ZH, RESOURCE_CODE_PATTERN
from zhengwu.catalog.search.indexing import delete_index, published_sources, rebuild_index, write_index
from zhengwu.catalog.search.memory import index_view
from zhengwu.catalog.search.query import Filters, PageDoc, Rows, search_rows
from zhengwu.catalog.search.schemas import (
    FACET_NAMES,
    FacetValue,
    MatchedElement,
    MatchKind,
    SearchHit,
    SearchResult,
)
from zhengwu.catalog.search.tokens import (
    ParsedQuery,
    highlight,
    normalize,
    parse_query,
)
from zhengwu.errors import ValidationError

MAX_PAGE_SIZE = 100
MAX_OFFSET = 10_000
_CODE_RE = re.compile(RESOURCE_CODE_PATTERN)
_MATCH_KINDS: tuple[MatchKind, ...] = ("exact", "prefix", "name", "text", "element")


# ---------------------------------------------------------------------------------------------------
# Keeping the index


def search_index_update(db: Session, *, resource_id: int) -> None:
    """(Re)index one resource as it now stands: its published version if it is published, else nothing.

    Called by the entry lifecycle on publication (first and revised); safe to call in any state.
    """
    delete_index(db, [resource_id])
    write_index(db, published_sources(db, [resource_id]))
    db.flush()


def search_index_remove(db: Session, *, resource_id: int) -> None:
    """Drop one resource from the index (withdrawal)."""
    delete_index(db, [resource_id])
    db.flush()


def search_index_rebuild(db: Session) -> int:
    """Recreate the whole index from the published versions; returns the number of resources indexed.

    One transaction, all or nothing. On PostgreSQL it locks the index tables until it commits (searches
    wait: about two minutes at 100,000 resources); run ``VACUUM ANALYZE catalog_search_terms`` after
    it (``zhengwu catalog reindex`` does) so that postings are read with index-only scans at once.
    """
    count = rebuild_index(db)
    db.flush()
    return count


# ---------------------------------------------------------------------------------------------------
# Querying


@dataclass(frozen=True)
class SearchFilters:
    """Facet filters; several values of one facet are alternatives (OR), facets combine with AND."""

    provider: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    topic: tuple[str, ...] = ()
    share_type: tuple[str, ...] = ()
    open_type: tuple[str, ...] = ()
    delivery: tuple[str, ...] = ()
    update_frequency: tuple[str, ...] = ()
    classification: str = ""
    selected: dict[str, tuple[str, ...]] = field(default_factory=dict)


_ENUMS: dict[str, type[Any]] = {
    "category": ResourceCategory,
    "share_type": ShareType,
    "open_type": OpenType,
    "delivery": Delivery,
    "update_frequency": UpdateFrequency,
}
_FILTER_LABELS_ZH = {
    "category": "目录类别",
    "share_type": "共享类型",
    "open_type": "开放属性",
    "delivery": "共享方式",
    "update_frequency": "更新周期",
}


def _clean_values(name: str, values: Iterable[str] | str | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for raw in values:
        value = (raw or "").strip()
        if not value:
            continue
        if len(value) > 64:
            raise ValidationError(
                "筛选条件过长", message_en=f"filter {name} too long", field=name, code="search.filter"
            )
        enum = _ENUMS.get(name)
        if enum is not None and value not in {m.value for m in enum}:
            allowed = "、".join(f"{m.value}（{ENUM_LABELS_ZH[enum][m.value]}）" for m in enum)
            raise ValidationError(
                f"{_FILTER_LABELS_ZH[name]}“{value}”无效，可选：{allowed}",
                message_en=f"invalid {name} {value!r}; one of " + ", ".join(m.value for m in enum),
                field=name,
                code="search.filter",
            )
        out.append(value)
    return tuple(dict.fromkeys(out))


def search_filters(
    *,
    provider: Iterable[str] | str | None = None,
    category: Iterable[str] | str | None = None,
    topic: Iterable[str] | str | None = None,
    share_type: Iterable[str] | str | None = None,
    open_type: Iterable[str] | str | None = None,
    delivery: Iterable[str] | str | None = None,
    update_frequency: Iterable[str] | str | None = None,
    classification: str | None = None,
) -> SearchFilters:
    """Validate filter values (enum values are checked; unknown providers or topics just match nothing)."""
    values = {
        "provider": _clean_values("provider", provider),
        "category": _clean_values("category", category),
        "topic": _clean_values("topic", topic),
        "share_type": _clean_values("share_type", share_type),
        "open_type": _clean_values("open_type", open_type),
        "delivery": _clean_values("delivery", delivery),
        "update_frequency": _clean_values("update_frequency", update_frequency),
    }
    cls = (classification or "").strip()
    if cls and not re.fullmatch(r"[0-9]+(-[0-9]+)*-?", cls):
        raise ValidationError(
            "资源分类应为“类-项-目-细目”的前缀，如 3-01",
            message_en="classification must be a prefix like 3-01",
            field="classification",
            code="search.filter",
        )
    return SearchFilters(**values, classification=cls, selected={k: v for k, v in values.items() if v})


def _check_paging(page: int, page_size: int) -> None:
    if page_size < 1 or page_size > MAX_PAGE_SIZE:
        raise ValidationError(
            f"每页条数应在 1 到 {MAX_PAGE_SIZE} 之间",
            message_en=f"page_size must be between 1 and {MAX_PAGE_SIZE}",
            field="page_size",
            code="search.paging",
        )
    if page < 1 or (page - 1) * page_size > MAX_OFFSET:
        raise ValidationError(
            f"页码应在 1 到 {MAX_OFFSET // page_size + 1} 之间，请缩小检索范围",
            message_en="page out of range; narrow the search",
            field="page",
            code="search.paging",
        )


def _parse(q: str) -> ParsedQuery:
    try:
        return parse_query(q)
    except ValueError as exc:
        raise ValidationError(
            f"检索词过长：最多 {100} 个字符、8 个词",
            message_en="query too long: at most 100 characters and 8 words",
            field="q",
            code="search.query_too_long",
        ) from exc


def search_warm(db: Session) -> int:
    """Load the catalog's in-memory search index (docs table and facet labels) for this process; the
    number of entries it holds. Nothing is returned to anyone, so no actor is checked."""
    return len(index_view(db).docs.ids)


def resource_search(
    db: Session,
    *,
    actor: Actor,
    q: str = "",
    filters: SearchFilters | None = None,
    page: int = 1,
    page_size: int = 20,
) -> SearchResult:
    """Search the published catalog: a page of hits, the total and facet counts.

    Any signed-in user may search (the index holds published entries only). ``q`` may be empty (browse,
    newest first). A query that is a resource code finds that resource.
    """
    require_authenticated(actor)
    filters = filters or SearchFilters()
    _check_paging(page, page_size)
    q = q or ""
    if len(q) > 1000:
        raise ValidationError(
            "检索词过长：最多 100 个字符",
            message_en="query too long",
            field="q",
            code="search.query_too_long",
        )
    code_query = q.strip() if _CODE_RE.match(q.strip()) else None
    parsed = _parse("" if code_query else q)
    rows = search_rows(
        db,
        parsed=parsed,
        filters=Filters(values=dict(filters.selected), classification=filters.classification),
        page=page,
        page_size=page_size,
        code_query=code_query,
    )
    return _assemble(
        rows, parsed=parsed, filters=filters, page=page, page_size=page_size, code_query=code_query
    )


def _label(name: str, value: str) -> str:
    enum = _ENUMS.get(name)
    return ENUM_LABELS_ZH.get(enum, {}).get(value, value) if enum is not None else value


def _assemble(
    rows: Rows,
    *,
    parsed: ParsedQuery,
    filters: SearchFilters,
    page: int,
    page_size: int,
    code_query: str | None,
) -> SearchResult:
    facets: dict[str, list[FacetValue]] = {name: [] for name in FACET_NAMES}
    for facet, values in rows.facets.items():
        facets[facet] = sorted(
            (
                FacetValue(
                    value=value,
                    label=str(label) if label else _label(facet, value),
                    count=n,
                    selected=value in filters.selected.get(facet, ()),
                )
                for value, (label, n) in values.items()
            ),
            key=lambda f: (-f.count, f.label),
        )
    hits, total = rows.hits, rows.total
    docs = rows.pages
    needles = list(parsed.highlights) + ([code_query] if code_query else [])
    results: list[SearchHit] = []
    for rid, rank in hits:
        doc = docs.get(rid)
        if doc is None:
            continue
        results.append(_hit(doc, doc.snapshot, rank, needles, browsing=parsed.empty and not code_query))
    return SearchResult(
        count=total,
        page=page,
        page_size=page_size,
        pages=max(1, math.ceil(total / page_size)),
        query=code_query or parsed.text,
        results=results,
        facets=facets,
    )


@lru_cache(maxsize=50_000)
def _plain_pair(name: str, name_en: str) -> str:
    # Element names recur across thousands of resources.
    return normalize(name) + " " + name_en.lower()


def _enum(cls: type[Any], value: Any, default: Any) -> Any:
    try:
        return cls(value)
    except ValueError:
        return default


def _hit(doc: PageDoc, snap: dict[str, Any], rank: int, needles: list[str], *, browsing: bool) -> SearchHit:
    matched: list[MatchedElement] = []
    elements = snap.get("elements") or []
    pairs = [(str(e.get("name") or ""), str(e.get("name_en") or "")) for e in elements] if needles else []
    plains = [_plain_pair(name, name_en) for name, name_en in pairs]
    # One test over all element names first: most hits of a name query match no element at all.
    joined = "\n".join(plains)
    present = [n for n in needles if n in joined]
    if present:
        for (name, name_en), plain in zip(pairs, plains, strict=True):
            if any(n in plain for n in present):
                matched.append(
                    MatchedElement(name=name, name_en=name_en, name_html=str(highlight(name, needles)))
                )
            if len(matched) >= 5:
                break
    name = str(snap.get("name") or "")
    summary = str(snap.get("summary") or "")
    category = _enum(ResourceCategory, snap.get("category"), ResourceCategory.DEPARTMENTAL)
    share = _enum(ShareType, snap.get("share_type"), ShareType.CONDITIONAL)
    open_type = _enum(OpenType, snap.get("open_type"), OpenType.CLOSED)
    delivery = _enum(Delivery, snap.get("delivery"), Delivery.API)
    frequency = _enum(UpdateFrequency, snap.get("update_frequency"), UpdateFrequency.IRREGULAR)
    return SearchHit(
        code=doc.code,
        name=name,
        name_html=str(highlight(name, needles)),
        url=f"/catalog/resources/{doc.code}",
        provider_code=doc.provider_code,
        provider_name=doc.provider_name,
        category=category,
        category_label=_label("category", category.value),
        topic_code=snap.get("topic_code"),
        topic_name=snap.get("topic_name"),
        share_type=share,
        share_type_label=_label("share_type", share.value),
        open_type=open_type,
        open_type_label=_label("open_type", open_type.value),
        delivery=delivery,
        delivery_label=_label("delivery", delivery.value),
        update_frequency=frequency,
        update_frequency_label=_label("update_frequency", frequency.value),
        format=str(snap.get("format") or ""),
        summary_html=str(highlight(summary, needles, limit=160)),
        matched_elements=matched,
        element_count=len(elements),
        version=doc.published_version,
        published_at=doc.published_at,
        match="all" if browsing or rank >= len(_MATCH_KINDS) else _MATCH_KINDS[rank],
    )
