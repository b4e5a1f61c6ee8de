"""Data out of catalog search: hits, facets, the result page."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from zhengwu.catalog.models import Delivery, OpenType, ResourceCategory, ShareType, UpdateFrequency

MatchKind = Literal["exact", "prefix", "name", "text", "element", "all"]

FACET_NAMES = ("provider", "category", "topic", "share_type", "open_type", "delivery", "update_frequency")
FACET_LABELS_ZH = {
    "provider": "提供部门",
    "category": "目录类别",
    "topic": "主题分类",
    "share_type": "共享类型",
    "open_type": "开放属性",
    "delivery": "共享方式",
    "update_frequency": "更新周期",
}


class MatchedElement(BaseModel):
    """A data element of a hit whose name matched the query."""

    name: str
    name_en: str
    name_html: str = Field(description="The name, HTML-escaped, matches wrapped in <mark>.")


class SearchHit(BaseModel):
    """One published resource found by a search."""

    code: str
    name: str
    name_html: str = Field(description="The name, HTML-escaped, matched terms wrapped in <mark>.")
    url: str
    provider_code: str
    provider_name: str
    category: ResourceCategory
    category_label: str
    topic_code: str | None
    topic_name: str | None
    share_type: ShareType
    share_type_label: str
    open_type: OpenType
    open_type_label: str
    delivery: Delivery
    delivery_label: str
    update_frequency: UpdateFrequency
    update_frequency_label: str
    format: str
    summary_html: str = Field(description="A window of the summary, HTML-escaped, matches in <mark>.")
    matched_elements: list[MatchedElement]
    element_count: int
    version: int
    published_at: dt.datetime | None
    match: MatchKind = Field(
        description="Why it ranks where it does: exact name (or code), name prefix, all words in the "
        "name, in name/keywords/summary, only through data elements; 'all' when browsing without a query."
    )


class FacetValue(BaseModel):
    """One value of a facet with the number of hits of the current query and filters that have it."""

    value: str
    label: str
    count: int
    selected: bool = False


class SearchResult(BaseModel):
    """A page of hits, the total count and the facets of the current query and filters."""

    count: int
    page: int
    page_size: int
    pages: int
    query: str = Field(description="The query as understood (normalised).")
    results: list[SearchHit]
    facets: dict[str, list[FacetValue]]
