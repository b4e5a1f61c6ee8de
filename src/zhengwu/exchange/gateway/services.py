"""What the gateway asks the database: who is calling, which service, may they, with which limits.

These run only on a cache miss (see :mod:`.proxy`), in a worker thread, each in its own short
transaction. They return plain frozen data, so a cached answer cannot be changed by later use, and
raise :mod:`zhengwu.errors` with stable codes that the proxy maps to X-Road error types.

Access rules:

* A service linked to a catalog resource: the resource must be published; an unconditional resource
  (无条件共享) is open to every registered member, all its elements; otherwise
  :func:`zhengwu.sharing.grants.grant_check` decides (grant in force, purpose, elements).
* A service not linked to a resource is open only to the provider's own department.
* Sensitive elements (``sensitive``/``confidential`` or identifying a person) are masked unless the
  grant's policy lists them in ``clear_elements``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import ApiToken, Department
from zhengwu.accounts.permissions import Actor, require_department_admin
from zhengwu.accounts.services import token_authenticate
from zhengwu.audit.services import audit_record
from zhengwu.catalog.models import Resource, ResourceStatus, Sensitivity, ShareType
from zhengwu.crypto import DecryptionError
from zhengwu.db import utcnow
from zhengwu.errors import ConfigurationError, NotAuthenticated, NotFound, PermissionDenied, ValidationError
from zhengwu.exchange.credentials import credential_decrypt
from zhengwu.exchange.gateway.models import GatewayGrantPolicy
from zhengwu.exchange.identifiers import ClientId, ServiceId
from zhengwu.exchange.models import ExchangeService, ExchangeSubsystem
from zhengwu.sharing.calendar import beijing_date
from zhengwu.sharing.common import published_elements
from zhengwu.sharing.grants import grant_check, normalise_purpose
from zhengwu.sharing.models import Grant, GrantStatus

_SENSITIVE = {Sensitivity.SENSITIVE.value, Sensitivity.CONFIDENTIAL.value}


@dataclass(frozen=True)
class Limits:
    """Token bucket (``rate_per_second``, ``burst``) and daily quota (None: none) of one grant."""

    rate_per_second: float
    burst: int
    quota_per_day: int | None


@dataclass(frozen=True)
class Caller:
    """An authenticated calling system: the token's department owns the subsystem in X-Road-Client."""

    client: ClientId
    department_id: int
    subsystem_id: int
    token_id: int | None
    token_expires_at: dt.datetime


@dataclass(frozen=True)
class ServiceInfo:
    """A service as the hot path needs it."""

    id: int
    service: ServiceId
    upstream_url: str
    timeout_ms: int
    catalog_resource_id: int | None
    provider_department_id: int
    # Decrypted upstream credential (sent as Authorization: Bearer); kept out of repr so it is never logged.
    credential: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Access:
    """The answer for (caller, service, elements, purpose): allowed or the reason, and how to shape."""

    allowed: bool
    reason: str | None = None
    message: str = ""
    grant_id: int | None = None
    # None: pass the answer unshaped (the provider's own department, no resource).
    known: frozenset[str] | None = None
    granted: frozenset[str] = frozenset()
    masked: frozenset[str] = frozenset()
    missing: tuple[str, ...] = ()
    limits: Limits | None = None
    limit_key: str = ""


def _department_by_member(db: Session, member: ClientId) -> Department | None:
    return db.scalar(select(Department).where(Department.uscc == member.member_code, Department.is_active))


def _subsystem(db: Session, member: ClientId) -> tuple[Department, ExchangeSubsystem] | None:
    dept = _department_by_member(db, member)
    if dept is None or member.subsystem_code is None:
        return None
    sub = db.scalar(
        select(ExchangeSubsystem).where(
            ExchangeSubsystem.department_id == dept.id,
            ExchangeSubsystem.code == member.subsystem_code,
            ExchangeSubsystem.status == "active",
        )
    )
    return None if sub is None else (dept, sub)


