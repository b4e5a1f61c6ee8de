"""Use cases of conditional opening (有条件开放): sign up, apply, decide, issue and revoke keys.

Who may do what: a public user with an applicant profile (signed up on the portal with a checked
resident ID or USCC) applies for a conditional dataset; the data administrators of the dataset's
publisher (and platform administrators) see the applications addressed to them and decide within
:data:`DECISION_WORKING_DAYS` working days; the applicant of an approved application issues the key
(shown once) and may revoke it, as may the provider. The check a key undergoes on every data access,
its limits and its usage records are in :mod:`zhengwu.opendata.access.usage`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Final

from pydantic import ValidationError as PydanticError
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role, User
from zhengwu.accounts.permissions import Actor, require_authenticated, require_department_admin, require_roles
from zhengwu.accounts.schemas import UserIn
from zhengwu.accounts.services import hash_secret, user_create
from zhengwu.audit.services import audit_record
from zhengwu.db import BEIJING, utcnow
from zhengwu.errors import Conflict, NotFound, PermissionDenied, ValidationError
from zhengwu.identifiers import InvalidIdentifier, mask_resident_id, validate_resident_id, validate_uscc
from zhengwu.opendata.access.models import (
    APPLICANT_KIND_LABELS_ZH,
    APPLICATION_STATUS_LABELS_ZH,
    AccessKey,
    Applicant,
    ApplicantKind,
    Application,
    ApplicationStatus,
)
from zhengwu.opendata.access.schemas import (
    ApplicantIn,
    ApplicantOut,
    ApplicationIn,
    ApplicationOut,
    ApproveIn,
    KeyIssued,
    KeyOut,
)
from zhengwu.opendata.models import Dataset
from zhengwu.opendata.packages import org_name
from zhengwu.opendata.services import can_manage, dataset_by_ref, dataset_get, pydantic_errors
from zhengwu.sharing.calendar import add_working_days, beijing_today, working_days_between

KEY_PREFIX: Final = "zwk"  # a dataset key: zwk_<prefix>_<secret>
DECISION_WORKING_DAYS: Final = 10
MAX_REASON: Final = 2_000
CODE: Final = "opendata.access"


def _parse(model: type[Any], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        raise pydantic_errors(exc) from None


def end_of_beijing_day(day: dt.date) -> dt.datetime:
    """The moment ``day`` ends in Beijing (its next midnight), in UTC: approvals last whole days."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), BEIJING).astimezone(dt.UTC)


# --- Sign-up -------------------------------------------------------------------------------------


def _checked_identifier(kind: ApplicantKind, raw: str) -> str:
    """The masked identifier after checking it (GB 11643 or GB 32100); the full value is not kept."""
    try:
        if kind == ApplicantKind.PERSON:
            return mask_resident_id(validate_resident_id(raw))
        code = validate_uscc(raw)
    except InvalidIdentifier as exc:
        raise ValidationError(
            exc.message, message_en=exc.message_en, code=exc.code, field="identifier"
        ) from exc
    # A USCC is public (on every business licence); it is shown in full but for its check character.
    return code[:-1] + "*"


def applicant_register(
    db: Session, *, actor: Actor, data: dict[str, Any], password_min_length: int = 10
) -> ApplicantOut:
    """Sign up a natural person or a company: a public user account and its applicant profile."""
    del actor  # anyone may sign up; the account is created by the platform on their behalf
    parsed: ApplicantIn = _parse(ApplicantIn, data)
    masked = _checked_identifier(parsed.kind, parsed.identifier)
    user = user_create(
        db,
        actor=Actor.system("opendata.signup"),
        data=UserIn(
            username=parsed.username,
            display_name=parsed.name[:100],
            password=parsed.password,
            email=parsed.email or None,
            phone=parsed.phone,
            roles=[Role.PUBLIC_USER],
        ),
        password_min_length=password_min_length,
    )
    row = Applicant(
        user_id=user.id,
        kind=parsed.kind,
        name=parsed.name,
        identifier_masked=masked,
        contact_phone=parsed.phone,
        created_at=utcnow(),
    )
    db.add(row)
    db.flush()
    audit_record(
        db,
        actor=Actor.system("opendata.signup"),
        action="opendata.access.register",
        target_type="user",
        target_id=user.id,
        details={"kind": str(parsed.kind), "identifier": masked},
    )
    return _applicant_out(row)


