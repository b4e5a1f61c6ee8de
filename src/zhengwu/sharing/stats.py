"""Statistics per department: resources published, share-type mix, requests answered on time.

Definitions (so that the figures mean the same on the page, in the API and in reports):

* *received*: share requests to the department, withdrawn ones excluded; *auto-granted*: those of
  unconditional resources (no review, so they count neither as on time nor late); *reviewed*: the rest.
* *answered on time*: a reviewed request answered on or before its deadline (``due_on``); *late*: after.
* *overdue*: still pending after its deadline, on the day asked.
* *average working days*: mean working days from submission to answer (submission day not counted) of
  the reviewed, answered requests.
* *period*: with ``period_from``/``period_to`` (Beijing dates, both inclusive), requests and corrections
  count only if submitted in the period (the quarterly assessment asks "of what came in this quarter, how
  much was answered on time"); published resources and active grants are always as of today.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import case, func, select, true
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department
from zhengwu.accounts.permissions import Actor, require_authenticated
from zhengwu.catalog.models import Resource, ResourceStatus, ShareType
from zhengwu.errors import ValidationError
from zhengwu.sharing.calendar import beijing_today
from zhengwu.sharing.models import (
    SHARE_TYPE_ZH,
    CorrectionRequest,
    CorrectionStatus,
    Grant,
    GrantStatus,
    RequestStatus,
    ShareRequest,
)
from zhengwu.sharing.schemas import Bar, DepartmentStats, SharingStats

_COUNTERS = (
    "resources_published",
    "unconditional",
    "conditional",
    "none",
    "requests_received",
    "auto_granted",
    "reviewed_received",
    "answered",
    "answered_on_time",
    "answered_late",
    "pending",
    "overdue",
    "requests_made",
    "active_grants_given",
    "corrections_received",
    "corrections_open",
    "corrections_overdue",
)


def bars(items: list[tuple[str, int]]) -> list[Bar]:
    """Bars scaled to the largest value (widths in percent, at least 1 for a non-zero value)."""
    top = max((v for _, v in items), default=0)
    return [
        Bar(label=label, value=value, share=0 if not top or not value else max(1, round(100 * value / top)))
        for label, value in items
    ]


def _sum(counts: dict[int, dict[str, Any]], rows: Any, *names: str) -> None:
    for row in rows:
        dept = int(row[0])
        for name, value in zip(names, row[1:], strict=True):
            counts[dept][name] += int(value or 0)


def _in_period(column: Any, period_from: dt.date | None, period_to: dt.date | None) -> Any:
    condition = true()
    if period_from is not None:
        condition = condition & (column >= period_from)
    if period_to is not None:
        condition = condition & (column <= period_to)
    return condition


def sharing_stats(
    db: Session,
    *,
    actor: Actor,
    today: dt.date | None = None,
    top: int = 15,
    period_from: dt.date | None = None,
    period_to: dt.date | None = None,
) -> SharingStats:
    """Figures of every department with any catalog or sharing activity, and platform totals."""
    require_authenticated(actor)
    if period_from is not None and period_to is not None and period_from > period_to:
        raise ValidationError(
            "统计区间的结束日期早于开始日期",
            message_en="the period ends before it starts",
            code="sharing.stats.bad_period",
            field="to",
        )
    today = today or beijing_today()
    requests_in_period = _in_period(ShareRequest.submitted_on, period_from, period_to)
    corrections_in_period = _in_period(CorrectionRequest.submitted_on, period_from, period_to)
    counts: dict[int, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(_COUNTERS, 0))
    taken_sum: dict[int, int] = defaultdict(int)

    published = Resource.status == ResourceStatus.PUBLISHED
    _sum(
        counts,
        db.execute(
            select(
                Resource.provider_id,
                func.count(),
                func.sum(case((Resource.share_type == ShareType.UNCONDITIONAL, 1), else_=0)),
                func.sum(case((Resource.share_type == ShareType.CONDITIONAL, 1), else_=0)),
                func.sum(case((Resource.share_type == ShareType.NONE, 1), else_=0)),
            )
            .where(published)
            .group_by(Resource.provider_id)
        ),
        "resources_published",
        "unconditional",
        "conditional",
        "none",
    )
    reviewed = ShareRequest.auto_granted.is_(False)
    answered = (
        reviewed
        & ShareRequest.answered_on.is_not(None)
        & ShareRequest.status.in_([RequestStatus.APPROVED, RequestStatus.REFUSED])
    )
    pending = ShareRequest.status == RequestStatus.PENDING
    for row in db.execute(
        select(
            ShareRequest.provider_id,
            func.count(),
            func.sum(case((ShareRequest.auto_granted.is_(True), 1), else_=0)),
            func.sum(case((reviewed, 1), else_=0)),
            func.sum(case((answered, 1), else_=0)),
            func.sum(case((answered & (ShareRequest.answered_on <= ShareRequest.due_on), 1), else_=0)),
            func.sum(case((answered & (ShareRequest.answered_on > ShareRequest.due_on), 1), else_=0)),
            func.sum(case((pending, 1), else_=0)),
            func.sum(case((pending & (ShareRequest.due_on < today), 1), else_=0)),
            func.sum(case((answered, ShareRequest.working_days_taken), else_=0)),
        )
        .where(ShareRequest.status != RequestStatus.WITHDRAWN, requests_in_period)
        .group_by(ShareRequest.provider_id)
    ):
        dept = int(row[0])
        for name, value in zip(_COUNTERS[4:12], row[1:9], strict=True):
            counts[dept][name] += int(value or 0)
        taken_sum[dept] += int(row[9] or 0)
    _sum(
        counts,
        db.execute(
            select(ShareRequest.consumer_id, func.count())
            .where(ShareRequest.status != RequestStatus.WITHDRAWN, requests_in_period)
            .group_by(ShareRequest.consumer_id)
        ),
        "requests_made",
    )
    _sum(
        counts,
        db.execute(
            select(Grant.provider_id, func.count())
            .where(Grant.status == GrantStatus.ACTIVE, Grant.valid_until >= today)
            .group_by(Grant.provider_id)
        ),
        "active_grants_given",
    )
    is_open = CorrectionRequest.status == CorrectionStatus.OPEN
    _sum(
        counts,
        db.execute(
            select(
                CorrectionRequest.provider_id,
                func.count(),
                func.sum(case((is_open, 1), else_=0)),
                func.sum(case((is_open & (CorrectionRequest.due_on < today), 1), else_=0)),
            )
            .where(corrections_in_period)
            .group_by(CorrectionRequest.provider_id)
        ),
        "corrections_received",
        "corrections_open",
        "corrections_overdue",
    )

    names = {int(i): str(n) for i, n in db.execute(select(Department.id, Department.name))}
    departments = [
        DepartmentStats(
            department_id=dept,
            department_name=names.get(dept, str(dept)),
            avg_working_days=round(taken_sum[dept] / c["answered"], 1) if c["answered"] else None,
            **c,
        )
        for dept, c in counts.items()
    ]
    departments.sort(key=lambda d: (-d.resources_published, -d.requests_received, d.department_name))
    total = dict.fromkeys(_COUNTERS, 0)
    for d in departments:
        for name in _COUNTERS:
            total[name] += getattr(d, name)
    total_taken = sum(taken_sum.values())
    totals = DepartmentStats(
        department_id=0,
        department_name="全平台",
        avg_working_days=round(total_taken / total["answered"], 1) if total["answered"] else None,
        **total,
    )
    return SharingStats(
        today=today,
        period_from=period_from,
        period_to=period_to,
        departments=departments,
        totals=totals,
        resources_by_provider=bars(
            [(d.department_name, d.resources_published) for d in departments if d.resources_published][:top]
        ),
        share_type_mix=share_type_mix(totals),
    )


def share_type_mix(d: DepartmentStats) -> list[Bar]:
    """The share-type mix of one department's (or the platform's) published resources."""
    return bars(
        [
            (SHARE_TYPE_ZH[ShareType.UNCONDITIONAL.value], d.unconditional),
            (SHARE_TYPE_ZH[ShareType.CONDITIONAL.value], d.conditional),
            (SHARE_TYPE_ZH[ShareType.NONE.value], d.none),
        ]
    )
