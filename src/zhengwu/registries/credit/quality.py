"""Data quality of the credit registry: 双公示 records and list entries, per source department.

The shared measures (completeness, stale records, batches) come from :mod:`zhengwu.registries.quality`;
the duplicate rules are the credit registry's own:

* records: the same subject, kind, decision date and content under different decision numbers (a
  decision delivered twice by a department whose numbering changed);
* list entries: the same subject twice on the same list, both active.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.errors import ValidationError
from zhengwu.registries.credit.models import (
    BATCH_LIST_ENTRIES,
    BATCH_RECORDS,
    CreditListEntry,
    CreditRecord,
    Status,
)
from zhengwu.registries.quality import source_figures
from zhengwu.registries.schemas import QualityReport
from zhengwu.registries.services import BATCH_ROLES, batch_list

RECORD_OPTIONAL: Final = ("decision_name", "amount_yuan", "validity_from", "validity_to", "publication_to")
ENTRY_OPTIONAL: Final = ("period_to",)


@dataclass(frozen=True)
class CreditQuality:
    """The two quality reports of the credit registry."""

    records: QualityReport
    entries: QualityReport


def _check_days(stale_days: int) -> None:
    if not 1 <= stale_days <= 36_500:
        raise ValidationError(
            "stale_days 应在 1～36500 之间",
            message_en="stale_days must be in [1, 36500]",
            code="credit.quality.stale_days",
            field="stale_days",
        )


def credit_quality(db: Session, *, actor: Actor, stale_days: int = 365) -> CreditQuality:
    """Quality of the credit registry's records and list entries (staff who may see ingestion)."""
    require_roles(actor, *BATCH_ROLES)
    _check_days(stale_days)
    rec = source_figures(
        db, model=CreditRecord, optional=RECORD_OPTIONAL, batch_names=(BATCH_RECORDS,), stale_days=stale_days
    )
    rec_groups = (
        select(CreditRecord.subject_id)
        .group_by(
            CreditRecord.subject_id, CreditRecord.kind, CreditRecord.decision_date, CreditRecord.content
        )
        .having(func.count() > 1)
    )
    ent = source_figures(
        db,
        model=CreditListEntry,
        optional=ENTRY_OPTIONAL,
        batch_names=(BATCH_LIST_ENTRIES,),
        stale_days=stale_days,
    )
    ent_groups = (
        select(CreditListEntry.subject_id)
        .where(CreditListEntry.status == Status.ACTIVE.value)
        .group_by(CreditListEntry.list_id, CreditListEntry.subject_id)
        .having(func.count() > 1)
    )

    def count(groups: Select[Any]) -> int:
        found: int | None = db.scalar(select(func.count()).select_from(groups.subquery()))
        return int(found or 0)

    records = QualityReport(
        registry=BATCH_RECORDS,
        records=rec.records,
        stale_days=stale_days,
        stale=rec.stale,
        duplicates=count(rec_groups),
        duplicate_rule="主体、类型、决定日期与内容相同而决定文书号不同",
        completeness=rec.completeness,
        sources=rec.sources,
        batches=batch_list(db, actor=actor, batch_names=(BATCH_RECORDS,), limit=20),
    )
    entries = QualityReport(
        registry=BATCH_LIST_ENTRIES,
        records=ent.records,
        stale_days=stale_days,
        stale=ent.stale,
        duplicates=count(ent_groups),
        duplicate_rule="同一主体在同一名单中有两条有效记录",
        completeness=ent.completeness,
        sources=ent.sources,
        batches=batch_list(db, actor=actor, batch_names=(BATCH_LIST_ENTRIES,), limit=20),
    )
    return CreditQuality(records, entries)