def caller_authenticate(db: Session, *, raw_token: str | None, client: ClientId) -> Caller:
    """Check the API token and that its department owns the subsystem named in X-Road-Client."""
    found = _subsystem(db, client)
    if found is None:
        raise NotFound(
            f"调用方子系统 {client} 未在平台登记",
            message_en=f"client subsystem {client} is not registered",
            code="gateway.client.unknown",
        )
    dept, sub = found
    if not raw_token:
        raise NotAuthenticated(
            "缺少 API 令牌", message_en="no API token (Authorization: Bearer zw_...)", code="auth.required"
        )
    actor = token_authenticate(db, raw=raw_token)
    if actor.department_id != dept.id:
        raise PermissionDenied(
            "令牌所属部门不拥有该子系统",
            message_en=f"the token's department does not own {client}",
            code="gateway.client.not_owner",
        )
    expires = utcnow() + dt.timedelta(days=1)
    if actor.token_id is not None:
        expires = db.scalar(select(ApiToken.expires_at).where(ApiToken.id == actor.token_id)) or expires
    return Caller(client, dept.id, sub.id, actor.token_id, expires)


def service_resolve(db: Session, *, service: ServiceId, credential_key: bytes | None = None) -> ServiceInfo:
    """The active service ``service`` names. r1 paths carry no version: the unversioned one is taken,
    else the only active version; several versions and no unversioned one is ambiguous. Its upstream
    credential is decrypted with ``credential_key`` (a stored one without the key is a setup error)."""
    found = _subsystem(db, service.client)
    if found is None:
        raise NotFound(
            f"服务提供方子系统 {service.client} 不存在",
            message_en=f"provider subsystem {service.client} is not registered",
            code="gateway.service.unknown",
        )
    dept, sub = found
    rows = list(
        db.scalars(
            select(ExchangeService).where(
                ExchangeService.subsystem_id == sub.id,
                ExchangeService.service_code == service.service_code,
                ExchangeService.status == "active",
            )
        )
    )
    plain = [r for r in rows if r.service_version == ""]
    chosen = plain[0] if plain else (rows[0] if len(rows) == 1 else None)
    if chosen is None:
        raise NotFound(
            f"服务 {service} 不存在或有多个版本",
            message_en=f"service {service} is not registered (or only in several versions)",
            code="gateway.service.unknown",
        )
    credential = None
    if chosen.upstream_credential is not None:
        try:
            if credential_key is None:
                raise DecryptionError("no key")
            credential = credential_decrypt(credential_key, chosen.id, chosen.upstream_credential)
        except DecryptionError:
            # The platform secret changed since the credential was set: rotate it (never log its value).
            raise ConfigurationError(
                f"服务 {service} 的上游凭据无法解密，请重新设置",
                message_en=f"the upstream credential of {service} cannot be decrypted; set it again",
                code="gateway.service.credential_unreadable",
            ) from None
    return ServiceInfo(
        chosen.id,
        ServiceId(service.client, chosen.service_code, chosen.service_version or None),
        chosen.upstream_url,
        chosen.timeout_ms,
        chosen.catalog_resource_id,
        dept.id,
        credential,
    )


def _sensitive(db: Session, resource: Resource) -> tuple[frozenset[str], frozenset[str]]:
    elements = published_elements(db, resource)
    known = frozenset(e.name_en for e in elements)
    sensitive = frozenset(e.name_en for e in elements if e.sensitivity in _SENSITIVE or e.identifies_person)
    return known, sensitive


def grant_limits(db: Session, grant_id: int | None, default: Limits) -> tuple[Limits, frozenset[str]]:
    """The limits and clear elements of a grant (the defaults when it has no policy row)."""
    if grant_id is None:
        return default, frozenset()
    row = db.scalar(select(GatewayGrantPolicy).where(GatewayGrantPolicy.grant_id == grant_id))
    if row is None:
        return default, frozenset()
    return Limits(row.rate_per_second, row.burst, row.quota_per_day), frozenset(row.clear_elements)


def _purposes_in_force(db: Session, caller: Caller, resource_id: int, at: dt.datetime) -> list[str]:
    """The distinct purposes of the caller's grants in force for a resource (when it named none)."""
    on = beijing_date(at)
    purposes = {
        normalise_purpose(g.purpose): g.purpose
        for g in db.scalars(
            select(Grant).where(
                Grant.consumer_id == caller.department_id,
                Grant.resource_id == resource_id,
                Grant.status == GrantStatus.ACTIVE,
            )
        )
        if g.valid_from <= on <= g.valid_until
    }
    return list(purposes.values())


