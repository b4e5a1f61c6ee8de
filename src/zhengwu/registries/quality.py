"""The data quality measures every registry shares: completeness per optional field, stale records and
ingestion batches, overall and per source department.

Each registry names its table (any model with ``source_department`` and ``valid_from`` columns), its
optional fields and the batch names its deliveries are recorded under; its duplicate rule stays its
own. Used by the population/entity report (:func:`zhengwu.registries.services.quality_report`) and
the credit registry's (:func:`zhengwu.registries.credit.quality.credit_quality`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from zhengwu.db import utcnow
from zhengwu.registries.models import RegistryBatch
from zhengwu.registries.schemas import FieldCompleteness, SourceQuality


@dataclass(frozen=True)
class SourceFigures:
    """The shared part of a quality report: totals and the per-source rows."""

    records: int
    stale: int
    completeness: list[FieldCompleteness]
    sources: list[SourceQuality]


def source_figures(
    db: Session,
    *,
    model: Any,
    optional: Sequence[str],
    batch_names: Sequence[str],
    stale_days: int,
) -> SourceFigures:
    """Completeness of ``optional`` fields of ``model``, records unchanged for ``stale_days`` and the
    batches recorded under ``batch_names``, per source department and in total."""
    cutoff = utcnow() - dt.timedelta(days=stale_days)
    counts = [func.count(getattr(model, f)) for f in optional]
    stale_expr = func.sum(case((model.valid_from < cutoff, 1), else_=0))
    rows = db.execute(
        select(model.source_department, func.count(), stale_expr, *counts)
        .group_by(model.source_department)
        .order_by(model.source_department)
    ).all()
    batch_rows = {
        r[0]: r[1:]
        for r in db.execute(
            select(
                RegistryBatch.source_department,
                func.count(),
                func.coalesce(func.sum(RegistryBatch.rows_read), 0),
                func.coalesce(func.sum(RegistryBatch.rows_invalid), 0),
            )
            .where(RegistryBatch.registry_name.in_(list(batch_names)))
            .group_by(RegistryBatch.source_department)
        ).all()
    }
    sources: list[SourceQuality] = []
    for source, total, stale, *filled in rows:
        b = batch_rows.get(source, (0, 0, 0))
        sources.append(
            SourceQuality(
                source_department=source,
                records=total,
                stale=int(stale or 0),
                batches=int(b[0]),
                rows_read=int(b[1]),
                rows_invalid=int(b[2]),
                completeness=[
                    FieldCompleteness(field=f, filled=int(n), total=total)
                    for f, n in zip(optional, filled, strict=True)
                ],
            )
        )
    for source, b in batch_rows.items():
        if source not in {s.source_department for s in sources}:
            sources.append(
                SourceQuality(
                    source_department=source,
                    records=0,
                    stale=0,
                    batches=int(b[0]),
                    rows_read=int(b[1]),
                    rows_invalid=int(b[2]),
                    completeness=[],
                )
            )
    records = sum(s.records for s in sources)
    completeness = [
        FieldCompleteness(
            field=f,
            filled=sum(c.filled for s in sources for c in s.completeness if c.field == f),
            total=records,
        )
        for f in optional
    ]
    return SourceFigures(records, sum(s.stale for s in sources), completeness, sources)
