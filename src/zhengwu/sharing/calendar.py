"""Working days on the Chinese official calendar, for answer deadlines of share and correction requests.

Rules (国发〔2016〕51号 and 政务数据共享条例 say "N 个工作日"; how to count them is fixed here):

* A working day is a day the State Council's annual holiday notice (国务院办公厅关于某年部分节假日安排的通知)
  makes a working day: Monday to Friday unless it is a public holiday or a bridging day off (放假调休),
  plus the weekend days declared working days (调休上班, e.g. Sunday 2025-09-28).
* The day of submission never counts. Day 1 is the first working day *after* the submission date, whatever
  the hour of submission. A request submitted on a holiday or a weekend therefore starts counting on the
  next working day too. The deadline (``due_on``) is working day N; an answer given on ``due_on`` is on
  time, a request still unanswered after ``due_on`` is overdue.
* Dates are Beijing dates (UTC+8): a request sent at 23:30 Beijing time on Friday is a Friday request even
  though it is still Friday 15:30 in UTC; see :func:`beijing_today`.

The holiday data comes from the ``chinesecalendar`` package, which only knows the years whose notice had
been published when it was released (a notice appears around November for the next year). For a date
outside the years it knows, this module falls back to **weekends only** (Monday–Friday are working days):
the deadline is then an estimate that ignores the holidays of that year; :func:`calendar_covers` says
whether a date is known exactly so pages can say "按周末推算". Upgrading the package (and re-running the
sweep, which recomputes the deadlines of pending requests) makes the estimate exact.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

import chinese_calendar

from zhengwu.db import BEIJING

log = logging.getLogger("zhengwu.sharing.calendar")

# An upper bound on any sane deadline: keeps a mistaken argument from looping for years.
MAX_WORKING_DAYS = 3_650


@functools.cache
def _known_years() -> tuple[int, int]:
    # The package keeps its own range; reading it from the data keeps this right across package upgrades.
    years = {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
    return min(years), max(years)


def calendar_covers(day: dt.date) -> bool:
    """Whether ``day`` falls in a year whose official holiday notice the installed package knows."""
    first, last = _known_years()
    return first <= day.year <= last


@functools.cache
def _warn_once(year: int) -> None:
    log.warning(
        "chinesecalendar has no holiday data for %s: counting weekends only (upgrade chinesecalendar)", year
    )


def is_working_day(day: dt.date) -> bool:
    """Whether ``day`` is an official working day (weekends-only estimate outside the known years)."""
    if calendar_covers(day):
        return bool(chinese_calendar.is_workday(day))
    _warn_once(day.year)
    return day.weekday() < 5


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The date of working day ``n`` counted from ``start`` (``start`` itself never counts).

    ``add_working_days(d, 0)`` is ``d``. Negative ``n`` counts backwards (the ``n``-th working day
    before ``start``).
    """
    if abs(n) > MAX_WORKING_DAYS:
        raise ValueError(f"n must be within ±{MAX_WORKING_DAYS} working days, got {n}")
    step = dt.timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    day = start
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(a: dt.date, b: dt.date) -> int:
    """How many working days lie after ``a`` up to and including ``b``; negative when ``b`` is before ``a``.

    The inverse of :func:`add_working_days` for working-day targets:
    ``working_days_between(d, add_working_days(d, n)) == n``. Used for the working days a provider took
    (submission date → answer date) and for the countdown to a deadline (today → due date: 0 means due
    today, negative means that many working days overdue).
    """
    if b < a:
        return -working_days_between(b, a)
    count = 0
    day = a
    one = dt.timedelta(days=1)
    while day < b:
        day += one
        if is_working_day(day):
            count += 1
    return count


def beijing_date(moment: dt.datetime) -> dt.date:
    """The Beijing calendar date of an aware moment (naive moments are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(BEIJING).date()


def beijing_today() -> dt.date:
    """Today's date in Beijing."""
    return dt.datetime.now(BEIJING).date()


def holiday_name(day: dt.date) -> str | None:
    """The holiday a non-working weekday belongs to (English name from the package), if known."""
    if not calendar_covers(day):
        return None
    on_holiday, name = chinese_calendar.get_holiday_detail(day)
    return str(name) if on_holiday and name else None


__all__ = [
    "BEIJING",
    "MAX_WORKING_DAYS",
    "add_working_days",
    "beijing_date",
    "beijing_today",
    "calendar_covers",
    "holiday_name",
    "is_working_day",
    "working_days_between",
]