def access_decide(
    db: Session,
    *,
    caller: Caller,
    service: ServiceInfo,
    elements: tuple[str, ...] | None,
    purpose: str | None,
    default_limits: Limits,
    at: dt.datetime | None = None,
) -> Access:
    """May ``caller`` call ``service`` for ``elements`` (None: all it may have) and ``purpose``?"""
    at = at or utcnow()
    own = caller.department_id == service.provider_department_id
    if service.catalog_resource_id is None:
        if own:
            return Access(
                True, known=None, limits=default_limits, limit_key=f"s{service.id}:c{caller.subsystem_id}"
            )
        return Access(False, "service.not_shared", "该服务未关联共享目录资源，仅本部门可调用")
    resource = db.get(Resource, service.catalog_resource_id)
    if resource is None or resource.status != ResourceStatus.PUBLISHED:
        return Access(False, "resource.unavailable", "资源不存在或未发布")
    known, sensitive = _sensitive(db, resource)
    key = f"s{service.id}:c{caller.subsystem_id}"
    if resource.share_type == ShareType.UNCONDITIONAL or own:
        asked = known if elements is None else frozenset(elements)
        unknown = tuple(sorted(asked - known))
        if unknown:
            return Access(
                False,
                "grant.element_not_granted",
                "资源没有这些信息项：" + "、".join(unknown),
                missing=unknown,
            )
        masked = frozenset() if own else sensitive & asked
        return Access(True, known=known, granted=asked, masked=masked, limits=default_limits, limit_key=key)
    wanted = purpose
    if wanted is None:
        purposes = _purposes_in_force(db, caller, resource.id, at)
        if len(purposes) > 1:
            return Access(
                False,
                "grant.purpose_required",
                "持有多个用途的授权，请在 X-Zhengwu-Purpose 中说明本次用途",
            )
        # None in force: grant_check names why (none, expired, revoked) before it looks at purposes.
        wanted = purposes[0] if purposes else ""
    asked_list = list(elements) if elements is not None else None
    if asked_list is None:
        # All elements of the grant in force for this purpose: ask for every element, then keep what
        # the best matching grant covers (grant_check names it).
        asked_list = sorted(known)
    decision = grant_check(
        db,
        consumer_department_id=caller.department_id,
        resource_id=resource.id,
        element_names=asked_list,
        purpose=wanted,
        at=at,
    )
    if (
        not decision.allowed
        and elements is None
        and decision.reason == "grant.element_not_granted"
        and decision.elements
    ):
        decision = grant_check(
            db,
            consumer_department_id=caller.department_id,
            resource_id=resource.id,
            element_names=list(decision.elements),
            purpose=wanted,
            at=at,
        )
    if not decision.allowed:
        return Access(
            False,
            decision.reason,
            decision.message,
            grant_id=decision.grant_id,
            missing=tuple(decision.missing),
        )
    limits, clear = grant_limits(db, decision.grant_id, default_limits)
    granted = frozenset(decision.elements)
    return Access(
        True,
        message=decision.message,
        grant_id=decision.grant_id,
        known=known,
        granted=granted,
        masked=(sensitive & granted) - clear,
        limits=limits,
        limit_key=f"g{decision.grant_id}",
    )


# ----------------------------------------------------------------------------------------------
# metaservices


def _endpoints(openapi: dict[str, Any] | None) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    paths = (openapi or {}).get("paths")
    if not isinstance(paths, dict):
        return out
    methods = ("get", "put", "post", "delete", "patch", "head", "options")
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        # X-Road lists templated segments as "*".
        shown = "/".join("*" if seg.startswith("{") else seg for seg in str(path).split("/"))
        out.extend({"method": m.upper(), "path": shown} for m in methods if m in item)
    return out


def _service_item(provider: ClientId, svc: ExchangeService) -> dict[str, Any]:
    item: dict[str, Any] = {
        "member_class": provider.member_class,
        "member_code": provider.member_code,
        "object_type": "SERVICE",
        "service_code": svc.service_code,
        "service_type": "OPENAPI" if svc.openapi else "REST",
        "subsystem_code": provider.subsystem_code,
        "xroad_instance": provider.xroad_instance,
        "endpoint_list": _endpoints(svc.openapi) or [{"method": "*", "path": "**"}],
    }
    if svc.service_version:
        item["service_version"] = svc.service_version
    return item


def provider_services(db: Session, *, provider: ClientId) -> list[tuple[ExchangeService, dict[str, Any]]]:
    """Active services of a provider subsystem with their listMethods items."""
    found = _subsystem(db, provider)
    if found is None:
        raise NotFound(
            f"服务提供方子系统 {provider} 不存在",
            message_en=f"provider subsystem {provider} is not registered",
            code="gateway.service.unknown",
        )
    rows = db.scalars(
        select(ExchangeService)
        .where(ExchangeService.subsystem_id == found[1].id, ExchangeService.status == "active")
        .order_by(ExchangeService.service_code, ExchangeService.service_version)
    )
    return [(svc, _service_item(provider, svc)) for svc in rows]


