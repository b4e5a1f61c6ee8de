"""Plain data in and out of the sharing use cases (also the JSON bodies of /api/v1/sharing)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from zhengwu.sharing.models import CorrectionStatus, GrantStatus, RequestStatus

# Free text is stripped first, so a purpose of spaces is as missing as an empty one.
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)]
# An element is named by its English name (name_en) or by the id of its catalog row.
ElementRef = int | Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class ShareRequestIn(BaseModel):
    """A consumer department's request for some data elements of one published resource."""

    resource_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    elements: list[ElementRef] = Field(
        min_length=1, max_length=500, description="Data elements needed: name_en or element id."
    )
    purpose: LongText = Field(description="用途: the duty the data is needed for.")
    legal_basis: LongText = Field(description="依据: law, regulation or policy document.")
    consumer_system: ShortText = Field(description="The consuming information system.")
    valid_from: dt.date
    valid_until: dt.date
    consumer_department_id: int | None = Field(
        None, description="Platform admins only: the department the request is made for."
    )


class ApproveIn(BaseModel):
    """Approve all asked elements (``elements`` omitted) or a narrower subset."""

    elements: list[ElementRef] | None = Field(None, min_length=1, max_length=500)
    comment: OptionalText = ""


class ReasonIn(BaseModel):
    """A refusal or a revocation: the reason is required."""

    reason: LongText


class ShareRequestOut(BaseModel):
    id: int
    resource_id: int
    resource_code: str
    resource_name: str
    resource_version: int
    share_type: str
    provider_id: int
    provider_name: str
    consumer_id: int
    consumer_name: str
    consumer_system: str
    purpose: str
    legal_basis: str
    requested_elements: list[str]
    approved_elements: list[str]
    element_labels: dict[str, str] = Field(description="Chinese names of the asked elements, by name_en.")
    valid_from: dt.date
    valid_until: dt.date
    status: RequestStatus
    status_label: str
    auto_granted: bool
    narrowed: bool
    submitted_at: dt.datetime
    submitted_on: dt.date
    deadline_days: int
    due_on: dt.date
    due_estimated: bool = Field(description="True when the deadline year is outside the holiday data.")
    working_days_left: int | None = Field(
        description="Pending only: working days until the deadline (0 = due today, negative = overdue)."
    )
    overdue: bool
    escalated_at: dt.datetime | None
    answered_at: dt.datetime | None
    answered_on: dt.date | None
    working_days_taken: int | None
    answered_on_time: bool | None
    answer_reason: str
    grant_id: int | None


class GrantOut(BaseModel):
    id: int
    request_id: int | None
    resource_id: int
    resource_code: str
    resource_name: str
    provider_id: int
    provider_name: str
    consumer_id: int
    consumer_name: str
    consumer_system: str
    elements: list[str]
    element_labels: dict[str, str] = Field(description="Chinese names of the granted elements, by name_en.")
    purpose: str
    valid_from: dt.date
    valid_until: dt.date
    status: GrantStatus = Field(description="Effective status on the day asked (expired once past until).")
    status_label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    revoke_reason: str


class GrantCheckIn(BaseModel):
    """What the exchange asks before it delivers data."""

    consumer_department_id: int
    resource_id: int
    element_names: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=500
    )
    purpose: LongText
    at: dt.datetime | None = Field(None, description="Moment of the exchange; now when omitted.")


class GrantDecision(BaseModel):
    """The answer of :func:`zhengwu.sharing.services.grant_check`."""

    allowed: bool
    grant_id: int | None = None
    elements: list[str] = Field(default_factory=list, description="Asked elements the grant covers.")
    missing: list[str] = Field(default_factory=list, description="Asked elements it does not cover.")
    reason: str | None = Field(None, description="Stable code when not allowed, e.g. grant.expired.")
    message: str = ""


class CorrectionIn(BaseModel):
    """A report of a wrong value in a provider's resource (校核)."""

    resource_code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    element: ElementRef
    record_key: ShortText = Field(description="Identifier of the record (e.g. a licence number).")
    value_seen: LongText
    value_expected: LongText
    evidence: OptionalText = ""
    consumer_department_id: int | None = Field(
        None, description="Platform admins only: the department the report is made for."
    )


class CorrectionAnswerIn(BaseModel):
    """The provider's answer: corrected, or not an error; the reason is required either way."""

    outcome: CorrectionStatus
    answer: LongText


class CorrectionOut(BaseModel):
    id: int
    resource_id: int
    resource_code: str
    resource_name: str
    provider_id: int
    provider_name: str
    consumer_id: int
    consumer_name: str
    element_name: str
    element_label: str
    record_key: str
    value_seen: str
    value_expected: str
    evidence: str
    status: CorrectionStatus
    status_label: str
    submitted_at: dt.datetime
    submitted_on: dt.date
    deadline_days: int
    due_on: dt.date
    due_estimated: bool
    working_days_left: int | None
    overdue: bool
    escalated_at: dt.datetime | None
    answered_at: dt.datetime | None
    answered_on: dt.date | None
    answer: str


class EventOut(BaseModel):
    at: dt.datetime
    action: str
    actor_name: str
    from_status: str | None
    to_status: str | None
    note: str


class Bar(BaseModel):
    label: str
    value: int
    share: int = Field(description="Width in percent of the largest bar.")


class DepartmentStats(BaseModel):
    department_id: int
    department_name: str
    resources_published: int
    unconditional: int
    conditional: int
    none: int
    requests_received: int
    auto_granted: int
    reviewed_received: int
    answered: int
    answered_on_time: int
    answered_late: int
    pending: int
    overdue: int
    avg_working_days: float | None
    requests_made: int
    active_grants_given: int
    corrections_received: int
    corrections_open: int
    corrections_overdue: int


class SharingStats(BaseModel):
    today: dt.date
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    departments: list[DepartmentStats]
    totals: DepartmentStats
    resources_by_provider: list[Bar]
    share_type_mix: list[Bar]
