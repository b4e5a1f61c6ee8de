"""JSON API of the open data portal (``/api/v1/opendata/``) and the DCAT-AP export (``/catalog.ttl``).

The CKAN Action API lives in ``ckan/api.py``; this router holds what CKAN has no action for: the
publication of catalog entries with their sensitivity check, and the portal as DCAT-AP 3.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from zhengwu.opendata.dcat import PAGE_SIZE, catalog_graph
from zhengwu.opendata.publication import dataset_publish_check, dataset_publish_from_catalog
from zhengwu.opendata.schemas import PublishCheck, PublishIn
from zhengwu.web.deps import CurrentActor, DbSession, SignedInActor

router = APIRouter(tags=["opendata"])


@router.post("/api/v1/opendata/publications/{resource}/check")
def publish_check(resource: str, data: PublishIn, db: DbSession, actor: SignedInActor) -> PublishCheck:
    """Run the sensitivity check of publishing a catalog entry (id or code) with these treatments."""
    return dataset_publish_check(db, actor=actor, resource=resource, data=data)


@router.post("/api/v1/opendata/publications/{resource}")
def publish(resource: str, data: PublishIn, db: DbSession, actor: SignedInActor) -> dict[str, Any]:
    """Publish a catalog entry as an open dataset; 400 with the check when it fails."""
    return dataset_publish_from_catalog(db, actor=actor, resource=resource, data=data)


def _catalog(
    request: Request, db: Any, actor: Any, page: int, page_size: int, fmt: str, media: str
) -> Response:
    graph = catalog_graph(db, actor=actor, base_url=str(request.base_url), page=page, page_size=page_size)
    body = graph.serialize(format=fmt)
    return Response(body.encode("utf-8") if isinstance(body, str) else body, media_type=media)


@router.get("/catalog.ttl", include_in_schema=False)
def catalog_ttl(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(PAGE_SIZE, ge=1, le=1000),
) -> Response:
    """The portal as DCAT-AP 3 in Turtle, one page of datasets."""
    return _catalog(request, db, actor, page, page_size, "turtle", "text/turtle; charset=utf-8")


@router.get("/catalog.jsonld", include_in_schema=False)
def catalog_jsonld(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    page: int = Query(1, ge=1, le=1_000_000),
    page_size: int = Query(PAGE_SIZE, ge=1, le=1000),
) -> Response:
    """The portal as DCAT-AP 3 in JSON-LD, one page of datasets."""
    return _catalog(request, db, actor, page, page_size, "json-ld", "application/ld+json")
