"""calsync.recurrence: the canonical RRULE spelling and the expansion into occurrences."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.errors import ValidationError
from calsync.model import Booking, OccurrenceOverride, Recurrence
from calsync.model.rrule import canonical_rrule, normalise_rrule
from calsync.recurrence import expand

UTC = dt.UTC
BERLIN = ZoneInfo("Europe/Berlin")
YEAR_2024 = (dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2025, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("RRULE:freq=weekly;interval=1;byday=fr,mo", "FREQ=WEEKLY;BYDAY=MO,FR"),
        ("BYDAY=MO;FREQ=WEEKLY;WKST=MO", "FREQ=WEEKLY;BYDAY=MO"),
        ("FREQ=WEEKLY;BYDAY=MO;WKST=SU", "FREQ=WEEKLY;BYDAY=MO"),  # every week: WKST changes nothing
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;WKST=SU", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO;WKST=SU"),
        ("FREQ=MONTHLY;BYDAY=1MO;WKST=SU", "FREQ=MONTHLY;BYDAY=1MO"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,MO;WKST=SU", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;WKST=SU"),
        ("FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2", "FREQ=MONTHLY;BYDAY=2TU"),
        ("FREQ=MONTHLY;BYDAY=+1MO", "FREQ=MONTHLY;BYDAY=1MO"),
        ("FREQ=MONTHLY;BYMONTHDAY=15,1,15", "FREQ=MONTHLY;BYMONTHDAY=1,15"),
        ("FREQ=MONTHLY;BYMONTHDAY=31,28,29,30;BYSETPOS=-1", "FREQ=MONTHLY;BYMONTHDAY=-1"),
        ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=10", "FREQ=WEEKLY;COUNT=10;BYDAY=MO,TU,WE,TH,FR"),
        ("FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=-1", "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=30"),
        ("FREQ=DAILY;UNTIL=20240131;", "FREQ=DAILY;UNTIL=20240131"),
    ],
)
def test_equal_rules_are_spelled_one_way(given: str, canonical: str) -> None:
    assert normalise_rrule(given) == canonical
    assert normalise_rrule(canonical) == canonical


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ("INTERVAL=2", "has no FREQ"),
        ("FREQ=FORTNIGHTLY", "FREQ=FORTNIGHTLY"),
        ("FREQ=DAILY;COUNT=0", "COUNT=0"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20240101", "COUNT and UNTIL"),
        ("FREQ=DAILY;UNTIL=20240101T090000", "UNTIL=20240101T090000"),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY value 'XX'"),
        ("FREQ=WEEKLY;BYDAY=2MO", "ordinal"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY value 32"),
        ("FREQ=DAILY;COLOR=RED", "COLOR"),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ appears twice"),
    ],
)
def test_bad_rules_are_refused_naming_the_part(rule: str, named: str) -> None:
    with pytest.raises(ValidationError, match=named.replace("(", r"\(")):
        normalise_rrule(rule)


def test_canonical_rule_states_what_the_start_implies_and_ends_on_a_local_date() -> None:
    tuesday = dt.datetime(2024, 1, 16, 9, 0)
    assert canonical_rrule("FREQ=WEEKLY", tuesday, "Europe/Berlin") == "FREQ=WEEKLY;BYDAY=TU"
    assert canonical_rrule("FREQ=MONTHLY", tuesday, "Europe/Berlin") == "FREQ=MONTHLY;BYMONTHDAY=16"
    assert canonical_rrule("FREQ=YEARLY", tuesday, "Europe/Berlin") == "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=16"
    # 09:00 Berlin is 08:00 UTC: an UNTIL of 07:59 UTC on 30 Jan excludes that day's occurrence.
    assert canonical_rrule("FREQ=DAILY;UNTIL=20240130T075900Z", tuesday, "Europe/Berlin").endswith("UNTIL=20240129")
    assert canonical_rrule("FREQ=DAILY;UNTIL=20240130T080000Z", tuesday, "Europe/Berlin").endswith("UNTIL=20240130")


def test_the_booking_model_keeps_the_canonical_rule() -> None:
    booking = Booking(
        room="r",
        start=dt.datetime(2024, 1, 16, 9, tzinfo=BERLIN),
        end=dt.datetime(2024, 1, 16, 10, tzinfo=BERLIN),
        time_zone="Europe/Berlin",
        recurrence=Recurrence(rrule="rrule:freq=weekly;interval=1"),
    )
    assert booking.recurrence is not None and booking.recurrence.rrule == "FREQ=WEEKLY;BYDAY=TU"


def _weekly_berlin(**recurrence: object) -> Booking:
    return Booking(
        room="r",
        subject="Standup",
        start=dt.datetime(2024, 3, 18, 9, tzinfo=BERLIN),
        end=dt.datetime(2024, 3, 18, 9, 30, tzinfo=BERLIN),
        time_zone="Europe/Berlin",
        recurrence=Recurrence(**recurrence),  # type: ignore[arg-type]
    )


def test_weekly_series_stays_at_local_nine_across_the_dst_change() -> None:
    occurrences = expand(_weekly_berlin(rrule="FREQ=WEEKLY;COUNT=3"), *YEAR_2024)
    starts = [o.start for o in occurrences]
    assert starts == [
        dt.datetime(2024, 3, 18, 8, tzinfo=UTC),  # CET, UTC+1
        dt.datetime(2024, 3, 25, 8, tzinfo=UTC),
        dt.datetime(2024, 4, 1, 7, tzinfo=UTC),  # CEST from 31 March, UTC+2
    ]
    assert all(o.end - o.start == dt.timedelta(minutes=30) for o in occurrences)


def test_until_is_the_last_local_day_inclusive() -> None:
    occurrences = expand(_weekly_berlin(rrule="FREQ=WEEKLY;UNTIL=20240401"), *YEAR_2024)
    assert [o.start.date() for o in occurrences] == [dt.date(2024, 3, 18), dt.date(2024, 3, 25), dt.date(2024, 4, 1)]


def test_exdates_remove_and_overrides_replace_occurrences() -> None:
    moved = OccurrenceOverride(
        original_start=dt.datetime(2024, 3, 25, 8, tzinfo=UTC),
        start=dt.datetime(2024, 3, 26, 12, tzinfo=UTC),
        end=dt.datetime(2024, 3, 26, 13, tzinfo=UTC),
        subject="Standup (moved)",
    )
    booking = _weekly_berlin(
        rrule="FREQ=WEEKLY;COUNT=4", exdates=(dt.datetime(2024, 4, 1, 7, tzinfo=UTC),), overrides=(moved,)
    )
    occurrences = expand(booking, *YEAR_2024)
    assert [(o.start, o.subject) for o in occurrences] == [
        (dt.datetime(2024, 3, 18, 8, tzinfo=UTC), None),
        (dt.datetime(2024, 3, 26, 12, tzinfo=UTC), "Standup (moved)"),
        (dt.datetime(2024, 4, 8, 7, tzinfo=UTC), None),
    ]
    assert occurrences[1].original_start == moved.original_start


def test_window_keeps_only_overlapping_occurrences_including_one_moved_into_it() -> None:
    moved = OccurrenceOverride(
        original_start=dt.datetime(2024, 3, 18, 8, tzinfo=UTC),
        start=dt.datetime(2024, 4, 2, 12, tzinfo=UTC),
        end=dt.datetime(2024, 4, 2, 13, tzinfo=UTC),
    )
    booking = _weekly_berlin(rrule="FREQ=WEEKLY", overrides=(moved,))
    window = (dt.datetime(2024, 3, 31, tzinfo=UTC), dt.datetime(2024, 4, 8, 7, 15, tzinfo=UTC))
    assert [o.start for o in expand(booking, *window)] == [
        dt.datetime(2024, 4, 1, 7, tzinfo=UTC),
        dt.datetime(2024, 4, 2, 12, tzinfo=UTC),
        dt.datetime(2024, 4, 8, 7, tzinfo=UTC),  # still running at the window's end
    ]


def test_single_booking_is_one_occurrence_and_all_day_runs_midnight_to_midnight() -> None:
    single = Booking(room="r", start=dt.datetime(2024, 5, 1, 8, tzinfo=UTC), end=dt.datetime(2024, 5, 1, 9, tzinfo=UTC))
    assert [(o.start, o.end) for o in expand(single, *YEAR_2024)] == [(single.start, single.end)]
    assert expand(single, dt.datetime(2024, 5, 1, 9, tzinfo=UTC), dt.datetime(2024, 5, 2, tzinfo=UTC)) == []

    all_day = Booking(
        room="r",
        all_day=True,
        time_zone="America/New_York",
        start=dt.date(2024, 3, 9),
        end=dt.date(2024, 3, 10),
        recurrence=Recurrence(rrule="FREQ=DAILY;COUNT=2", exdates=()),
    )
    occurrences = expand(all_day, *YEAR_2024)
    assert [(o.start, o.end) for o in occurrences] == [
        (dt.datetime(2024, 3, 9, 5, tzinfo=UTC), dt.datetime(2024, 3, 10, 5, tzinfo=UTC)),
        (dt.datetime(2024, 3, 10, 5, tzinfo=UTC), dt.datetime(2024, 3, 11, 4, tzinfo=UTC)),  # 23-hour day
    ]


def test_all_day_exdate_is_a_local_date() -> None:
    booking = Booking(
        room="r",
        all_day=True,
        time_zone="Asia/Tokyo",
        start=dt.date(2024, 1, 1),
        end=dt.date(2024, 1, 2),
        recurrence=Recurrence(rrule="FREQ=DAILY;COUNT=3", exdates=(dt.date(2024, 1, 2),)),
    )
    assert [o.start for o in expand(booking, *YEAR_2024)] == [
        dt.datetime(2023, 12, 31, 15, tzinfo=UTC),
        dt.datetime(2024, 1, 2, 15, tzinfo=UTC),
    ]


def test_naive_window_is_refused() -> None:
    with pytest.raises(ValidationError, match="window_start"):
        expand(_weekly_berlin(rrule="FREQ=DAILY"), dt.datetime(2024, 1, 1), YEAR_2024[1])


def test_booking_from_a_strict_rfc_system_gets_until_as_a_local_date() -> None:
    booking = Booking(
        room="r",
        start=dt.datetime(2024, 1, 15, 9, tzinfo=BERLIN),
        end=dt.datetime(2024, 1, 15, 10, tzinfo=BERLIN),
        time_zone="Europe/Berlin",
        recurrence=Recurrence(rrule="FREQ=WEEKLY;UNTIL=20240129T080000Z"),
    )
    assert booking.recurrence is not None and booking.recurrence.rrule == "FREQ=WEEKLY;UNTIL=20240129;BYDAY=MO"
    assert len(expand(booking, *YEAR_2024)) == 3


def test_until_before_the_first_occurrence_is_refused() -> None:
    with pytest.raises(ValueError, match="before its first occurrence"):
        Booking(
            room="r",
            start=dt.datetime(2024, 1, 15, 9, tzinfo=BERLIN),
            end=dt.datetime(2024, 1, 15, 10, tzinfo=BERLIN),
            time_zone="Europe/Berlin",
            recurrence=Recurrence(rrule="FREQ=DAILY;UNTIL=20240101T000000Z"),
        )


@given(
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]),
    start=st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2025, 12, 31)),
    rule=st.sampled_from(["FREQ=DAILY;COUNT=40", "FREQ=WEEKLY;INTERVAL=2;COUNT=30", "FREQ=MONTHLY;COUNT=14"]),
    minutes=st.integers(15, 240),
)
def test_occurrences_keep_the_local_wall_time_across_dst(
    zone: str, start: dt.datetime, rule: str, minutes: int
) -> None:
    local_start = start.replace(second=0, microsecond=0, tzinfo=ZoneInfo(zone))
    if local_start.replace(tzinfo=None) != local_start.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None):
        return  # a wall time that does not exist (spring-forward gap)
    booking = Booking(
        room="r",
        start=local_start,
        # exactly ``minutes`` long: aware arithmetic in one ZoneInfo adds wall time, which a DST change shortens
        end=(local_start.astimezone(UTC) + dt.timedelta(minutes=minutes)).astimezone(ZoneInfo(zone)),
        time_zone=zone,
        recurrence=Recurrence(rrule=rule),
    )
    occurrences = expand(booking, dt.datetime(2023, 1, 1, tzinfo=UTC), dt.datetime(2029, 1, 1, tzinfo=UTC))
    assert len(occurrences) == int(rule.rsplit("=", 1)[1]) or rule.startswith("FREQ=MONTHLY")
    for occurrence in occurrences:
        local = occurrence.start.astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute) == (local_start.hour, local_start.minute) or _in_gap(local, zone)
        assert occurrence.end - occurrence.start == dt.timedelta(minutes=minutes)


def _in_gap(local: dt.datetime, zone: str) -> bool:
    """True when the series' wall time does not exist on this day (clocks jumped over it)."""
    return local.utcoffset() != (local - dt.timedelta(days=1)).astimezone(ZoneInfo(zone)).utcoffset()