def _applicant_out(row: Applicant) -> ApplicantOut:
    return ApplicantOut(
        user_id=row.user_id,
        kind=str(row.kind),
        kind_label=APPLICANT_KIND_LABELS_ZH[ApplicantKind(row.kind)],
        name=row.name,
        identifier_masked=row.identifier_masked,
    )


def applicant_get(db: Session, *, actor: Actor) -> ApplicantOut | None:
    """The caller's applicant profile, if they signed up as a person or company."""
    if actor.user_id is None:
        return None
    row = db.get(Applicant, actor.user_id)
    return _applicant_out(row) if row else None


def applicant_demo_profiles(db: Session, *, profiles: dict[str, tuple[ApplicantKind, str, str]]) -> int:
    """Give existing public users an applicant profile (demo seeding): username → (kind, name, identifier).

    Identifiers are checked as at sign-up; users that are missing or already have a profile are skipped.
    """
    made = 0
    for username, (kind, name, identifier) in profiles.items():
        user = db.scalar(select(User).where(User.username == username))
        if user is None or db.get(Applicant, user.id) is not None:
            continue
        db.add(
            Applicant(
                user_id=user.id,
                kind=kind,
                name=name,
                identifier_masked=_checked_identifier(kind, identifier),
                contact_phone=user.phone or "",
                created_at=utcnow(),
            )
        )
        made += 1
    db.flush()
    return made


# --- Applications ----------------------------------------------------------------------------------


def _key_out(key: AccessKey, now: dt.datetime) -> KeyOut:
    return KeyOut(
        id=key.id,
        prefix=key.prefix,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
        active=key.revoked_at is None and key.expires_at > now,
    )


def _usable(row: Application, now: dt.datetime) -> bool:
    return row.status == ApplicationStatus.APPROVED and row.valid_until is not None and row.valid_until > now


def _out(db: Session, row: Application) -> ApplicationOut:
    now = utcnow()
    dataset = db.get(Dataset, row.dataset_id)
    dept = db.get(Department, row.organization_id)
    applicant = db.get(Applicant, row.applicant_id)
    assert dataset is not None and dept is not None and applicant is not None  # FKs
    keys = db.scalars(
        select(AccessKey).where(AccessKey.application_id == row.id).order_by(AccessKey.id.desc())
    )
    pending = row.status == ApplicationStatus.PENDING
    return ApplicationOut(
        id=row.id,
        dataset_name=dataset.name,
        dataset_title=dataset.title,
        organization=org_name(dept),
        applicant=_applicant_out(applicant),
        purpose=row.purpose,
        use_start=row.use_start,
        use_end=row.use_end,
        contact_name=row.contact_name,
        contact_phone=row.contact_phone,
        contact_email=row.contact_email,
        status=str(row.status),
        status_label=APPLICATION_STATUS_LABELS_ZH[ApplicationStatus(row.status)],
        submitted_at=row.submitted_at,
        due_date=row.due_date,
        working_days_left=working_days_between(beijing_today(), row.due_date) if pending else None,
        decided_at=row.decided_at,
        reason=row.reason,
        conditions=row.conditions,
        valid_until=row.valid_until,
        rate_per_minute=row.rate_per_minute,
        daily_quota=row.daily_quota,
        usable=_usable(row, now),
        keys=[_key_out(k, now) for k in keys],
    )


def _require_applicant(db: Session, actor: Actor) -> Applicant:
    require_roles(actor, Role.PUBLIC_USER)
    row = db.get(Applicant, actor.user_id) if actor.user_id is not None else None
    if row is None:
        raise PermissionDenied(
            "请先以自然人或法人身份实名注册后再申请",
            message_en="sign up as a person or a company before applying",
            code=f"{CODE}.not_applicant",
        )
    return row


