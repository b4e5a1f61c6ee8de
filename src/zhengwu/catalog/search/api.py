"""JSON API of catalog search: ``GET /api/v1/catalog/resources`` answering ``{"count", "results", "facets"}``.

Any signed-in caller (session cookie or ``Authorization: Bearer <token>``) may search; anonymous callers
get 401. The catalog lists every department's resources, including those not shared and the systems
they come from: it is for government users, and the public gets the open data portal instead.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from zhengwu.catalog.search.schemas import SearchResult
from zhengwu.catalog.search.services import MAX_PAGE_SIZE, resource_search, search_filters
from zhengwu.web.deps import DbSession, SignedInActor

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])

Multi = Annotated[list[str] | None, Query()]


@router.get(
    "/resources",
    response_model=SearchResult,
    summary="检索已发布的目录条目（中文分词、拼音首字母、分面统计）",
    description=(
        "检索全部已发布的信息资源（草稿、待审核、已撤销和修订中的未发布内容都不会出现）。"
        "`q` 为空时按发布时间倒序浏览。排序：名称完全一致（或资源代码）、名称前缀、名称包含全部检索词、"
        "摘要/关键词/主题/部门包含、仅信息项包含。筛选条件可重复给出（同一维度内为“或”，不同维度为“且”）；"
        "`facets` 统计当前检索词与筛选条件下的结果。"
    ),
)
def search_resources(
    db: DbSession,
    actor: SignedInActor,
    q: Annotated[str, Query(max_length=1000, description="检索词，最多 100 个字符、8 个词。")] = "",
    provider: Annotated[list[str] | None, Query(description="提供部门代码")] = None,
    category: Annotated[list[str] | None, Query(description="base | thematic | departmental")] = None,
    topic: Annotated[list[str] | None, Query(description="主题分类代码")] = None,
    share_type: Annotated[list[str] | None, Query(description="unconditional | conditional | none")] = None,
    open_type: Annotated[list[str] | None, Query(description="open | conditional | closed")] = None,
    delivery: Annotated[list[str] | None, Query(description="api | table | file")] = None,
    update_frequency: Multi = None,
    classification: Annotated[str | None, Query(description="资源分类前缀，如 3-01")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> SearchResult:
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
    return resource_search(db, actor=actor, q=q, filters=filters, page=page, page_size=page_size)
