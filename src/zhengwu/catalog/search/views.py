"""The catalog browsing and search page ``/catalog`` (资源目录): search box, facets, highlighted hits.

Works without JavaScript: the form and every facet are plain GET links, so a search is a URL that can
be bookmarked and shared.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from zhengwu.catalog.search.schemas import FACET_LABELS_ZH, FACET_NAMES, SearchResult
from zhengwu.catalog.search.services import SearchFilters, resource_search, search_filters
from zhengwu.errors import ValidationError
from zhengwu.web.deps import DbSession, SignedInActor
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [NavItem("资源目录", "/catalog", order=10, signed_in=True)]

PAGE_SIZE = 20
FACETS_SHOWN = 8
SHARE_TAG = {"unconditional": "ok", "conditional": "warn", "none": "bad"}

Multi = Annotated[list[str] | None, Query()]


class _Links:
    """Builds the URLs of the page: the current search with one thing changed."""

    def __init__(self, q: str, selected: dict[str, tuple[str, ...]], classification: str) -> None:
        self.q = q
        self.selected = selected
        self.classification = classification

    def _url(self, q: str, selected: dict[str, tuple[str, ...]], page: int = 1) -> str:
        params: list[tuple[str, str]] = [("q", q)] if q else []
        for name in FACET_NAMES:
            params += [(name, v) for v in selected.get(name, ())]
        if self.classification:
            params.append(("classification", self.classification))
        if page > 1:
            params.append(("page", str(page)))
        return "/catalog" + ("?" + urlencode(params) if params else "")

    def toggle(self, facet: str, value: str) -> str:
        """The search with ``value`` of ``facet`` added, or removed when it is selected."""
        current = self.selected.get(facet, ())
        values = tuple(v for v in current if v != value) if value in current else (*current, value)
        return self._url(self.q, {**self.selected, facet: values})

    def page(self, number: int) -> str:
        return self._url(self.q, self.selected, number)

    def without_filters(self) -> str:
        return "/catalog" + ("?" + urlencode({"q": self.q}) if self.q else "")

    def hidden_inputs(self) -> Markup:
        """The current filters as hidden fields, so a new query keeps them."""
        fields = [(name, v) for name in FACET_NAMES for v in self.selected.get(name, ())]
        if self.classification:
            fields.append(("classification", self.classification))
        return Markup("").join(
            Markup('<input type="hidden" name="{}" value="{}">').format(name, value) for name, value in fields
        )


def _page_numbers(page: int, pages: int) -> list[int | None]:
    """Page links around the current one, with None for a gap: 1 … 4 5 [6] 7 8 … 20."""
    wanted = {1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)}
    out: list[int | None] = []
    for n in sorted(wanted):
        if out and n - (out[-1] or 0) > 1:
            out.append(None)
        out.append(n)
    return out


@router.get("/catalog", response_class=HTMLResponse)
def catalog_search_page(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    q: Annotated[str, Query(max_length=1000)] = "",
    provider: Multi = None,
    category: Multi = None,
    topic: Multi = None,
    share_type: Multi = None,
    open_type: Multi = None,
    delivery: Multi = None,
    update_frequency: Multi = None,
    classification: str | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    error: str | None = None
    result: SearchResult | None = None
    try:
        filters = search_filters(
            provider=provider,
            category=category,
            topic=topic,
            share_type=share_type,
            open_type=open_type,
            delivery=delivery,
            update_frequency=update_frequency,
            classification=classification,
        )
    except ValidationError as exc:
        error, filters = exc.message, SearchFilters()
    if error is None:
        try:
            result = resource_search(db, actor=actor, q=q, filters=filters, page=page, page_size=PAGE_SIZE)
        except ValidationError as exc:
            error = exc.message
    links = _Links(q.strip()[:200], filters.selected, filters.classification)
    return render(
        request,
        "catalog/search_index.html",
        {
            "title": "资源目录",
            "q": q.strip()[:200],
            "result": result,
            "error": error,
            "links": links,
            "facet_names": FACET_NAMES,
            "facet_labels": FACET_LABELS_ZH,
            "facets_shown": FACETS_SHOWN,
            "share_tag": SHARE_TAG,
            "filtered": bool(filters.selected or filters.classification),
            "page_numbers": _page_numbers(result.page, result.pages) if result else [],
        },
        status_code=400 if error else 200,
    )