def application_create(db: Session, *, actor: Actor, data: dict[str, Any]) -> ApplicationOut:
    """Apply for a conditional dataset with a purpose, an intended use period and a contact."""
    applicant = _require_applicant(db, actor)
    parsed: ApplicationIn = _parse(ApplicationIn, data)
    dataset_get(db, actor=actor, ref=parsed.dataset)  # NotFound for what the caller may not see
    dataset = dataset_by_ref(db, parsed.dataset)
    if dataset.open_type != "conditional":
        raise ValidationError(
            f"数据集「{dataset.title}」为无条件开放，无需申请",
            message_en=f"dataset {dataset.name} is open to all: no application needed",
            code=f"{CODE}.not_conditional",
            field="dataset",
        )
    now = utcnow()
    for other in db.scalars(
        select(Application).where(
            Application.applicant_id == applicant.user_id,
            Application.dataset_id == dataset.id,
            Application.status.in_([ApplicationStatus.PENDING, ApplicationStatus.APPROVED]),
        )
    ):
        if other.status == ApplicationStatus.PENDING or _usable(other, now):
            raise Conflict(
                f"您对数据集「{dataset.title}」已有待审核或有效的申请（编号 {other.id}）",
                message_en=f"you already have a pending or valid application ({other.id}) for {dataset.name}",
                code=f"{CODE}.duplicate",
                field="dataset",
            )
    row = Application(
        dataset_id=dataset.id,
        organization_id=dataset.organization_id,
        applicant_id=applicant.user_id,
        purpose=parsed.purpose,
        use_start=parsed.use_start,
        use_end=parsed.use_end,
        contact_name=parsed.contact_name,
        contact_phone=parsed.contact_phone,
        contact_email=parsed.contact_email,
        status=ApplicationStatus.PENDING,
        submitted_at=now,
        due_date=add_working_days(beijing_today(), DECISION_WORKING_DAYS),
    )
    db.add(row)
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="opendata.access.apply",
        target_type="opendata_access_application",
        target_id=row.id,
        details={"dataset": dataset.name},
    )
    return _out(db, row)


def _load(db: Session, application_id: int) -> Application:
    row = db.get(Application, application_id)
    if row is None:
        raise NotFound("申请不存在", message_en="application not found", code=f"{CODE}.not_found", field="id")
    return row


def _may_see(actor: Actor, row: Application) -> bool:
    return actor.user_id == row.applicant_id or can_manage(actor, row.organization_id)


def application_get(db: Session, *, actor: Actor, application_id: int) -> ApplicationOut:
    """One application: for its applicant and for the provider (others get NotFound)."""
    require_authenticated(actor)
    row = _load(db, application_id)
    if not _may_see(actor, row):
        raise NotFound("申请不存在", message_en="application not found", code=f"{CODE}.not_found", field="id")
    return _out(db, row)


def application_may_decide(db: Session, *, actor: Actor, application_id: int) -> bool:
    """Whether ``actor`` is the provider of this application (for showing the decision form)."""
    return can_manage(actor, _load(db, application_id).organization_id)


def application_list_mine(db: Session, *, actor: Actor) -> list[ApplicationOut]:
    """The caller's applications, newest first."""
    require_authenticated(actor)
    rows = db.scalars(
        select(Application).where(Application.applicant_id == actor.user_id).order_by(Application.id.desc())
    )
    return [_out(db, r) for r in rows]


def application_inbox(db: Session, *, actor: Actor, status: str = "") -> list[ApplicationOut]:
    """The applications addressed to the caller's department (all of them for platform admins)."""
    require_roles(actor, Role.DATA_ADMIN, Role.PLATFORM_ADMIN)
    stmt = select(Application)
    if not actor.has(Role.PLATFORM_ADMIN):
        stmt = stmt.where(Application.organization_id == actor.department_id)
    if status:
        if status not in {s.value for s in ApplicationStatus}:
            raise ValidationError(
                "状态无效", message_en="unknown status", code=f"{CODE}.status", field="status"
            )
        stmt = stmt.where(Application.status == ApplicationStatus(status))
    # Pending first, the most urgent deadline first; decided ones newest first.
    rows = db.scalars(stmt.order_by(Application.due_date, Application.id.desc())).all()
    pending = [r for r in rows if r.status == ApplicationStatus.PENDING]
    decided = sorted((r for r in rows if r.status != ApplicationStatus.PENDING), key=lambda r: -r.id)
    return [_out(db, r) for r in (*pending, *decided)]


def _pending_for_decision(db: Session, actor: Actor, application_id: int) -> Application:
    row = _load(db, application_id)
    require_department_admin(actor, row.organization_id)
    if row.status != ApplicationStatus.PENDING:
        raise Conflict(
            "该申请已处理",
            message_en="the application was decided already",
            code=f"{CODE}.decided",
            field="id",
        )
    return row


