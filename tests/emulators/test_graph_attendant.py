"""The emulated Calendar Attendant's decision, as a pure function (Set-CalendarProcessing rules)."""

from __future__ import annotations

import datetime as dt

import pytest

from devstack.graph_attendant import CalendarProcessing, Invitation, Verdict, decide, room_copy_fields

NOW = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def weekly(count: int) -> Invitation:
    first = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
    return Invitation(
        tuple((first + dt.timedelta(weeks=n), first + dt.timedelta(weeks=n) + HOUR) for n in range(count)),
        recurring=True,
    )


def test_overrides_take_field_or_powershell_names_and_refuse_unknown_ones() -> None:
    policy = CalendarProcessing().with_overrides(AllowConflicts=True, booking_window_in_days=30)
    assert (policy.allow_conflicts, policy.booking_window_in_days) == (True, 30)
    with pytest.raises(TypeError):
        CalendarProcessing().with_overrides(AllowDoubleBooking=True)
    with pytest.raises(ValueError):
        CalendarProcessing().with_overrides(AutomateProcessing="Sometimes")


def test_series_is_declined_when_conflicts_exceed_either_limit() -> None:
    series = weekly(4)
    busy = [series.occurrences[1], series.occurrences[2]]
    lenient = CalendarProcessing(maximum_conflict_instances=2, conflict_percentage_allowed=25)
    assert decide(lenient, series, busy, NOW).verdict is Verdict.DECLINE  # 2 of 4 is 50 % > 25 %
    enough = CalendarProcessing(maximum_conflict_instances=2, conflict_percentage_allowed=50)
    decision = decide(enough, series, busy, NOW)
    assert decision.verdict is Verdict.ACCEPT
    assert decision.declined_occurrences == (series.occurrences[1][0], series.occurrences[2][0])


def test_series_reaching_past_the_booking_window_is_declined_while_the_horizon_is_enforced() -> None:
    series = Invitation(weekly(2).occurrences, recurring=True, beyond_horizon=True)
    assert decide(CalendarProcessing(), series, [], NOW).verdict is Verdict.DECLINE
    relaxed = CalendarProcessing(enforce_scheduling_horizon=False)
    assert decide(relaxed, series, [], NOW).verdict is Verdict.ACCEPT


def test_auto_update_and_no_processing_skip_the_policy() -> None:
    clash = Invitation(((NOW + HOUR, NOW + 2 * HOUR),))
    busy = [clash.occurrences[0]]
    assert decide(CalendarProcessing(automate_processing="AutoUpdate"), clash, busy, NOW).verdict is Verdict.TENTATIVE
    assert decide(CalendarProcessing(automate_processing="None"), clash, busy, NOW).verdict is Verdict.UNPROCESSED


def test_room_copy_fields_follow_the_subject_and_comment_settings() -> None:
    event = {"subject": "Plan", "body": {"contentType": "html", "content": "<p>x</p>"}, "sensitivity": "private"}
    assert room_copy_fields(CalendarProcessing(), event, "Ada") == {
        "subject": "Ada",
        "body": {"contentType": "html", "content": ""},
        "sensitivity": "normal",
    }
    only_name_off = CalendarProcessing(delete_subject=True, add_organizer_to_subject=False)
    assert room_copy_fields(only_name_off, event, "Ada")["subject"] == ""
    keep = CalendarProcessing(delete_subject=False, add_organizer_to_subject=False, remove_private_property=False)
    assert room_copy_fields(keep, event, "Ada")["subject"] == "Plan"
    assert room_copy_fields(keep, event, "Ada")["sensitivity"] == "private"
