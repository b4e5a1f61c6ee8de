"""Writing and reading the versions of records and list entries (system time, append-only).

Every change to a current row goes through :func:`record_changed` / :func:`entry_changed`: the open
version is closed at ``now`` and a copy of the new current state is appended, so the versions table
always holds the full history and answers "as of" reads with one indexed query.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session

from zhengwu.registries.credit.models import (
    CreditListEntry,
    CreditListEntryVersion,
    CreditRecord,
    CreditRecordVersion,
)

_RECORD_COLUMNS: Final = tuple(c.name for c in CreditRecord.__table__.columns if c.name != "id")
_ENTRY_COLUMNS: Final = tuple(c.name for c in CreditListEntry.__table__.columns if c.name != "id")


def record_changed(db: Session, record: CreditRecord, now: dt.datetime) -> None:
    """Close the open version of ``record`` (already flushed with its new state) and append the new one."""
    record.valid_from = now
    db.flush()
    db.execute(
        update(CreditRecordVersion)
        .where(CreditRecordVersion.record_id == record.id, CreditRecordVersion.valid_to.is_(None))
        .values(valid_to=now)
    )
    values: dict[str, Any] = {c: getattr(record, c) for c in _RECORD_COLUMNS}
    db.add(CreditRecordVersion(record_id=record.id, valid_to=None, **values))


def entry_changed(db: Session, entry: CreditListEntry, now: dt.datetime) -> None:
    """Close the open version of ``entry`` and append its new state."""
    entry.valid_from = now
    db.flush()
    db.execute(
        update(CreditListEntryVersion)
        .where(CreditListEntryVersion.entry_id == entry.id, CreditListEntryVersion.valid_to.is_(None))
        .values(valid_to=now)
    )
    values: dict[str, Any] = {c: getattr(entry, c) for c in _ENTRY_COLUMNS}
    db.add(CreditListEntryVersion(entry_id=entry.id, valid_to=None, **values))


def as_of_clause(model: type[CreditRecordVersion] | type[CreditListEntryVersion], when: dt.datetime) -> Any:
    """Versions that were current at ``when``."""
    return and_(model.valid_from <= when, or_(model.valid_to.is_(None), model.valid_to > when))
