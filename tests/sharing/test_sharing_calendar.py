"""Working-day arithmetic on the Chinese official calendar.

Expected dates are worked out by hand from the State Council holiday notices:
* 国办发明电〔2024〕12号 (2025): 春节 1月28日至2月4日放假，1月26日（周日）、2月8日（周六）上班；
  国庆节、中秋节 10月1日至8日放假，9月28日（周日）、10月11日（周六）上班。
* 国办发明电〔2025〕7号 (2026): 元旦 1月1日至3日放假，1月4日（周日）上班；春节 2月15日至23日放假，
  2月14日（周六）、2月28日（周六）上班；劳动节 5月1日至5日，5月9日（周六）上班；
  国庆节 10月1日至7日放假，9月20日（周日）、10月10日（周六）上班。
Day 1 is the first working day after the submission date.
"""

from __future__ import annotations

import datetime as dt

import pytest

from zhengwu.sharing import calendar as cal
from zhengwu.sharing.calendar import (
    add_working_days,
    beijing_date,
    calendar_covers,
    is_working_day,
    working_days_between,
)

D = dt.date


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2025, 1, 26), True),  # Sunday made a working day (调休) before Spring Festival
        (D(2025, 1, 28), False),  # 除夕
        (D(2025, 2, 4), False),  # last day of the 2025 Spring Festival break
        (D(2025, 2, 8), True),  # Saturday working day
        (D(2025, 9, 28), True),  # Sunday working day before National Day
        (D(2025, 10, 8), False),  # last day of the 8-day 2025 National Day / Mid-Autumn break
        (D(2025, 10, 11), True),  # Saturday working day
        (D(2026, 1, 4), True),  # Sunday working day after New Year
        (D(2026, 2, 14), True),  # Saturday working day before Spring Festival
        (D(2026, 2, 23), False),  # last day of the 9-day 2026 Spring Festival break
        (D(2026, 2, 28), True),  # Saturday working day after it
        (D(2026, 5, 9), True),
        (D(2026, 9, 20), True),
        (D(2026, 10, 7), False),
        (D(2026, 10, 10), True),
        (D(2026, 6, 6), False),  # an ordinary Saturday
        (D(2026, 6, 8), True),  # an ordinary Monday
    ],
)
def test_official_working_days(day: dt.date, working: bool) -> None:
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # Friday before the 2025 Spring Festival: 1/26(Sun) 1/27, break, 2/5 2/6 2/7 2/8(Sat) 2/10..2/13.
        (D(2025, 1, 24), 10, D(2025, 2, 13)),
        # Submitted on the 调休 Sunday itself: it does not count; 9/29 9/30, break to 10/8, 10/9 10/10
        # 10/11(Sat) 10/13..10/17.
        (D(2025, 9, 28), 10, D(2025, 10, 17)),
        # Submitted during the National Day break: day 1 is 10/9.
        (D(2025, 10, 3), 10, D(2025, 10, 21)),
        (D(2025, 10, 3), 1, D(2025, 10, 9)),
        # Friday before the 2026 Spring Festival: 2/14(Sat), break to 2/23, 2/24..2/27, 2/28(Sat), 3/2..3/5.
        (D(2026, 2, 13), 10, D(2026, 3, 5)),
        # Submitted on the 2026 Saturday working day: it does not count either.
        (D(2026, 2, 14), 10, D(2026, 3, 6)),
        # Before National Day 2026: break 10/1-10/7, 10/8 10/9 10/10(Sat) 10/12..10/16 10/19 10/20.
        (D(2026, 9, 30), 10, D(2026, 10, 20)),
        # Across the 2026 New Year: 1/4 (Sunday) is working day 1.
        (D(2025, 12, 31), 1, D(2026, 1, 4)),
        # An ordinary fortnight.
        (D(2026, 6, 1), 10, D(2026, 6, 15)),
        (D(2026, 6, 1), 0, D(2026, 6, 1)),
    ],
)
def test_add_working_days(start: dt.date, n: int, due: dt.date) -> None:
    assert add_working_days(start, n) == due
    assert working_days_between(start, due) == n


def test_add_working_days_backwards() -> None:
    assert add_working_days(D(2025, 2, 13), -10) == D(2025, 1, 24)
    assert add_working_days(D(2026, 2, 24), -1) == D(2026, 2, 14)


def test_working_days_between_counts_after_a_up_to_b() -> None:
    assert working_days_between(D(2026, 6, 1), D(2026, 6, 1)) == 0
    assert working_days_between(D(2026, 6, 5), D(2026, 6, 8)) == 1  # Friday → Monday
    # The whole 2026 Spring Festival break is no working day at all.
    assert working_days_between(D(2026, 2, 14), D(2026, 2, 23)) == 0
    # Negative when b is before a: the countdown shows overdue days.
    assert working_days_between(D(2026, 6, 8), D(2026, 6, 5)) == -1
    assert working_days_between(D(2025, 10, 17), D(2025, 9, 28)) == -10


def test_beyond_the_known_years_falls_back_to_weekends(caplog: pytest.LogCaptureFixture) -> None:
    first, last = cal._known_years()
    beyond = D(last + 1, 1, 1)
    assert not calendar_covers(beyond)
    assert calendar_covers(D(last, 6, 1)) and calendar_covers(D(first, 6, 1))
    # A Monday in an unknown year is a working day, a Saturday is not, whatever the holidays will be.
    monday = beyond + dt.timedelta(days=(7 - beyond.weekday()) % 7)
    assert is_working_day(monday) and not is_working_day(monday + dt.timedelta(days=5))
    # 10 weekdays after a Monday is the Monday two weeks later.
    assert add_working_days(monday, 10) == monday + dt.timedelta(days=14)


def test_crossing_into_an_unknown_year_mixes_exact_and_estimate() -> None:
    _first, last = cal._known_years()
    if last != 2026:
        pytest.fail("update this test for the installed chinesecalendar range")
    # 2026-12-25 is a Friday; 12/28..12/31 are exact (4 days), 2027 counted on weekdays only (1/1 is a
    # Friday and a holiday in reality, counted as working day 5 by the estimate).
    assert add_working_days(D(2026, 12, 25), 10) == D(2027, 1, 8)


def test_refuses_absurd_counts() -> None:
    with pytest.raises(ValueError, match="working days"):
        add_working_days(D(2026, 1, 1), 100_000)


def test_beijing_date_of_a_late_evening_utc_moment() -> None:
    # 2026-06-05 16:30 UTC is Saturday 00:30 in Beijing: a Saturday submission.
    assert beijing_date(dt.datetime(2026, 6, 5, 16, 30, tzinfo=dt.UTC)) == D(2026, 6, 6)
    assert beijing_date(dt.datetime(2026, 6, 5, 15, 59, tzinfo=dt.UTC)) == D(2026, 6, 5)
