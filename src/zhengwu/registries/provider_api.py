"""Provider endpoints of the registry services published through the exchange.

Path prefix: ``/api/v1/registries/provider``.

Only the exchange gateway calls these (see :mod:`zhengwu.registries.publication`): a call must carry
``Authorization: Bearer <provider credential>`` (derived from the platform secret, compared in constant
time); anything else is 401, which the gateway reports as its own fault (``Server.ServerProxy.
UpstreamUnauthorized``), never the consumer's. They answer **in clear** and with exactly the data
elements of the service's catalog resource: the gateway keeps the granted ones and masks the sensitive
ones for the calling department. The calling system (``X-Road-Client``) and the call's ``X-Road-Id``
go into the registries' access records, so ``myPersonalDataUsage`` and the audit trail name who read.

Bad identifiers answer 400 and unknown ones 404, as the registry API does; the gateway passes those
answers back to the consumer.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header

from zhengwu.accounts.permissions import Actor
from zhengwu.errors import NotAuthenticated
from zhengwu.registries.credit.schemas import CheckIn
from zhengwu.registries.credit.services import credit_check
from zhengwu.registries.geospatial.coords import CoordinateSystem
from zhengwu.registries.geospatial.services import address_search, reverse_geocode
from zhengwu.registries.publication import (
    ADDRESS_ELEMENTS,
    CHECK_ELEMENTS,
    ENTITY_ELEMENTS,
    PERSON_ELEMENTS,
    PROVIDER_PREFIX,
    REVERSE_ELEMENTS,
    provider_credential,
)
from zhengwu.registries.schemas import EntityVerifyIn, PersonVerifyIn, VerifyOut
from zhengwu.registries.services import entity_get, entity_verify, person_get, person_verify
from zhengwu.web.deps import AppSettings, DbSession

#: The actor of calls through the exchange: the platform itself, on behalf of the calling system.
EXCHANGE_ACTOR: Final = Actor(
    user_id=None, username="exchange-gateway", display_name="共享交换网关", is_system=True
)

Authorization = Annotated[str | None, Header()]
XRoadClient = Annotated[str | None, Header(alias="X-Road-Client")]
XRoadId = Annotated[str | None, Header(alias="X-Road-Id")]


def _names(elements: tuple[dict[str, Any], ...]) -> tuple[str, ...]:
    return tuple(str(e["name_en"]) for e in elements)


_PERSON: Final = _names(PERSON_ELEMENTS)
_ENTITY: Final = _names(ENTITY_ELEMENTS)
_CHECK: Final = _names(CHECK_ELEMENTS)
_REVERSE: Final = _names(REVERSE_ELEMENTS)
_ADDRESS: Final = _names(ADDRESS_ELEMENTS)


def _gateway_only(authorization: str | None, secret_key: str) -> None:
    """Refuse any caller but the gateway (the credential of :func:`provider_credential`)."""
    given = (authorization or "").strip()
    scheme, _, token = given.partition(" ")
    expected = provider_credential(secret_key)
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise NotAuthenticated(
            "基础库服务只接受共享交换网关的调用",
            message_en="registry provider endpoints accept only the exchange gateway's credential",
            code="registries.provider.credential",
        )


def _require_gateway(settings: AppSettings, authorization: Authorization = None) -> None:
    _gateway_only(authorization, settings.secret_key.get_secret_value())


def _context(x_road_client: XRoadClient = None, x_road_id: XRoadId = None) -> dict[str, Any]:
    """What the registries' access records keep of the call: the calling system and the call's id."""
    return {
        "client": (x_road_client or "")[:255] or None,
        "xroad_id": (x_road_id or "")[:255] or None,
        "via": "exchange",
    }


CallContext = Annotated[dict[str, Any], Depends(_context)]

# Every endpoint refuses any caller but the gateway, before its parameters are even read.
router = APIRouter(
    prefix=PROVIDER_PREFIX,
    tags=["registries-provider"],
    include_in_schema=False,
    dependencies=[Depends(_require_gateway)],
)


def _only(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The answer as the service's data elements, nothing else (no flags, batch ids or relations)."""
    return {n: data.get(n) for n in names}


@router.get("/population/{resident_id}")
def provider_person(
    resident_id: str,
    db: DbSession,
    context: CallContext,
) -> dict[str, Any]:
    person = person_get(db, actor=EXCHANGE_ACTOR, resident_id=resident_id, context=context)
    data = person.model_dump(mode="json")
    data["former_names"] = "；".join(person.former_names) or None
    return _only(data, _PERSON)


@router.post("/population/verify")
def provider_person_verify(
    body: PersonVerifyIn,
    db: DbSession,
    context: CallContext,
) -> VerifyOut:
    match = person_verify(
        db,
        actor=EXCHANGE_ACTOR,
        resident_id=body.resident_id,
        name=body.name,
        context=context,
    )
    return VerifyOut(match=match)


@router.get("/entities/{uscc}")
def provider_entity(
    uscc: str,
    db: DbSession,
    context: CallContext,
) -> dict[str, Any]:
    entity = entity_get(db, actor=EXCHANGE_ACTOR, uscc=uscc, context=context)
    data = entity.model_dump(mode="json")
    data["former_names"] = "；".join(entity.former_names) or None
    return _only(data, _ENTITY)


@router.post("/entities/verify")
def provider_entity_verify(
    body: EntityVerifyIn,
    db: DbSession,
    context: CallContext,
) -> VerifyOut:
    match = entity_verify(db, actor=EXCHANGE_ACTOR, uscc=body.uscc, name=body.name, context=context)
    return VerifyOut(match=match)


@router.post("/credit/check")
def provider_credit_check(body: CheckIn, db: DbSession) -> dict[str, Any]:
    out = credit_check(
        db, actor=EXCHANGE_ACTOR, subject_id=body.subject_id, item_code=body.item_code, on=body.on
    )
    return _only(out.model_dump(mode="json"), _CHECK)


@router.get("/geospatial/reverse")
def provider_reverse(
    lon: float,
    lat: float,
    db: DbSession,
    crs: CoordinateSystem = CoordinateSystem.WGS84,
) -> dict[str, Any]:
    out = reverse_geocode(db, actor=EXCHANGE_ACTOR, lon=lon, lat=lat, crs=crs)
    return _only(out.model_dump(mode="json"), _REVERSE)


@router.get("/geospatial/addresses")
def provider_address_search(
    db: DbSession,
    q: str = "",
    region: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    hits = address_search(db, actor=EXCHANGE_ACTOR, query=q, region=region, limit=limit)
    return [_only(h.model_dump(mode="json"), _ADDRESS) for h in hits]