def application_approve(
    db: Session, *, actor: Actor, application_id: int, data: dict[str, Any]
) -> ApplicationOut:
    """Approve: conditions of use, validity (a date; keys end with it), rate limit and daily quota."""
    row = _pending_for_decision(db, actor, application_id)
    parsed: ApproveIn = _parse(ApproveIn, data)
    row.status = ApplicationStatus.APPROVED
    row.conditions = parsed.conditions
    row.valid_until = end_of_beijing_day(parsed.valid_until)
    row.rate_per_minute = parsed.rate_per_minute
    row.daily_quota = parsed.daily_quota
    row.decided_by = actor.user_id
    row.decided_at = utcnow()
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="opendata.access.approve",
        target_type="opendata_access_application",
        target_id=row.id,
        details={
            "valid_until": parsed.valid_until.isoformat(),
            "rate_per_minute": parsed.rate_per_minute,
            "daily_quota": parsed.daily_quota,
        },
    )
    return _out(db, row)


def application_refuse(db: Session, *, actor: Actor, application_id: int, reason: str) -> ApplicationOut:
    """Refuse, with the reason the applicant will read (required)."""
    row = _pending_for_decision(db, actor, application_id)
    text = (reason or "").strip()
    if not text:
        raise ValidationError(
            "不予批准须说明理由",
            message_en="a refusal needs a reason",
            code=f"{CODE}.reason_required",
            field="reason",
        )
    if len(text) > MAX_REASON:
        raise ValidationError(
            f"理由过长（最多 {MAX_REASON} 字）",
            message_en=f"reason is longer than {MAX_REASON} characters",
            code=f"{CODE}.reason_too_long",
            field="reason",
        )
    row.status = ApplicationStatus.REFUSED
    row.reason = text
    row.decided_by = actor.user_id
    row.decided_at = utcnow()
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="opendata.access.refuse",
        target_type="opendata_access_application",
        target_id=row.id,
        details={"reason": text[:200]},
    )
    return _out(db, row)


# --- Keys -------------------------------------------------------------------------------------------


def key_issue(db: Session, *, actor: Actor, application_id: int) -> KeyIssued:
    """The applicant issues the key of an approved application; an earlier active key is revoked.

    The returned ``key`` (``zwk_<prefix>_<secret>``) is shown this once; it ends with the approval.
    """
    require_authenticated(actor)
    row = _load(db, application_id)
    if actor.user_id != row.applicant_id:
        raise PermissionDenied(
            "只有申请人可以领取密钥",
            message_en="only the applicant may issue the key",
            code=f"{CODE}.not_owner",
        )
    now = utcnow()
    if not _usable(row, now):
        raise Conflict(
            "申请未获批准或已过期，不能领取密钥",
            message_en="the application is not approved or has expired",
            code=f"{CODE}.not_usable",
            field="id",
        )
    assert row.valid_until is not None
    for old in db.scalars(
        select(AccessKey).where(AccessKey.application_id == row.id, AccessKey.revoked_at.is_(None))
    ):
        _revoke(db, actor, old, now, reason="reissued")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = AccessKey(
        application_id=row.id,
        dataset_id=row.dataset_id,
        prefix=prefix,
        secret_hash=hash_secret(secret),
        created_by=actor.user_id,
        created_at=now,
        expires_at=row.valid_until,
    )
    db.add(key)
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="opendata.access.key_issue",
        target_type="opendata_access_key",
        target_id=key.id,
        details={"application": row.id, "prefix": prefix, "expires_at": key.expires_at.isoformat()},
    )
    return KeyIssued(**_key_out(key, now).model_dump(), key=f"{KEY_PREFIX}_{prefix}_{secret}")


def _revoke(db: Session, actor: Actor, key: AccessKey, now: dt.datetime, *, reason: str) -> None:
    key.revoked_at = now
    key.revoked_by = actor.user_id
    audit_record(
        db,
        actor=actor,
        action="opendata.access.key_revoke",
        target_type="opendata_access_key",
        target_id=key.id,
        details={"prefix": key.prefix, "reason": reason},
    )


def key_revoke(db: Session, *, actor: Actor, key_id: int) -> KeyOut:
    """Revoke a key at once: its applicant or the provider may."""
    require_authenticated(actor)
    key = db.get(AccessKey, key_id)
    if key is None:
        raise NotFound("密钥不存在", message_en="key not found", code=f"{CODE}.key_not_found", field="key_id")
    row = _load(db, key.application_id)
    if actor.user_id != row.applicant_id:
        require_department_admin(actor, row.organization_id)
    now = utcnow()
    if key.revoked_at is None:
        _revoke(db, actor, key, now, reason="applicant" if actor.user_id == row.applicant_id else "provider")
        db.flush()
    return _key_out(key, now)
