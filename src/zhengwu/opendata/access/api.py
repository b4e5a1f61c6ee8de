"""JSON API of conditional opening under ``/api/v1/opendata/access/``.

Sign-up (anonymous), applications (the applicant), the provider's inbox and decisions, keys (issued by
the applicant, shown once; revoked by the applicant or the provider) and usage per day. The data
itself is reached through the CKAN ``datastore_search`` action and ``/datastore/dump/...`` with the key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from zhengwu.opendata.access.schemas import ApplicantOut, ApplicationOut, KeyIssued, KeyOut, UsageDay
from zhengwu.opendata.access.services import (
    applicant_register,
    application_approve,
    application_create,
    application_get,
    application_inbox,
    application_list_mine,
    application_refuse,
    key_issue,
    key_revoke,
)
from zhengwu.opendata.access.usage import usage_by_day
from zhengwu.web.deps import AppSettings, CurrentActor, DbSession, SignedInActor

router = APIRouter(prefix="/api/v1/opendata/access", tags=["opendata-access"])
Payload = Annotated[dict[str, Any], Body()]


@router.post("/register", status_code=201)
def register(data: Payload, db: DbSession, actor: CurrentActor, settings: AppSettings) -> ApplicantOut:
    """Sign up as a natural person (resident ID) or a company (USCC) to apply for conditional data."""
    return applicant_register(db, actor=actor, data=data, password_min_length=settings.password_min_length)


@router.post("/applications", status_code=201)
def apply(data: Payload, db: DbSession, actor: SignedInActor) -> ApplicationOut:
    """Apply for a conditional dataset: dataset, purpose, use_start, use_end, contact_*."""
    return application_create(db, actor=actor, data=data)


@router.get("/applications")
def my_applications(db: DbSession, actor: SignedInActor) -> list[ApplicationOut]:
    """The caller's applications, newest first."""
    return application_list_mine(db, actor=actor)


@router.get("/inbox")
def inbox(
    db: DbSession, actor: SignedInActor, status: str = Query("", max_length=16)
) -> list[ApplicationOut]:
    """Applications addressed to the caller's department: pending (by deadline) first."""
    return application_inbox(db, actor=actor, status=status)


@router.get("/applications/{application_id}")
def application(application_id: int, db: DbSession, actor: SignedInActor) -> ApplicationOut:
    """One application (its applicant or its provider)."""
    return application_get(db, actor=actor, application_id=application_id)


@router.post("/applications/{application_id}/approve")
def approve(application_id: int, data: Payload, db: DbSession, actor: SignedInActor) -> ApplicationOut:
    """Approve: conditions, valid_until (date), rate_per_minute, daily_quota."""
    return application_approve(db, actor=actor, application_id=application_id, data=data)


@router.post("/applications/{application_id}/refuse")
def refuse(application_id: int, data: Payload, db: DbSession, actor: SignedInActor) -> ApplicationOut:
    """Refuse with a reason (required)."""
    return application_refuse(
        db, actor=actor, application_id=application_id, reason=str(data.get("reason") or "")
    )


@router.post("/applications/{application_id}/key", status_code=201)
def issue_key(application_id: int, db: DbSession, actor: SignedInActor) -> KeyIssued:
    """Issue the dataset key of an approved application (the applicant); shown this once."""
    return key_issue(db, actor=actor, application_id=application_id)


@router.post("/keys/{key_id}/revoke")
def revoke_key(key_id: int, db: DbSession, actor: SignedInActor) -> KeyOut:
    """Revoke a key (its applicant or the provider)."""
    return key_revoke(db, actor=actor, key_id=key_id)


@router.get("/applications/{application_id}/usage")
def usage(application_id: int, db: DbSession, actor: SignedInActor) -> list[UsageDay]:
    """Uses of the application's keys per Beijing day (last 30 days), newest first."""
    return usage_by_day(db, actor=actor, application_id=application_id)
