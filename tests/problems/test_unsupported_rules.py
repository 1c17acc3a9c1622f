"""Recurrence rules the booking API accepts but Graph cannot express: refused exactly, never retried.

One test per rule class: each raises UnsupportedRecurrence naming the part Graph lacks,
and such a failure is dead-lettered at once (never approximated, never retried).
"""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.errors import UnsupportedRecurrence
from calsync.outlook.patterns import rrule_to_pattern
from calsync.problems.classify import Verdict, classify

ZONE = "Europe/Berlin"


def refused(rule: str, start: dt.datetime) -> UnsupportedRecurrence:
    with pytest.raises(UnsupportedRecurrence) as raised:
        rrule_to_pattern(rule, start, ZONE)
    assert classify(raised.value).verdict is Verdict.DEAD_LETTER
    return raised.value


def test_monthly_on_day_30_that_skips_short_months_is_refused() -> None:
    assert "BYMONTHDAY=30" in str(refused("FREQ=MONTHLY;BYMONTHDAY=30", dt.datetime(2026, 1, 30, 9)))


def test_yearly_on_29_february_that_skips_common_years_is_refused() -> None:
    assert "BYMONTHDAY=29" in str(refused("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", dt.datetime(2028, 2, 29, 9)))


def test_byhour_is_refused() -> None:
    assert "BYHOUR" in str(refused("FREQ=DAILY;BYHOUR=9,14", dt.datetime(2026, 1, 5, 9)))


def test_bysetpos_beyond_first_to_fourth_or_last_is_refused() -> None:
    assert "position" in str(refused("FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=5", dt.datetime(2026, 1, 5, 9)))


def test_several_bysetpos_positions_are_refused() -> None:
    assert "BYSETPOS" in str(refused("FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=1,-1", dt.datetime(2026, 1, 5, 9)))


def test_monthly_every_such_weekday_is_refused() -> None:
    assert "BYDAY" in str(refused("FREQ=MONTHLY;BYDAY=MO", dt.datetime(2026, 1, 5, 9)))


def test_several_months_in_a_yearly_rule_are_refused() -> None:
    assert "BYMONTH" in str(refused("FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=5", dt.datetime(2026, 1, 5, 9)))


def test_finer_than_daily_is_refused() -> None:
    assert "FREQ=HOURLY" in str(refused("FREQ=HOURLY;INTERVAL=2", dt.datetime(2026, 1, 5, 9)))


def test_weekly_count_with_a_day_list_maps_exactly() -> None:
    pattern = rrule_to_pattern("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6", dt.datetime(2026, 1, 5, 9), ZONE)
    assert pattern.range.number_of_occurrences == 6  # Graph counts occurrences, as COUNT does
