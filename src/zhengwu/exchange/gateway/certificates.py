"""Client certificates of subsystems (mutual TLS) and authenticating a call by its certificate.

Mutual TLS is the gateway's stronger way to authenticate a calling system (X-Road: the client
information system's "internal TLS certificate", connection type HTTPS). Platform operators register
one or more certificates per subsystem (only the SHA-256 fingerprint is needed to recognise one;
subject, issuer, serial and validity are kept to tell them apart), revoke them, and may set a
subsystem to require mutual TLS, so that a token alone is refused. Every change is audited.

At call time (:func:`caller_by_certificate`, :func:`caller_by_token`, run by the gateway on a cache
miss) the presented certificate must be registered, active, within its validity and belong to the
subsystem named in ``X-Road-Client``; the errors carry codes the gateway maps to
``Client.SslAuthenticationFailed``.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotAuthenticated, NotFound, ValidationError
from zhengwu.exchange.gateway.models import GatewayClientCertificate, GatewaySubsystemAuth
from zhengwu.exchange.gateway.schemas import CertificateOut, ClientAuthOut, SubsystemSecurityOut
from zhengwu.exchange.gateway.services import Caller, caller_authenticate
from zhengwu.exchange.gateway.tls import fingerprint
from zhengwu.exchange.identifiers import ClientId
from zhengwu.exchange.models import ExchangeSubsystem
from zhengwu.exchange.services import DEPARTMENT_MEMBER_CLASS

#: How long a certificate authentication may be cached at most (also bounded by the certificate's expiry).
_CACHE_HORIZON = dt.timedelta(days=1)


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _subsystem(db: Session, subsystem_id: int) -> tuple[ExchangeSubsystem, Department]:
    sub = db.get(ExchangeSubsystem, subsystem_id)
    dept = db.get(Department, sub.department_id) if sub is not None else None
    if sub is None or dept is None:
        raise NotFound(
            "子系统不存在",
            message_en="subsystem not found",
            code="exchange.subsystem.not_found",
            field="subsystem_id",
        )
    return sub, dept


def _xroad_id(sub: ExchangeSubsystem, dept: Department, instance: str) -> str:
    return str(ClientId(instance, DEPARTMENT_MEMBER_CLASS, dept.uscc or "-", sub.code))


def _out(row: GatewayClientCertificate, xroad_id: str) -> CertificateOut:
    return CertificateOut(
        id=row.id,
        subsystem_id=row.subsystem_id,
        xroad_id=xroad_id,
        fingerprint=row.fingerprint,
        subject=row.subject,
        issuer=row.issuer,
        serial=row.serial,
        not_before=row.not_before,
        not_after=row.not_after,
        status=row.status,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _parse(pem: str) -> x509.Certificate:
    text = pem.strip()
    if text.count("-----BEGIN CERTIFICATE-----") != 1:
        raise ValidationError(
            "请提供一个 PEM 格式的证书（-----BEGIN CERTIFICATE-----）",
            message_en="certificate_pem must hold exactly one PEM certificate",
            code="gateway.cert.bad_pem",
            field="certificate_pem",
        )
    try:
        return x509.load_pem_x509_certificate(text.encode("ascii", "strict"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValidationError(
            "证书无法解析",
            message_en=f"the certificate cannot be parsed: {exc}",
            code="gateway.cert.bad_pem",
            field="certificate_pem",
        ) from None


def subsystem_cert_add(
    db: Session, *, actor: Actor, subsystem_id: int, certificate_pem: str, instance: str
) -> CertificateOut:
    """Register a client certificate for a subsystem (platform admins; audited)."""
    require_roles(actor, Role.PLATFORM_ADMIN)
    sub, dept = _subsystem(db, subsystem_id)
    cert = _parse(certificate_pem)
    print_ = fingerprint(cert.public_bytes(Encoding.DER))
    taken = db.scalar(select(GatewayClientCertificate).where(GatewayClientCertificate.fingerprint == print_))
    if taken is not None:
        raise Conflict(
            "该证书已登记" + ("（已吊销）" if taken.status == "revoked" else ""),
            message_en=f"the certificate is already registered (id {taken.id}, {taken.status})",
            code="gateway.cert.duplicate",
            field="certificate_pem",
        )
    not_after = _aware(cert.not_valid_after_utc)
    if not_after <= utcnow():
        raise ValidationError(
            "证书已过期",
            message_en=f"the certificate expired at {not_after.isoformat()}",
            code="gateway.cert.expired",
            field="certificate_pem",
        )
    row = GatewayClientCertificate(
        subsystem_id=sub.id,
        fingerprint=print_,
        subject=cert.subject.rfc4514_string()[:1000],
        issuer=cert.issuer.rfc4514_string()[:1000],
        serial=format(cert.serial_number, "x")[:100],
        not_before=_aware(cert.not_valid_before_utc),
        not_after=not_after,
        status="active",
        created_at=utcnow(),
    )
    db.add(row)
    db.flush()
    out = _out(row, _xroad_id(sub, dept, instance))
    audit_record(
        db,
        actor=actor,
        action="exchange.gateway.cert_add",
        target_type="exchange_subsystem",
        target_id=sub.id,
        details={"certificate_id": row.id, "fingerprint": print_, "subject": row.subject},
    )
    return out


def subsystem_cert_list(
    db: Session, *, actor: Actor, subsystem_id: int, instance: str
) -> list[CertificateOut]:
    """The certificates registered for a subsystem, newest first (platform admins and auditors)."""
    require_roles(actor, Role.PLATFORM_ADMIN, Role.AUDITOR)
    sub, dept = _subsystem(db, subsystem_id)
    xroad_id = _xroad_id(sub, dept, instance)
    rows = db.scalars(
        select(GatewayClientCertificate)
        .where(GatewayClientCertificate.subsystem_id == sub.id)
        .order_by(GatewayClientCertificate.id.desc())
    )
    return [_out(row, xroad_id) for row in rows]


def subsystem_cert_revoke(db: Session, *, actor: Actor, certificate_id: int, instance: str) -> CertificateOut:
    """Revoke a registered certificate (platform admins; audited). Gateways stop accepting it within
    their ``auth_ttl``. Revoking twice is refused, so the audit trail has one revocation."""
    require_roles(actor, Role.PLATFORM_ADMIN)
    row = db.get(GatewayClientCertificate, certificate_id)
    if row is None:
        raise NotFound(
            "证书不存在",
            message_en="certificate not found",
            code="gateway.cert.not_found",
            field="certificate_id",
        )
    if row.status == "revoked":
        raise Conflict(
            "证书已吊销", message_en="the certificate is already revoked", code="gateway.cert.revoked"
        )
    row.status = "revoked"
    row.revoked_at = utcnow()
    db.flush()
    sub, dept = _subsystem(db, row.subsystem_id)
    audit_record(
        db,
        actor=actor,
        action="exchange.gateway.cert_revoke",
        target_type="exchange_subsystem",
        target_id=sub.id,
        details={"certificate_id": row.id, "fingerprint": row.fingerprint},
    )
    return _out(row, _xroad_id(sub, dept, instance))


def subsystem_security_list(db: Session, *, actor: Actor, instance: str) -> list[SubsystemSecurityOut]:
    """Every subsystem with its client certificates (newest first) and whether its calls must use
    mutual TLS: the certificates page (platform admins and auditors)."""
    require_roles(actor, Role.PLATFORM_ADMIN, Role.AUDITOR)
    subsystems = db.execute(
        select(ExchangeSubsystem, Department)
        .join(Department, Department.id == ExchangeSubsystem.department_id)
        .order_by(Department.code, ExchangeSubsystem.code)
    ).all()
    certificates: dict[int, list[GatewayClientCertificate]] = {}
    for row in db.scalars(select(GatewayClientCertificate).order_by(GatewayClientCertificate.id.desc())):
        certificates.setdefault(row.subsystem_id, []).append(row)
    required = set(
        db.scalars(
            select(GatewaySubsystemAuth.subsystem_id).where(
                GatewaySubsystemAuth.require_client_cert.is_(True)
            )
        )
    )
    out = []
    for sub, dept in subsystems:
        xroad_id = _xroad_id(sub, dept, instance)
        out.append(
            SubsystemSecurityOut(
                subsystem_id=sub.id,
                department_name=dept.name,
                code=sub.code,
                name=sub.name,
                xroad_id=xroad_id,
                require_client_cert=sub.id in required,
                certificates=[_out(row, xroad_id) for row in certificates.get(sub.id, [])],
            )
        )
    return out


def _requires_cert(db: Session, subsystem_id: int) -> bool:
    return bool(
        db.scalar(
            select(GatewaySubsystemAuth.require_client_cert).where(
                GatewaySubsystemAuth.subsystem_id == subsystem_id
            )
        )
    )


def subsystem_client_auth_set(
    db: Session, *, actor: Actor, subsystem_id: int, require_client_cert: bool, instance: str
) -> ClientAuthOut:
    """Require (or stop requiring) mutual TLS for a subsystem's calls (platform admins; audited).

    Requiring it needs at least one active certificate, so a subsystem is never locked out by mistake.
    """
    require_roles(actor, Role.PLATFORM_ADMIN)
    sub, dept = _subsystem(db, subsystem_id)
    active = int(
        db.scalar(
            select(func.count())
            .select_from(GatewayClientCertificate)
            .where(
                GatewayClientCertificate.subsystem_id == sub.id,
                GatewayClientCertificate.status == "active",
                GatewayClientCertificate.not_after > utcnow(),
            )
        )
        or 0
    )
    if require_client_cert and active == 0:
        raise ValidationError(
            "子系统没有有效的客户端证书，不能要求双向 TLS",
            message_en="the subsystem has no active, unexpired client certificate; register one first",
            code="gateway.cert.none_active",
            field="require_client_cert",
        )
    row = db.scalar(select(GatewaySubsystemAuth).where(GatewaySubsystemAuth.subsystem_id == sub.id))
    if row is None:
        row = GatewaySubsystemAuth(subsystem_id=sub.id)
        db.add(row)
    row.require_client_cert = require_client_cert
    row.updated_at = utcnow()
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="exchange.gateway.client_auth_set",
        target_type="exchange_subsystem",
        target_id=sub.id,
        details={"require_client_cert": require_client_cert},
    )
    return ClientAuthOut(
        subsystem_id=sub.id,
        xroad_id=_xroad_id(sub, dept, instance),
        require_client_cert=require_client_cert,
        active_certificates=active,
    )


# ----------------------------------------------------------------------------------------------
# at call time (the gateway's cache misses)


def _refused(code: str, message: str, message_en: str) -> NotAuthenticated:
    return NotAuthenticated(message, message_en=message_en, code=code)


def caller_by_certificate(db: Session, *, cert_fingerprint: str, client: ClientId) -> Caller:
    """The calling system of a TLS client certificate: registered, active, valid, owned by ``client``."""
    found = db.execute(
        select(GatewayClientCertificate, ExchangeSubsystem, Department)
        .join(ExchangeSubsystem, ExchangeSubsystem.id == GatewayClientCertificate.subsystem_id)
        .join(Department, Department.id == ExchangeSubsystem.department_id)
        .where(GatewayClientCertificate.fingerprint == cert_fingerprint)
    ).first()
    if found is None:
        raise _refused(
            "gateway.cert.unknown",
            "客户端证书未在平台登记",
            f"the TLS client certificate (SHA-256 {cert_fingerprint}) is not registered for any subsystem",
        )
    row, sub, dept = found
    owner = ClientId(client.xroad_instance, DEPARTMENT_MEMBER_CLASS, dept.uscc or "-", sub.code)
    if owner != client or sub.status != "active" or not dept.is_active:
        raise _refused(
            "gateway.cert.not_owner",
            "客户端证书不属于 X-Road-Client 所指的子系统",
            f"the TLS client certificate is registered for {owner}, not for {client}",
        )
    if row.status == "revoked":
        raise _refused(
            "gateway.cert.revoked",
            "客户端证书已吊销",
            f"the TLS client certificate of {client} was revoked"
            + (f" at {_aware(row.revoked_at).isoformat()}" if row.revoked_at else ""),
        )
    now = utcnow()
    if _aware(row.not_after) <= now:
        raise _refused(
            "gateway.cert.expired",
            "客户端证书已过期",
            f"the TLS client certificate of {client} expired at {_aware(row.not_after).isoformat()}",
        )
    if _aware(row.not_before) > now:
        raise _refused(
            "gateway.cert.not_yet_valid",
            "客户端证书尚未生效",
            f"the TLS client certificate of {client} is valid from {_aware(row.not_before).isoformat()}",
        )
    # Cached no longer than the certificate is valid (the gateway checks the expiry on each cache hit).
    return Caller(client, dept.id, sub.id, None, min(_aware(row.not_after), now + _CACHE_HORIZON))


def caller_by_token(db: Session, *, raw_token: str | None, client: ClientId) -> Caller:
    """The API-token authentication, refused when the subsystem is set to require mutual TLS."""
    caller = caller_authenticate(db, raw_token=raw_token, client=client)
    if _requires_cert(db, caller.subsystem_id):
        raise _refused(
            "gateway.cert.required",
            "该子系统要求使用双向 TLS 客户端证书调用",
            f"{client} must call over mutual TLS with one of its registered client certificates; "
            "an API token alone is not accepted",
        )
    return caller
