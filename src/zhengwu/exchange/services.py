"""The exchange directory: members (departments), their subsystems and services.

Every use case checks the caller first: a department's data administrators manage its own subsystems
and services, platform admins all of them; any signed-in user may read the directory. Changes are
written to the audit trail in the same transaction.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department
from zhengwu.accounts.permissions import Actor, require_authenticated, require_department_admin
from zhengwu.audit.services import audit_record
from zhengwu.errors import ConfigurationError, Conflict, NotFound, ValidationError
from zhengwu.exchange.credentials import credential_check, credential_encrypt, credential_key
from zhengwu.exchange.identifiers import ClientId, ServiceId, check_part
from zhengwu.exchange.models import ExchangeService, ExchangeSubsystem
from zhengwu.exchange.schemas import ServiceIn, ServiceOut, SubsystemIn, SubsystemOut

#: Departments are government organs: their member class in identifiers.
DEPARTMENT_MEMBER_CLASS = "GOV"


def _member_id(dept: Department, instance: str) -> ClientId:
    if not dept.uscc:
        raise ValidationError(
            f"部门“{dept.name}”没有统一社会信用代码，不能成为交换成员",
            message_en=f"department {dept.id} has no USCC and cannot be an exchange member",
            code="exchange.member.no_uscc",
            field="department_id",
        )
    return ClientId(instance, DEPARTMENT_MEMBER_CLASS, dept.uscc)


def _department(db: Session, department_id: int) -> Department:
    dept = db.get(Department, department_id)
    if dept is None:
        raise NotFound("部门不存在", message_en="department not found", field="department_id")
    return dept


def _subsystem(db: Session, subsystem_id: int) -> ExchangeSubsystem:
    sub = db.get(ExchangeSubsystem, subsystem_id)
    if sub is None:
        raise NotFound("子系统不存在", message_en="subsystem not found", field="subsystem_id")
    return sub


def _subsystem_out(sub: ExchangeSubsystem, dept: Department, instance: str) -> SubsystemOut:
    member = _member_id(dept, instance)
    client = ClientId(member.xroad_instance, member.member_class, member.member_code, sub.code)
    return SubsystemOut(
        id=sub.id,
        department_id=sub.department_id,
        code=sub.code,
        name=sub.name,
        status=sub.status,
        xroad_id=str(client),
    )


def subsystem_register(db: Session, *, actor: Actor, data: SubsystemIn, instance: str) -> SubsystemOut:
    """Register an information system of a department as a subsystem of the exchange."""
    require_department_admin(actor, data.department_id)
    dept = _department(db, data.department_id)
    _member_id(dept, instance)
    code = check_part("subsystem_code", data.code)
    exists = db.scalar(
        select(ExchangeSubsystem.id).where(
            ExchangeSubsystem.department_id == dept.id, ExchangeSubsystem.code == code
        )
    )
    if exists is not None:
        raise Conflict(
            f"子系统代码 {code} 已存在",
            message_en=f"subsystem {code} already exists",
            field="code",
            code="exchange.subsystem.duplicate",
        )
    sub = ExchangeSubsystem(department_id=dept.id, code=code, name=data.name, status="active")
    db.add(sub)
    db.flush()
    out = _subsystem_out(sub, dept, instance)
    audit_record(
        db,
        actor=actor,
        action="exchange.subsystem_register",
        target_type="exchange_subsystem",
        target_id=sub.id,
        details={"xroad_id": out.xroad_id},
    )
    return out


def subsystem_list(
    db: Session, *, actor: Actor, instance: str, department_id: int | None = None
) -> list[SubsystemOut]:
    """Subsystems (of one department, or all), for any signed-in user."""
    require_authenticated(actor)
    query = select(ExchangeSubsystem, Department).join(
        Department, Department.id == ExchangeSubsystem.department_id
    )
    if department_id is not None:
        query = query.where(ExchangeSubsystem.department_id == department_id)
    rows = db.execute(query.order_by(Department.code, ExchangeSubsystem.code)).all()
    return [_subsystem_out(sub, dept, instance) for sub, dept in rows]


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(
            "上游地址应为 http:// 或 https:// 开头的完整地址",
            message_en="upstream_url must be an absolute http(s) URL",
            code="exchange.service.bad_url",
            field="upstream_url",
        )
    return url


def _check_openapi(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    version = doc.get("openapi")
    if not isinstance(version, str) or not version.startswith("3.") or not isinstance(doc.get("paths"), dict):
        raise ValidationError(
            "OpenAPI 文档应为 3.x 版本并含有 paths",
            message_en="openapi must be an OpenAPI 3.x document with paths",
            code="exchange.service.bad_openapi",
            field="openapi",
        )
    return doc


def _service_out(svc: ExchangeService, sub: ExchangeSubsystem, dept: Department, instance: str) -> ServiceOut:
    member = _member_id(dept, instance)
    client = ClientId(member.xroad_instance, member.member_class, member.member_code, sub.code)
    sid = ServiceId(client, svc.service_code, svc.service_version or None)
    return ServiceOut(
        id=svc.id,
        subsystem_id=svc.subsystem_id,
        service_code=svc.service_code,
        service_version=svc.service_version or None,
        name=svc.name,
        upstream_url=svc.upstream_url,
        timeout_ms=svc.timeout_ms,
        catalog_resource_id=svc.catalog_resource_id,
        has_openapi=svc.openapi is not None,
        has_upstream_credential=svc.upstream_credential is not None,
        status=svc.status,
        xroad_id=str(sid),
    )


def _credential_key(secret_key: str | None) -> bytes:
    if not secret_key:
        raise ConfigurationError(
            "未配置平台密钥，不能保存上游凭据",
            message_en="no platform secret key: cannot store an upstream credential",
            code="exchange.service.no_secret",
        )
    return credential_key(secret_key)


def service_register(
    db: Session, *, actor: Actor, data: ServiceIn, instance: str, secret_key: str | None = None
) -> ServiceOut:
    """Register a service of a subsystem: upstream, timeout, catalog link, OpenAPI document and,
    optionally, the credential the gateway shows the upstream (encrypted under ``secret_key``)."""
    sub = _subsystem(db, data.subsystem_id)
    require_department_admin(actor, sub.department_id)
    dept = _department(db, sub.department_id)
    credential = None
    if data.upstream_credential is not None:
        credential = credential_check(data.upstream_credential.get_secret_value())
        key = _credential_key(secret_key)
    code = check_part("service_code", data.service_code)
    version = "" if data.service_version is None else check_part("service_version", data.service_version)
    exists = db.scalar(
        select(ExchangeService.id).where(
            ExchangeService.subsystem_id == sub.id,
            ExchangeService.service_code == code,
            ExchangeService.service_version == version,
        )
    )
    if exists is not None:
        raise Conflict(
            f"服务 {code} 已存在",
            message_en=f"service {code} already exists",
            field="service_code",
            code="exchange.service.duplicate",
        )
    svc = ExchangeService(
        subsystem_id=sub.id,
        service_code=code,
        service_version=version,
        name=data.name,
        upstream_url=_check_url(data.upstream_url),
        timeout_ms=data.timeout_ms,
        catalog_resource_id=data.catalog_resource_id,
        openapi=_check_openapi(data.openapi),
        status="active",
    )
    db.add(svc)
    db.flush()
    if credential is not None:
        # Encrypted after the flush: the row id is the associated data.
        svc.upstream_credential = credential_encrypt(key, svc.id, credential)
        db.flush()
    out = _service_out(svc, sub, dept, instance)
    audit_record(
        db,
        actor=actor,
        action="exchange.service_register",
        target_type="exchange_service",
        target_id=svc.id,
        details={
            "xroad_id": out.xroad_id,
            "upstream_url": svc.upstream_url,
            "upstream_credential": credential is not None,
        },
    )
    return out


def service_credential_set(
    db: Session,
    *,
    actor: Actor,
    service_id: int,
    credential: str | None,
    instance: str,
    secret_key: str | None,
) -> ServiceOut:
    """Set, rotate (or with None remove) a service's upstream credential. The audit trail records that
    it changed, never the value. Gateways pick it up within their directory cache time."""
    svc = db.get(ExchangeService, service_id)
    if svc is None:
        raise NotFound("服务不存在", message_en="service not found", field="service_id")
    sub = _subsystem(db, svc.subsystem_id)
    require_department_admin(actor, sub.department_id)
    dept = _department(db, sub.department_id)
    had = svc.upstream_credential is not None
    if credential is None:
        svc.upstream_credential = None
    else:
        svc.upstream_credential = credential_encrypt(_credential_key(secret_key), svc.id, credential)
    db.flush()
    out = _service_out(svc, sub, dept, instance)
    audit_record(
        db,
        actor=actor,
        action="exchange.service_credential_set",
        target_type="exchange_service",
        target_id=svc.id,
        details={
            "xroad_id": out.xroad_id,
            "change": "removed" if credential is None else ("rotated" if had else "set"),
        },
    )
    return out


def service_upstream_set(
    db: Session, *, actor: Actor, service_id: int, upstream_url: str, instance: str
) -> ServiceOut:
    """Point a service at another upstream base URL (the provider moved). Audited with both addresses;
    gateways pick it up within their directory cache time."""
    svc = db.get(ExchangeService, service_id)
    if svc is None:
        raise NotFound("服务不存在", message_en="service not found", field="service_id")
    sub = _subsystem(db, svc.subsystem_id)
    require_department_admin(actor, sub.department_id)
    dept = _department(db, sub.department_id)
    before = svc.upstream_url
    svc.upstream_url = _check_url(upstream_url)
    db.flush()
    out = _service_out(svc, sub, dept, instance)
    if before != svc.upstream_url:
        audit_record(
            db,
            actor=actor,
            action="exchange.service_upstream_set",
            target_type="exchange_service",
            target_id=svc.id,
            details={"xroad_id": out.xroad_id, "before": before, "after": svc.upstream_url},
        )
    return out


def service_list(
    db: Session, *, actor: Actor, instance: str, subsystem_id: int | None = None
) -> list[ServiceOut]:
    """Services (of one subsystem, or all), for any signed-in user."""
    require_authenticated(actor)
    query = (
        select(ExchangeService, ExchangeSubsystem, Department)
        .join(ExchangeSubsystem, ExchangeSubsystem.id == ExchangeService.subsystem_id)
        .join(Department, Department.id == ExchangeSubsystem.department_id)
    )
    if subsystem_id is not None:
        query = query.where(ExchangeService.subsystem_id == subsystem_id)
    rows = db.execute(query.order_by(ExchangeSubsystem.code, ExchangeService.service_code)).all()
    return [_service_out(svc, sub, dept, instance) for svc, sub, dept in rows]


def client_list(db: Session, *, actor: Actor, instance: str) -> dict[str, Any]:
    """Members and active subsystems in the shape of X-Road's ``listClients`` (JSON, snake_case)."""
    require_authenticated(actor)
    members: list[dict[str, Any]] = []
    depts = db.scalars(
        select(Department)
        .where(Department.uscc.is_not(None), Department.is_active.is_(True))
        .order_by(Department.code)
    ).all()
    subs: dict[int, list[ExchangeSubsystem]] = {}
    for sub in db.scalars(
        select(ExchangeSubsystem).where(ExchangeSubsystem.status == "active").order_by(ExchangeSubsystem.code)
    ):
        subs.setdefault(sub.department_id, []).append(sub)
    for dept in depts:
        member = _member_id(dept, instance)
        members.append({"id": member.to_xroad(), "name": dept.name})
        for sub in subs.get(dept.id, []):
            client = ClientId(instance, member.member_class, member.member_code, sub.code)
            members.append({"id": client.to_xroad(), "name": dept.name})
    return {"member": members}
