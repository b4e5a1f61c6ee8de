"""Data in and out of the credit registry's use cases (API fields in English, values as stored)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from zhengwu.registries.credit.models import ListType, MeasureKind


class RecordOut(BaseModel):
    """One 双公示 record; ``subject_*`` of a person are masked unless ``masked`` is false."""

    id: int
    kind: str
    issuing_department: str
    issuing_department_name: str | None
    decision_number: str
    decision_name: str | None
    subject_type: str
    subject_id: str
    subject_name: str
    category: str
    content: str
    basis: str
    amount_yuan: int | None
    decision_date: dt.date
    validity_from: dt.date | None
    validity_to: dt.date | None
    publication_to: dt.date | None
    status: str
    published: bool
    masked: bool
    source_department: str
    batch_id: int | None
    valid_from: dt.datetime
    valid_to: dt.datetime | None = None


class MeasureItemOut(BaseModel):
    code: str
    name: str


class MeasureOut(BaseModel):
    """A joint measure and the service items it applies to."""

    code: str
    kind: str
    implementing_department: str
    implementing_department_name: str | None
    content: str
    basis: str
    items: list[MeasureItemOut]


class ListOut(BaseModel):
    """A red or black list and its measures."""

    code: str
    name: str
    list_type: str
    issuing_department: str
    issuing_department_name: str | None
    basis: str
    description: str | None
    active_entries: int = 0
    measures: list[MeasureOut] = Field(default_factory=list)


class EntryOut(BaseModel):
    """One subject on one list (masked like records)."""

    id: int
    list_code: str
    list_name: str
    list_type: str
    issuing_department: str
    decision_number: str
    subject_type: str
    subject_id: str
    subject_name: str
    reason: str
    basis: str
    period_from: dt.date
    period_to: dt.date | None
    status: str
    in_force: bool
    masked: bool
    valid_from: dt.datetime
    valid_to: dt.datetime | None = None


class RepairOut(BaseModel):
    """A credit repair decision as kept in the registry."""

    id: int
    target_type: str
    target_id: int
    decision_number: str
    decision_date: dt.date
    department: str
    rectification: str
    actor_username: str
    created_at: dt.datetime


class SubjectCredit(BaseModel):
    """Everything the registry holds (or held ``as_of``) about one subject that the caller may see."""

    subject_type: str
    subject_id: str
    subject_name: str | None
    registered: bool
    registry_status: str | None
    as_of: dt.datetime | None
    public_view: bool
    masked: bool
    records: list[RecordOut]
    entries: list[EntryOut]
    repairs: list[RepairOut]


class CheckMeasure(BaseModel):
    """One measure that applies, with the list entry that triggers it."""

    measure_code: str
    kind: str
    content: str
    basis: str
    implementing_department: str
    implementing_department_name: str | None
    list_code: str
    list_name: str
    list_type: str
    issuing_department: str
    issuing_department_name: str | None
    entry_decision_number: str
    entry_reason: str
    entry_basis: str
    period_from: dt.date
    period_to: dt.date | None


class CheckOut(BaseModel):
    """The answer of the credit check (信用核查) for one subject and one service item."""

    subject_type: str
    subject_id: str
    item_code: str
    on: dt.date
    reward: bool
    punishment: bool
    measures: list[CheckMeasure]


class CheckIn(BaseModel):
    subject_id: str = Field(max_length=40)
    item_code: str = Field(min_length=1, max_length=64)
    on: dt.date | None = None


class ListIn(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    list_type: ListType
    issuing_department: str = Field(min_length=1, max_length=32)
    basis: str = Field(min_length=1, max_length=4000)
    description: str | None = Field(None, max_length=4000)


class MeasureIn(BaseModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: MeasureKind
    implementing_department: str = Field(min_length=1, max_length=32)
    content: str = Field(min_length=1, max_length=4000)
    basis: str = Field(min_length=1, max_length=4000)
    items: list[MeasureItemOut] = Field(min_length=1, max_length=500)


class EntryIn(BaseModel):
    decision_number: str = Field(min_length=1, max_length=128)
    subject_id: str = Field(min_length=1, max_length=40)
    subject_type: str | None = None
    subject_name: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=4000)
    basis: str = Field(min_length=1, max_length=4000)
    period_from: dt.date
    period_to: dt.date | None = None


class RepairIn(BaseModel):
    """A credit repair decision: the rectification and the decision that takes the item out of publication."""

    target_type: str = Field(pattern=r"^(record|list_entry)$")
    target_id: int
    decision_number: str = Field(min_length=1, max_length=128)
    decision_date: dt.date
    rectification: str = Field(min_length=1, max_length=4000)
