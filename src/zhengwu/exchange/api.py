"""JSON API of the exchange: the directory and the message log's heads, proofs and verification.

Signed heads and proofs carry only hashes, sizes and signatures, so anyone may fetch them (a member
checking that its call was logged needs no platform account); verifying the whole log is for
auditors and platform admins.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import require_roles
from zhengwu.exchange.gateway.certificates import (
    subsystem_cert_add,
    subsystem_cert_list,
    subsystem_cert_revoke,
    subsystem_client_auth_set,
)
from zhengwu.exchange.gateway.schemas import CertificateIn, CertificateOut, ClientAuthIn, ClientAuthOut
from zhengwu.exchange.messagelog import (
    head_dict,
    heads_latest,
    messagelog_consistency_proof,
    messagelog_inclusion_proof,
)
from zhengwu.exchange.schemas import CredentialIn, ServiceIn, ServiceOut, SubsystemIn, SubsystemOut
from zhengwu.exchange.services import (
    client_list,
    service_credential_set,
    service_list,
    service_register,
    subsystem_list,
    subsystem_register,
)
from zhengwu.exchange.verify import messagelog_verify
from zhengwu.web.deps import AppSettings, DbSession, SignedInActor

router = APIRouter(prefix="/api/v1/exchange", tags=["exchange"])


@router.get("/subsystems", summary="子系统目录")
def subsystems(
    db: DbSession, actor: SignedInActor, settings: AppSettings, department_id: int | None = None
) -> list[SubsystemOut]:
    return subsystem_list(db, actor=actor, instance=settings.instance, department_id=department_id)


@router.post("/subsystems", summary="登记子系统", status_code=201)
def subsystem_create(
    data: SubsystemIn, db: DbSession, actor: SignedInActor, settings: AppSettings
) -> SubsystemOut:
    return subsystem_register(db, actor=actor, data=data, instance=settings.instance)


@router.get("/subsystems/{subsystem_id}/certificates", summary="子系统的 TLS 客户端证书")
def subsystem_certificates(
    subsystem_id: int, db: DbSession, actor: SignedInActor, settings: AppSettings
) -> list[CertificateOut]:
    return subsystem_cert_list(db, actor=actor, subsystem_id=subsystem_id, instance=settings.instance)


@router.post("/subsystems/{subsystem_id}/certificates", summary="登记 TLS 客户端证书", status_code=201)
def subsystem_certificate_add(
    subsystem_id: int, data: CertificateIn, db: DbSession, actor: SignedInActor, settings: AppSettings
) -> CertificateOut:
    return subsystem_cert_add(
        db,
        actor=actor,
        subsystem_id=subsystem_id,
        certificate_pem=data.certificate_pem,
        instance=settings.instance,
    )


@router.post("/certificates/{certificate_id}/revoke", summary="吊销 TLS 客户端证书")
def certificate_revoke(
    certificate_id: int, db: DbSession, actor: SignedInActor, settings: AppSettings
) -> CertificateOut:
    return subsystem_cert_revoke(db, actor=actor, certificate_id=certificate_id, instance=settings.instance)


@router.put("/subsystems/{subsystem_id}/client-auth", summary="是否要求双向 TLS")
def subsystem_client_auth(
    subsystem_id: int, data: ClientAuthIn, db: DbSession, actor: SignedInActor, settings: AppSettings
) -> ClientAuthOut:
    return subsystem_client_auth_set(
        db,
        actor=actor,
        subsystem_id=subsystem_id,
        require_client_cert=data.require_client_cert,
        instance=settings.instance,
    )


@router.get("/services", summary="服务目录")
def services(
    db: DbSession, actor: SignedInActor, settings: AppSettings, subsystem_id: int | None = None
) -> list[ServiceOut]:
    return service_list(db, actor=actor, instance=settings.instance, subsystem_id=subsystem_id)


@router.post("/services", summary="登记服务", status_code=201)
def service_create(data: ServiceIn, db: DbSession, actor: SignedInActor, settings: AppSettings) -> ServiceOut:
    return service_register(
        db,
        actor=actor,
        data=data,
        instance=settings.instance,
        secret_key=settings.secret_key.get_secret_value(),
    )


@router.put("/services/{service_id}/credential", summary="设置或轮换服务的上游凭据")
def service_credential(
    service_id: int, data: CredentialIn, db: DbSession, actor: SignedInActor, settings: AppSettings
) -> ServiceOut:
    value = data.upstream_credential
    return service_credential_set(
        db,
        actor=actor,
        service_id=service_id,
        credential=None if value is None else value.get_secret_value(),
        instance=settings.instance,
        secret_key=settings.secret_key.get_secret_value(),
    )


@router.get("/clients", summary="成员与子系统（X-Road listClients 形状）")
def clients(db: DbSession, actor: SignedInActor, settings: AppSettings) -> dict[str, Any]:
    return client_list(db, actor=actor, instance=settings.instance)


@router.get("/log/heads", summary="最新的签名树头")
def log_heads(db: DbSession, limit: int = Query(10, ge=1, le=1000)) -> list[dict[str, Any]]:
    return [head_dict(h) for h in heads_latest(db, limit)]


@router.get("/log/proofs/inclusion", summary="调用记录的包含证明")
def log_inclusion(
    db: DbSession,
    record_id: int | None = Query(None, ge=1),
    xroad_id: str | None = Query(None, max_length=255),
    leaf_index: int | None = Query(None, ge=0),
    head_id: int | None = Query(None, ge=1),
) -> dict[str, Any]:
    return messagelog_inclusion_proof(
        db, record_id=record_id, xroad_id=xroad_id, leaf_index=leaf_index, head_id=head_id
    )


@router.get("/log/proofs/consistency", summary="两个树头之间的一致性证明")
def log_consistency(
    db: DbSession, from_head_id: int = Query(ge=1), to_head_id: int = Query(ge=1)
) -> dict[str, Any]:
    return messagelog_consistency_proof(db, from_head_id=from_head_id, to_head_id=to_head_id)


@router.post("/log/verify", summary="校验整个交换日志")
def log_verify(db: DbSession, actor: SignedInActor) -> dict[str, Any]:
    require_roles(actor, Role.AUDITOR, Role.PLATFORM_ADMIN)
    return messagelog_verify(db).to_dict()
