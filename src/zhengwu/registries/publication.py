"""The base registries published as exchange services (issue 5, item 6): 基础库 as a member of the exchange.

The platform operator's department (大数据发展管理局 in the demo) gets one subsystem, ``JICHUKU``
(基础库服务), offering seven services through the gateway:

==================== ====================================== ================================
service code         consumer calls (after the service id)  upstream (provider endpoint)
==================== ====================================== ================================
population-lookup    ``GET /{resident_id}``                 ``GET  .../population/{resident_id}``
population-verify    ``POST`` ``{"resident_id","name"}``     ``POST .../population/verify``
entity-lookup        ``GET /{uscc}``                        ``GET  .../entities/{uscc}``
entity-verify        ``POST`` ``{"uscc","name"}``            ``POST .../entities/verify``
credit-check         ``POST`` ``{"subject_id","item_code"}`` ``POST .../credit/check``
geo-reverse          ``GET ?lon=&lat=[&crs=]``              ``GET  .../geospatial/reverse``
address-search       ``GET ?q=[&region=&limit=]``           ``GET  .../geospatial/addresses``
==================== ====================================== ================================

Each service is tied to a published catalog resource whose data elements are exactly the keys of the
answer, so the sharing workflow applies unchanged: a consumer department requests elements, the
provider approves, the gateway keeps only granted elements and masks the sensitive ones (see
:mod:`zhengwu.exchange.gateway.shaping`). The lookups and the credit check are conditional shares;
reverse geocoding and address search are unconditional (any registered member, all elements).

Upstream: the gateway forwards over HTTP to the platform's own **provider endpoints**
(:mod:`zhengwu.registries.provider_api`, ``/api/v1/registries/provider/...``) rather than to the
public registry API with a user's token: those endpoints answer in clear (the gateway alone decides
what the consumer sees, by grant), accept only the gateway's credential, and record the calling
system in the registries' access trail. The credential is derived from the platform secret (no token
to expire or store in clear) and stored with each service, encrypted, like a front node's token.

:func:`registries_publish` is idempotent: a second run creates nothing, re-points the services at the
given base URL and re-encrypts the credential under the current secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.catalog.models import Delivery, ResourceCategory, Secrecy, ShareType, UpdateFrequency
from zhengwu.catalog.schemas import ResourceCreate
from zhengwu.catalog.services import resource_approve, resource_create, resource_submit
from zhengwu.crypto import DecryptionError, sm3_hmac
from zhengwu.errors import NotFound, ValidationError
from zhengwu.exchange.credentials import credential_decrypt, credential_key
from zhengwu.exchange.models import ExchangeService, ExchangeSubsystem
from zhengwu.exchange.schemas import ServiceIn, SubsystemIn
from zhengwu.exchange.services import (
    service_credential_set,
    service_register,
    service_upstream_set,
    subsystem_register,
)

SUBSYSTEM_CODE: Final = "JICHUKU"
SUBSYSTEM_NAME: Final = "基础库服务（人口、法人、地理空间、信用）"
#: Where the provider endpoints live on the platform (see :mod:`.provider_api`).
PROVIDER_PREFIX: Final = "/api/v1/registries/provider"
_CREDENTIAL_LABEL: Final = b"zhengwu/registries/provider-credential/v1"


def provider_credential(secret_key: str) -> str:
    """The gateway's credential at the provider endpoints: HMAC-SM3 of a label under the platform
    secret, so both sides know it without storing it in clear, and a new secret replaces it."""
    return sm3_hmac(secret_key.encode("utf-8"), _CREDENTIAL_LABEL).hex()


def _el(
    name: str,
    name_en: str,
    data_type: str = "string",
    length: int | None = None,
    *,
    sensitive: bool = False,
    person: bool = False,
) -> dict[str, Any]:
    return {
        "name": name,
        "name_en": name_en,
        "data_type": data_type,
        "length": length,
        "identifies_person": person,
        "sensitivity": "sensitive" if sensitive else "internal",
    }


_PROVENANCE = (
    _el("数据来源部门", "source_department", "string", 32),
    _el("本版本生效时间", "valid_from", "datetime"),
)
PERSON_ELEMENTS: Final = (
    _el("公民身份号码", "resident_id", "string", 18, sensitive=True, person=True),
    _el("姓名", "name", "string", 50, sensitive=True, person=True),
    _el("曾用名", "former_names", "string", 200, sensitive=True, person=True),
    _el("性别", "sex", "string", 1),
    _el("出生日期", "birth_date", "date", sensitive=True),
    _el("民族", "ethnicity", "string", 2),
    _el("国籍", "nationality", "string", 3),
    _el("户籍地行政区划", "household_region_code", "string", 6),
    _el("户籍地址", "household_address", "string", 200, sensitive=True),
    _el("现住地行政区划", "current_region_code", "string", 6),
    _el("现住地址", "current_address", "string", 200, sensitive=True),
    _el("联系电话", "phone", "string", 20, sensitive=True),
    _el("人员状态", "status", "string", 16),
    _el("状态变更日期", "status_date", "date"),
    *_PROVENANCE,
)
ENTITY_ELEMENTS: Final = (
    _el("统一社会信用代码", "uscc", "string", 18),
    _el("名称", "name", "string", 200),
    _el("曾用名称", "former_names", "string", 400),
    _el("主体类型", "entity_type", "string", 32),
    _el("登记管理机关代码", "registration_authority_code", "string", 1),
    _el("登记机关", "registration_authority", "string", 200),
    _el("组织机构代码", "org_code", "string", 9),
    _el("法定代表人身份号码", "legal_representative_id", "string", 18, sensitive=True, person=True),
    _el("法定代表人姓名", "legal_representative_name", "string", 50, sensitive=True, person=True),
    _el("注册资本（分）", "registered_capital", "integer"),
    _el("币种", "currency", "string", 3),
    _el("成立日期", "established_date", "date"),
    _el("经营范围", "business_scope", "string", 4000),
    _el("登记地行政区划", "region_code", "string", 6),
    _el("住所", "address", "string", 200),
    _el("登记状态", "status", "string", 16),
    _el("状态变更日期", "status_date", "date"),
    *_PROVENANCE,
)
VERIFY_ELEMENTS: Final = (_el("核验结果（是否匹配）", "match", "boolean"),)
CHECK_ELEMENTS: Final = (
    _el("主体类型", "subject_type", "string", 16),
    _el("主体代码", "subject_id", "string", 18),
    _el("办理事项编码", "item_code", "string", 64),
    _el("核查日期", "on", "date"),
    _el("是否适用激励措施", "reward", "boolean"),
    _el("是否适用惩戒措施", "punishment", "boolean"),
    _el("适用的联合奖惩措施", "measures", "string", 100_000),
)
_REGION = ("county", "prefecture", "province")
REVERSE_ELEMENTS: Final = (
    _el("经度", "lon", "decimal"),
    _el("纬度", "lat", "decimal"),
    _el("WGS-84 经度", "wgs84_lon", "decimal"),
    _el("WGS-84 纬度", "wgs84_lat", "decimal"),
    _el("是否在境内", "in_china", "boolean"),
    _el("县级区划", "county", "string", 200),
    _el("地级区划", "prefecture", "string", 200),
    _el("省级区划", "province", "string", 200),
    _el("最近标准地址", "address", "string", 2000),
    _el("距离（米）", "distance_m", "decimal"),
)
ADDRESS_ELEMENTS: Final = (
    _el("地址编码", "address_code", "string", 32),
    _el("行政区划代码", "region_code", "string", 6),
    _el("标准地址", "address", "string", 200),
    _el("道路", "road", "string", 100),
    _el("门牌号", "house_number", "string", 32),
    _el("楼栋", "building", "string", 64),
    _el("经度（CGCS2000）", "lon", "decimal"),
    _el("纬度（CGCS2000）", "lat", "decimal"),
    _el("GCJ-02 经度", "gcj02_lon", "decimal"),
    _el("GCJ-02 纬度", "gcj02_lat", "decimal"),
    _el("相关度", "score", "decimal"),
    *_PROVENANCE,
)


@dataclass(frozen=True)
class PublishedService:
    """One registry service: its code, its catalog resource and the shape of its call."""

    code: str
    name: str
    classification: str
    share_type: ShareType
    upstream_path: str  # after PROVIDER_PREFIX
    method: str
    consumer_path: str  # after the service id, as the OpenAPI document shows it
    elements: tuple[dict[str, Any], ...]
    summary: str
    request: dict[str, Any] | None = None  # JSON body schema (POST)
    query: tuple[tuple[str, str, bool], ...] = ()  # (name, type, required)
    path_param: str | None = None
    source_system: str = "基础库"
    keywords: tuple[str, ...] = field(default=("基础库", "共享交换"))


def _body(props: dict[str, str], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required,
        "properties": {k: {"type": "string", "description": v} for k, v in props.items()},
    }


PUBLISHED: Final = (
    PublishedService(
        code="population-lookup",
        name="人口基础信息查询",
        classification="1-01-001-101",
        share_type=ShareType.CONDITIONAL,
        upstream_path="/population",
        method="get",
        consumer_path="/{resident_id}",
        path_param="resident_id",
        elements=PERSON_ELEMENTS,
        summary="按公民身份号码查询人口基础库的现行记录；按授权的信息项返回，敏感项脱敏。",
    ),
    PublishedService(
        code="population-verify",
        name="人口身份核验",
        classification="1-01-001-102",
        share_type=ShareType.CONDITIONAL,
        upstream_path="/population/verify",
        method="post",
        consumer_path="",
        elements=VERIFY_ELEMENTS,
        request=_body({"resident_id": "公民身份号码", "name": "姓名"}, ["resident_id", "name"]),
        summary="核验公民身份号码与姓名是否匹配一名在世人员，只答是或否，不披露其他信息。",
    ),
    PublishedService(
        code="entity-lookup",
        name="法人单位基础信息查询",
        classification="1-02-001-101",
        share_type=ShareType.CONDITIONAL,
        upstream_path="/entities",
        method="get",
        consumer_path="/{uscc}",
        path_param="uscc",
        elements=ENTITY_ELEMENTS,
        summary="按统一社会信用代码查询法人单位基础库的现行记录；法定代表人信息脱敏。",
    ),
    PublishedService(
        code="entity-verify",
        name="法人单位核验",
        classification="1-02-001-102",
        share_type=ShareType.CONDITIONAL,
        upstream_path="/entities/verify",
        method="post",
        consumer_path="",
        elements=VERIFY_ELEMENTS,
        request=_body({"uscc": "统一社会信用代码", "name": "名称"}, ["uscc", "name"]),
        summary="核验统一社会信用代码与名称是否匹配一家存续单位，只答是或否。",
    ),
    PublishedService(
        code="credit-check",
        name="信用核查（联合奖惩）",
        classification="1-04-001-101",
        share_type=ShareType.CONDITIONAL,
        upstream_path="/credit/check",
        method="post",
        consumer_path="",
        elements=CHECK_ELEMENTS,
        request=_body(
            {
                "subject_id": "统一社会信用代码或公民身份号码",
                "item_code": "办理事项编码",
                "on": "日期（可选）",
            },
            ["subject_id", "item_code"],
        ),
        summary="主体办理某事项时适用的联合奖惩措施（红黑名单及其措施）。",
    ),
    PublishedService(
        code="geo-reverse",
        name="逆地理编码",
        classification="1-03-001-101",
        share_type=ShareType.UNCONDITIONAL,
        upstream_path="/geospatial/reverse",
        method="get",
        consumer_path="",
        query=(("lon", "number", True), ("lat", "number", True), ("crs", "string", False)),
        elements=REVERSE_ELEMENTS,
        summary="坐标 → 所在县级区划与最近的标准地址（CGCS2000/WGS-84，可指定 GCJ-02）。",
    ),
    PublishedService(
        code="address-search",
        name="标准地址检索",
        classification="1-03-001-102",
        share_type=ShareType.UNCONDITIONAL,
        upstream_path="/geospatial/addresses",
        method="get",
        consumer_path="",
        query=(("q", "string", True), ("region", "string", False), ("limit", "integer", False)),
        elements=ADDRESS_ELEMENTS,
        summary="中文地址检索，按相关度排序，返回标准地址与坐标。",
    ),
)
PUBLISHED_BY_CODE: Final = {s.code: s for s in PUBLISHED}

_JSON_TYPES: Final = {
    "string": "string",
    "integer": "integer",
    "decimal": "number",
    "boolean": "boolean",
    "date": "string",
    "datetime": "string",
}


def service_openapi(spec: PublishedService) -> dict[str, Any]:
    """The OpenAPI 3 document of one published service, as the directory serves it (``getOpenAPI``)."""
    record = {
        "type": "object",
        "description": "只含授权的信息项；敏感信息项按授权脱敏",
        "properties": {
            e["name_en"]: {"type": _JSON_TYPES.get(e["data_type"], "string"), "description": e["name"]}
            for e in spec.elements
        },
    }
    schema: dict[str, Any] = {"type": "array", "items": record} if spec.code == "address-search" else record
    operation: dict[str, Any] = {
        "summary": spec.summary,
        "operationId": spec.code.replace("-", "_"),
        "responses": {
            "200": {"description": "成功", "content": {"application/json": {"schema": schema}}},
            "400": {"description": "参数无效（标识符、坐标等），说明原因与字段"},
            "403": {"description": "无授权（Client.AccessDenied 等）"},
            "404": {"description": "基础库中没有该记录"},
        },
    }
    params = [{"name": n, "in": "query", "required": req, "schema": {"type": t}} for n, t, req in spec.query]
    if spec.path_param:
        params.insert(
            0, {"name": spec.path_param, "in": "path", "required": True, "schema": {"type": "string"}}
        )
    if params:
        operation["parameters"] = params
    if spec.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": spec.request}},
        }
    return {
        "openapi": "3.0.3",
        "info": {"title": spec.name, "version": "1", "description": spec.summary},
        "paths": {spec.consumer_path or "/": {spec.method: operation}},
    }


@dataclass(frozen=True)
class PublishedOut:
    """One published service after :func:`registries_publish`: its ids and whether this run created it."""

    code: str
    name: str
    xroad_id: str
    service_id: int
    catalog_resource_id: int | None
    created: bool


def _department(db: Session, code: str) -> Department:
    dept = db.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise NotFound(f"部门 {code} 不存在", message_en=f"department {code} not found", field="department")
    if not dept.uscc:
        raise ValidationError(
            f"部门 {code} 没有统一社会信用代码，不能作为共享交换成员",
            message_en=f"department {code} has no USCC: it cannot be an exchange member",
            code="registries.publish.no_uscc",
            field="department",
        )
    return dept


def _resource(db: Session, actor: Actor, spec: PublishedService, provider_id: int) -> int:
    data = ResourceCreate.model_validate(
        {
            "name": spec.name,
            "category": ResourceCategory.BASE,
            "classification": spec.classification,
            "summary": spec.summary + "由基础库经共享交换网关提供。",
            "format": "database",
            "share_type": spec.share_type,
            "share_conditions": "仅限依法履行职责使用，按最小必要原则申请信息项"
            if spec.share_type == ShareType.CONDITIONAL
            else "",
            "delivery": Delivery.API,
            "open_type": "closed",
            "update_frequency": UpdateFrequency.REALTIME,
            "secrecy": Secrecy.UNCLASSIFIED,
            "source_system": spec.source_system,
            "keywords": list(spec.keywords),
            "elements": list(spec.elements),
            "provider_id": provider_id,
        }
    )
    out = resource_create(db, actor=actor, data=data)
    resource_submit(db, actor=actor, code=out.code)
    return resource_approve(db, actor=actor, code=out.code, comment="基础库服务发布").id


def _holds(svc: ExchangeService, credential: str, secret_key: str) -> bool:
    """Whether the service already stores ``credential`` under this secret (then nothing to rotate)."""
    if svc.upstream_credential is None:
        return False
    try:
        return credential_decrypt(credential_key(secret_key), svc.id, svc.upstream_credential) == credential
    except DecryptionError:
        return False


def registries_publish(
    db: Session,
    *,
    actor: Actor,
    department_code: str,
    instance: str,
    secret_key: str,
    base_url: str,
) -> list[PublishedOut]:
    """Publish (or refresh) the registry services of :data:`PUBLISHED` under ``department_code``.

    Platform administrators only (it publishes catalog resources and directory entries for the
    platform's own registries). Idempotent: existing services are re-pointed at ``base_url`` and get
    the credential derived from ``secret_key``; missing ones are created with their resource.
    """
    require_roles(actor, Role.PLATFORM_ADMIN)
    dept = _department(db, department_code)
    sub = db.scalar(
        select(ExchangeSubsystem).where(
            ExchangeSubsystem.department_id == dept.id, ExchangeSubsystem.code == SUBSYSTEM_CODE
        )
    )
    sub_id = (
        sub.id
        if sub is not None
        else subsystem_register(
            db,
            actor=actor,
            data=SubsystemIn(department_id=dept.id, code=SUBSYSTEM_CODE, name=SUBSYSTEM_NAME),
            instance=instance,
        ).id
    )
    credential = provider_credential(secret_key)
    base = base_url.rstrip("/") + PROVIDER_PREFIX
    out: list[PublishedOut] = []
    for spec in PUBLISHED:
        existing = db.scalar(
            select(ExchangeService).where(
                ExchangeService.subsystem_id == sub_id,
                ExchangeService.service_code == spec.code,
                ExchangeService.service_version == "",
            )
        )
        upstream = base + spec.upstream_path
        if existing is None:
            resource_id = _resource(db, actor, spec, dept.id)
            svc = service_register(
                db,
                actor=actor,
                instance=instance,
                secret_key=secret_key,
                data=ServiceIn.model_validate(
                    {
                        "subsystem_id": sub_id,
                        "service_code": spec.code,
                        "name": spec.name,
                        "upstream_url": upstream,
                        "timeout_ms": 10_000,
                        "catalog_resource_id": resource_id,
                        "openapi": service_openapi(spec),
                        "upstream_credential": credential,
                    }
                ),
            )
            created = True
        else:
            svc = service_upstream_set(
                db, actor=actor, service_id=existing.id, upstream_url=upstream, instance=instance
            )
            if not _holds(existing, credential, secret_key):
                svc = service_credential_set(
                    db,
                    actor=actor,
                    service_id=existing.id,
                    credential=credential,
                    instance=instance,
                    secret_key=secret_key,
                )
            created = False
        out.append(PublishedOut(spec.code, spec.name, svc.xroad_id, svc.id, svc.catalog_resource_id, created))
    audit_record(
        db,
        actor=actor,
        action="registries.publish",
        target_type="exchange_subsystem",
        target_id=sub_id,
        details={"base_url": base_url, "created": [p.code for p in out if p.created]},
    )
    return out