def list_methods(db: Session, *, provider: ClientId) -> dict[str, Any]:
    """``listMethods``: every REST service of the provider and its endpoints (Annex B shape)."""
    return {"service": [item for _, item in provider_services(db, provider=provider)]}


def allowed_methods(
    db: Session, *, caller: Caller, provider: ClientId, default_limits: Limits
) -> dict[str, Any]:
    """``allowedMethods``: the provider's services this caller may call now (with its own purpose)."""
    out = []
    dept = _department_by_member(db, provider)
    for svc, item in provider_services(db, provider=provider):
        info = ServiceInfo(
            svc.id,
            ServiceId(provider, svc.service_code, svc.service_version or None),
            svc.upstream_url,
            svc.timeout_ms,
            svc.catalog_resource_id,
            dept.id if dept is not None else -1,
        )
        access = access_decide(
            db, caller=caller, service=info, elements=None, purpose=None, default_limits=default_limits
        )
        if access.allowed:
            out.append(item)
    return {"service": out}


def openapi_get(db: Session, *, provider: ClientId, service_code: str) -> dict[str, Any]:
    """``getOpenAPI``: the OpenAPI description of one of the provider's services."""
    for svc, _ in provider_services(db, provider=provider):
        if svc.service_code == service_code:
            if svc.openapi is None:
                raise NotFound(
                    f"服务 {service_code} 没有 OpenAPI 描述",
                    message_en=f"service {service_code} has no OpenAPI description",
                    code="gateway.openapi.none",
                )
            return svc.openapi
    raise NotFound(
        f"服务 {service_code} 不存在",
        message_en=f"service {service_code} is not registered",
        code="gateway.service.unknown",
    )


# ----------------------------------------------------------------------------------------------
# managing policies


def grant_policy_set(
    db: Session,
    *,
    actor: Actor,
    grant_id: int,
    rate_per_second: float,
    burst: int,
    quota_per_day: int | None,
    clear_elements: list[str],
) -> dict[str, Any]:
    """The provider (or a platform admin) sets a grant's limits and which elements go in clear."""
    grant = db.get(Grant, grant_id)
    if grant is None:
        raise NotFound(
            "授权不存在", message_en="grant not found", code="sharing.grant.not_found", field="grant_id"
        )
    require_department_admin(actor, grant.provider_id)
    if not (0 < rate_per_second <= 100_000) or not (1 <= burst <= 1_000_000):
        raise ValidationError(
            "速率应在 (0, 100000]，突发量在 [1, 1000000]",
            message_en="rate_per_second must be in (0, 100000] and burst in [1, 1000000]",
            code="gateway.policy.bad_rate",
            field="rate_per_second",
        )
    if quota_per_day is not None and quota_per_day < 1:
        raise ValidationError(
            "每日配额至少为 1",
            message_en="quota_per_day must be at least 1",
            code="gateway.policy.bad_quota",
            field="quota_per_day",
        )
    unknown = sorted(set(clear_elements) - set(grant.elements))
    if unknown:
        raise ValidationError(
            "明文信息项必须是授权内的信息项：" + "、".join(unknown),
            message_en=f"clear elements not in the grant: {', '.join(unknown)}",
            code="gateway.policy.bad_clear",
            field="clear_elements",
        )
    row = db.scalar(select(GatewayGrantPolicy).where(GatewayGrantPolicy.grant_id == grant_id))
    if row is None:
        row = GatewayGrantPolicy(grant_id=grant_id)
        db.add(row)
    row.rate_per_second = rate_per_second
    row.burst = burst
    row.quota_per_day = quota_per_day
    row.clear_elements = sorted(set(clear_elements))
    row.updated_at = utcnow()
    db.flush()
    out = {
        "grant_id": grant_id,
        "rate_per_second": rate_per_second,
        "burst": burst,
        "quota_per_day": quota_per_day,
        "clear_elements": row.clear_elements,
    }
    audit_record(
        db,
        actor=actor,
        action="exchange.gateway.policy_set",
        target_type="sharing_grant",
        target_id=grant_id,
        details=out,
    )
    return out
