"""The standard addresses of the geospatial registry through the GovStack data API: ``/data/addresses/1.0``.

Read-only (writes answer 403 ``govstack.read_only``, see :mod:`.services`): the registry is loaded by its
own ingestion.

* list: with ``search`` (or ``query.address``), the Chinese forward search of
  :func:`~zhengwu.registries.geospatial.services.address_search` (character bigrams, best first); its
  ranking looks at the best 100 matches, so ``count`` is at most 100 and the pages run through those.
  Without a search, every address in address-code order. ``query.region_code`` (a GB/T 2260 code)
  limits either to a division and everything under it. ``ordering`` may only say ``ascending`` (code
  order; a search is always by relevance).
* ``exists`` / ``read``: by address code, ``{"ID": <address code>}`` (``address_code`` is the same);
  ``read`` answers the address as :func:`~zhengwu.registries.geospatial.services.address_get` gives it.
  A malformed code answers 400 with the reason, an unknown one 404 ``no record found`` (``exists``:
  false).

Who may call: the geospatial registry's own rule, any signed-in caller (standard addresses are base
information shared unconditionally and hold no personal data), checked first. The geospatial registry's
own API does not audit reads; through this API every read is in the audit trail with the calling
system and the purpose, as for the other registries, since the Information Mediator's accountability
is about which system asked for what.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor, require_authenticated
from zhengwu.audit.services import audit_record
from zhengwu.errors import NotFound, ValidationError
from zhengwu.registries.geospatial.models import Address
from zhengwu.registries.geospatial.services import (
    MAX_RESULTS,
    address_get,
    address_search,
    addresses_out,
    check_region_code,
    region_prefix,
)
from zhengwu.registries.govstack.services import Caller, filters_check, not_found, query_id

QUERY_FIELDS: Final = {"ID", "address_code"}
FILTER_FIELDS: Final = {"address", "region_code"}
MAX_PAGE_SIZE: Final = 100


def _code_of(query: dict[str, Any]) -> str:
    return query_id(
        query,
        allowed=QUERY_FIELDS,
        key_field="address_code",
        zh="标准地址只能按地址编码（ID）查询：",
        en="query addresses by ID (address code) only, not: ",
        id_hint_zh="（地址编码）",
        id_hint_en=" (address code)",
    )


def _audit(
    db: Session, actor: Actor, action: str, target: str | None, caller: Caller, **details: Any
) -> None:
    audit_record(
        db,
        actor=actor,
        action=f"registries.address.{action}",
        target_type="address",
        target_id=target,
        details={**details, **caller.context()},
    )


def address_read(db: Session, *, actor: Actor, query: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """``read``: the standard address with this code; 404 ``no record found`` otherwise."""
    require_authenticated(actor)
    code = _code_of(query)
    try:
        out = address_get(db, actor=actor, address_code=code)
    except NotFound:
        _audit(db, actor, "lookup", code.strip().upper(), caller, match=False)
        raise not_found() from None
    _audit(db, actor, "lookup", out.address_code, caller, match=True)
    return {"ID": out.address_code, **out.model_dump(mode="json")}


def address_exists(db: Session, *, actor: Actor, query: dict[str, Any], caller: Caller) -> bool:
    """``exists``: is there a standard address with this code?"""
    require_authenticated(actor)
    code = _code_of(query)
    try:
        key = address_get(db, actor=actor, address_code=code).address_code
        found = True
    except NotFound:
        key, found = code.strip().upper(), False
    _audit(db, actor, "exists", key, caller, match=found)
    return found


def address_list(
    db: Session,
    *,
    actor: Actor,
    search: str | None,
    filters: dict[str, str],
    ordering: str | None,
    page: int,
    page_size: int,
    caller: Caller,
) -> tuple[int, list[dict[str, Any]], int, int]:
    """The list call: forward search, or every address in code order.

    Returns ``(count, results, page, size)``.
    """
    require_authenticated(actor)
    filters_check(filters, FILTER_FIELDS)
    if ordering not in (None, "", "ascending"):
        raise ValidationError(
            "排序只支持升序（ascending，按地址编码；检索时按相关度）",
            message_en="ordering: only ascending (by address code; a search is by relevance)",
            code="govstack.ordering",
            field="ordering",
        )
    page, page_size = max(page, 1), min(max(page_size, 1), MAX_PAGE_SIZE)
    region = filters.get("region_code") or None
    text = filters.get("address") or search
    results: list[dict[str, Any]]
    if text:
        hits = address_search(db, actor=actor, query=text, region=region, limit=MAX_RESULTS)
        count = len(hits)
        start = (page - 1) * page_size
        results = [h.model_dump(mode="json") for h in hits[start : start + page_size]]
    else:
        stmt = select(Address)
        if region:
            stmt = stmt.where(
                Address.region_code.startswith(region_prefix(check_region_code(region, "region")))
            )
        count = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = db.scalars(stmt.order_by(Address.address_code).offset((page - 1) * page_size).limit(page_size))
        results = [a.model_dump(mode="json") for a in addresses_out(list(rows))]
    _audit(db, actor, "search", None, caller, q=text, region=region, results=count)
    return count, [{"ID": r["address_code"], **r} for r in results], page, page_size
