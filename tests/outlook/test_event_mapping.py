"""Graph Event <-> Booking, on Microsoft's documentation payloads and on round trips."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calsync.errors import UnsupportedRecurrence, ValidationError
from calsync.model import Booking, BookingKind, BookingStatus, Recurrence, Sensitivity
from calsync.outlook.event_mapping import (
    BLOCK_CATEGORY,
    STAMP_PROPERTY_ID,
    InstanceAction,
    booking_to_event,
    event_patch,
    event_to_booking,
    plan_instance_changes,
    removed_reason,
    stamp_filter,
    stamp_of,
)
from calsync.outlook.serialization import event_to_dict, parse_event
from calsync.recurrence import expand

UTC = dt.UTC
DOCS = Path(__file__).parent / "graph_docs"
EVER = (dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2100, 1, 1, tzinfo=UTC))


def doc(name: str) -> dict[str, Any]:
    return json.loads((DOCS / name).read_text(encoding="utf-8"))


def written(booking: Booking, *, stamp: str | None = None) -> dict[str, Any]:
    return event_to_dict(booking_to_event(booking, private_subject="Private booking", stamp=stamp))


# --- documentation payloads -------------------------------------------------------------------


def test_documented_single_instance_maps_to_a_utc_booking() -> None:
    booking = event_to_booking(parse_event(doc("create_event_single_instance.json")), room="rainier")
    assert booking.subject == "Let's go brunch"
    assert booking.start == dt.datetime(2017, 4, 15, 18, 0, tzinfo=UTC)  # 11:00 Pacific Daylight Time
    assert booking.end == dt.datetime(2017, 4, 15, 19, 0, tzinfo=UTC)
    assert booking.time_zone == "America/Los_Angeles"
    assert (booking.organizer.name, booking.organizer.email) == ("Dana Swope", "danas@contoso.onmicrosoft.com")
    assert booking.status is BookingStatus.CONFIRMED and booking.kind is BookingKind.MEETING
    assert booking.recurrence is None and booking.ids.outlook == "AAMkAGI1AAAt9AHjAAA=" and booking.ids.booking is None


def test_documented_series_master_expands_to_its_mondays_across_the_dst_change() -> None:
    booking = event_to_booking(parse_event(doc("create_event_recurring_series_master.json")), room="r")
    assert booking.recurrence is not None
    assert booking.recurrence.rrule == "FREQ=WEEKLY;UNTIL=20171231;BYDAY=MO"
    occurrences = expand(booking, *EVER)
    assert len(occurrences) == 17  # Mondays 4 September .. 25 December 2017
    assert occurrences[0].start == dt.datetime(2017, 9, 4, 19, tzinfo=UTC)  # 12:00 PDT
    assert occurrences[-1].start == dt.datetime(2017, 12, 25, 20, tzinfo=UTC)  # 12:00 PST
    assert {o.end - o.start for o in occurrences} == {dt.timedelta(hours=2)}


def test_documented_series_master_round_trips_to_the_same_graph_fields() -> None:
    source = doc("create_event_recurring_series_master.json")
    again = written(event_to_booking(parse_event(source), room="r"))
    for field in ("subject", "start", "end", "isAllDay", "sensitivity", "showAs"):
        assert _same(again[field], source[field]), field
    assert again["recurrence"]["range"] == {
        key: source["recurrence"]["range"][key] for key in ("type", "startDate", "endDate", "recurrenceTimeZone")
    }
    pattern = source["recurrence"]["pattern"]
    assert again["recurrence"]["pattern"]["type"] == pattern["type"]
    assert again["recurrence"]["pattern"]["daysOfWeek"] == pattern["daysOfWeek"]
    assert again["recurrence"]["pattern"]["interval"] == pattern["interval"]


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, dict) and "dateTime" in theirs:
        return ours["timeZone"] == theirs["timeZone"] and theirs["dateTime"].startswith(ours["dateTime"])
    return ours == theirs


def _review_master() -> dict[str, Any]:
    """The series the documented /instances example belongs to: Mondays 20:30-21:00 UTC."""
    return {
        "id": "AAMkAGUzYRgWAAA=",
        "type": "seriesMaster",
        "subject": "Review strategy for Q3",
        "isAllDay": False,
        "originalStartTimeZone": "UTC",
        "start": {"dateTime": "2019-04-08T20:30:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2019-04-08T21:00:00.0000000", "timeZone": "UTC"},
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"},
            "range": {"type": "noEnd", "startDate": "2019-04-08", "recurrenceTimeZone": "UTC"},
        },
    }


def test_documented_exception_without_original_start_is_refused_by_name() -> None:
    instances = [parse_event(item) for item in doc("list_instances_with_exception.json")["value"]]
    with pytest.raises(ValidationError, match="originalStart"):
        event_to_booking(parse_event(_review_master()), room="r", instances=instances)


def test_documented_exception_becomes_an_override_of_the_occurrence_it_moved() -> None:
    page = doc("list_instances_with_exception.json")
    page["value"][0]["originalStart"] = "2019-04-15T20:30:00Z"  # "Changing meeting from 4/15 to 4/16."
    instances = [parse_event(item) for item in page["value"]]
    booking = event_to_booking(parse_event(_review_master()), room="r", instances=instances)
    assert booking.recurrence is not None and booking.recurrence.exdates == ()
    (override,) = booking.recurrence.overrides
    assert override.original_start == dt.datetime(2019, 4, 15, 20, 30, tzinfo=UTC)
    assert (override.start, override.end) == (
        dt.datetime(2019, 4, 16, 20, 30, tzinfo=UTC),
        dt.datetime(2019, 4, 16, 21, 0, tzinfo=UTC),
    )
    assert override.subject is None and override.ids.outlook == "AAMkAGUzYAgI1sE1TatAAEYAAAAAlNFb2CNPe0ucP9you"
    window = (dt.datetime(2019, 4, 8, tzinfo=UTC), dt.datetime(2019, 4, 30, tzinfo=UTC))
    assert [o.start.day for o in expand(booking, *window)] == [8, 16, 22, 29]  # what /instances listed


def test_documented_cancelled_and_exception_occurrences_of_a_master() -> None:
    payload = doc("get_series_master_expansion_beta.json")
    # The example's $select leaves out the pattern and the type (calsync selects both); its dates are
    # Thursdays from 23 April 2020.
    payload["type"] = "seriesMaster"
    payload["recurrence"] = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["thursday"], "firstDayOfWeek": "sunday"},
        "range": {"type": "noEnd", "startDate": "2020-04-23", "recurrenceTimeZone": "UTC"},
    }
    exception = payload["exceptionOccurrences"][0]
    exception["subject"] = exception.pop("Subject")  # the documentation capitalises it; Graph sends "subject"
    booking = event_to_booking(parse_event(payload), room="r")
    assert booking.recurrence is not None
    assert booking.recurrence.exdates == tuple(
        dt.datetime(2020, month, day, 11, 30, tzinfo=UTC) for month, day in ((4, 30), (5, 7), (5, 14))
    )
    (override,) = booking.recurrence.overrides
    assert override.original_start == dt.datetime(2020, 5, 21, 11, 30, tzinfo=UTC)  # from occurrenceId
    assert override.subject == "SM update 24"
    window = (dt.datetime(2020, 4, 23, tzinfo=UTC), dt.datetime(2020, 5, 29, tzinfo=UTC))
    assert [(o.start.date().isoformat(), o.subject) for o in expand(booking, *window)] == [
        ("2020-04-23", None),
        ("2020-05-21", "SM update 24"),
        ("2020-05-28", None),
    ]


def test_documented_delta_page_has_a_removed_entry_and_a_changed_event() -> None:
    removed, changed = (parse_event(item) for item in doc("delta_calendar_view_removed.json")["value"])
    assert (
        removed_reason(removed) == "deleted"
        and removed.id == "AAMkADk0MGFkODE3LWE4MmYtNDRhOS04OGQLkRkXbBznTvAADb6ytyAAA="
    )
    assert removed_reason(changed) is None
    booking = event_to_booking(changed, room="chapel")
    assert (booking.subject, booking.start, booking.end) == (
        "Attend service",
        dt.datetime(2016, 12, 25, 6, tzinfo=UTC),
        dt.datetime(2016, 12, 25, 7, 30, tzinfo=UTC),
    )
    assert booking.organizer.email == "samanthab@contoso.onmicrosoft.com" and booking.time_zone == "UTC"


def test_documented_all_day_start_is_a_date_not_shifted_by_the_zone() -> None:
    payload = doc("all_day_calendar_view_fragment.json")
    payload |= {
        "originalStartTimeZone": "Tokyo Standard Time",
        "end": {"dateTime": "2022-08-11T00:00:00.0000000", "timeZone": "UTC"},
    }
    booking = event_to_booking(parse_event(payload), room="r")
    assert (booking.all_day, booking.start, booking.end) == (True, dt.date(2022, 8, 10), dt.date(2022, 8, 11))
    assert booking.time_zone == "Asia/Tokyo"
    assert booking.interval_utc()[0] == dt.datetime(2022, 8, 9, 15, tzinfo=UTC)  # Tokyo midnight


# --- round trips Graph -> Booking -> Graph ----------------------------------------------------

PATTERNS: list[tuple[str, dict[str, Any], str]] = [
    ("daily", {"type": "daily", "interval": 2}, "2024-01-15"),
    (
        "weekly",
        {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "thursday"], "firstDayOfWeek": "sunday"},
        "2024-01-15",
    ),
    ("absoluteMonthly", {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31}, "2024-01-31"),
    (
        "relativeMonthly",
        {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
        "2024-01-26",
    ),
    ("absoluteYearly", {"type": "absoluteYearly", "interval": 1, "month": 2, "dayOfMonth": 29}, "2024-02-29"),
    (
        "relativeYearly",
        {"type": "relativeYearly", "interval": 1, "month": 11, "daysOfWeek": ["thursday"], "index": "fourth"},
        "2024-11-28",
    ),
]
RANGES: list[dict[str, Any]] = [
    {"type": "endDate", "endDate": "2026-12-31"},
    {"type": "numbered", "numberOfOccurrences": 7},
    {"type": "noEnd"},
]


def graph_series(
    pattern: dict[str, Any],
    first: str,
    range_: dict[str, Any],
    *,
    zone: str = "W. Europe Standard Time",
    all_day: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A series master as Graph returns it with Prefer: outlook.timezone="UTC"."""
    day = dt.date.fromisoformat(first)
    if all_day:
        start = dt.datetime.combine(day, dt.time(0))
        end = start + dt.timedelta(days=1)
    else:
        local = dt.datetime.combine(day, dt.time(9, 30), tzinfo=ZoneInfo(_iana(zone)))
        start = local.astimezone(UTC).replace(tzinfo=None)
        end = start + dt.timedelta(minutes=45)
    return {
        "id": "AAMkAD/series+1=",
        "type": "seriesMaster",
        "subject": "Planning",
        "isAllDay": all_day,
        "isCancelled": False,
        "sensitivity": "normal",
        "showAs": "busy",
        "categories": [],
        "originalStartTimeZone": zone,
        "originalEndTimeZone": zone,
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
        "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
        "organizer": {"emailAddress": {"name": "Room 1", "address": "room1@contoso.com"}},
        "recurrence": {
            "pattern": pattern,
            "range": {"startDate": first, "recurrenceTimeZone": zone} | range_,
        },
    } | extra


def _iana(windows: str) -> str:
    from calsync.outlook.zones import windows_to_iana

    return windows_to_iana(windows)


def _instant(value: dict[str, str]) -> dt.datetime:
    zone = ZoneInfo(_iana(value["timeZone"]))
    return dt.datetime.fromisoformat(value["dateTime"][:19]).replace(tzinfo=zone).astimezone(UTC)


def assert_same_event(source: dict[str, Any], again: dict[str, Any]) -> None:
    """Every field calsync syncs, as Graph would read it."""
    for field in ("subject", "isAllDay", "sensitivity", "showAs", "categories"):
        assert again[field] == source[field], field
    for field in ("start", "end"):
        if source["isAllDay"]:
            assert again[field]["dateTime"] == source[field]["dateTime"][:19], field
        else:
            assert _instant(again[field]) == _instant(source[field]), field
    pattern, range_ = source["recurrence"]["pattern"], source["recurrence"]["range"]
    pattern_again = again["recurrence"]["pattern"]
    for key, value in pattern.items():
        if key == "firstDayOfWeek" and pattern["interval"] == 1:
            continue  # changes no date; written as RFC 5545's default
        assert pattern_again[key] == value, key
    assert again["recurrence"]["range"] == range_


@pytest.mark.parametrize("range_", RANGES, ids=lambda r: r["type"])
@pytest.mark.parametrize(("kind", "pattern", "first"), PATTERNS, ids=[p[0] for p in PATTERNS])
def test_every_pattern_and_range_round_trips(
    kind: str, pattern: dict[str, Any], first: str, range_: dict[str, Any]
) -> None:
    source = graph_series(pattern, first, range_)
    booking = event_to_booking(parse_event(source), room="r")
    again = written(booking)
    assert_same_event(source, again)
    assert event_to_booking(parse_event(again | {"organizer": source["organizer"]}), room="r") == booking.model_copy(
        update={"ids": booking.ids.model_copy(update={"outlook": None})}
    )


@pytest.mark.parametrize(
    ("zone", "iana", "first", "pattern"),
    [
        ("Tokyo Standard Time", "Asia/Tokyo", "2024-03-01", {"type": "daily", "interval": 1}),
        # New York moves its clocks on 10 March 2024: the series runs across it.
        (
            "Eastern Standard Time",
            "America/New_York",
            "2024-03-04",
            {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"},
        ),
        (
            "AUS Eastern Standard Time",
            "Australia/Sydney",
            "2024-03-31",
            {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31},
        ),
    ],
)
def test_all_day_series_round_trip_in_three_zones(zone: str, iana: str, first: str, pattern: dict[str, Any]) -> None:
    source = graph_series(pattern, first, {"type": "numbered", "numberOfOccurrences": 3}, zone=zone, all_day=True)
    booking = event_to_booking(parse_event(source), room="r")
    assert booking.all_day and booking.time_zone == iana
    assert booking.start == dt.date.fromisoformat(first)
    assert_same_event(source, written(booking))
    local = ZoneInfo(iana)
    for occurrence in expand(booking, *EVER):
        start, end = occurrence.start.astimezone(local), occurrence.end.astimezone(local)
        assert start.time() == end.time() == dt.time(0)  # midnight to midnight in the booking's zone
        assert (end.date() - start.date()).days == 1


def test_all_day_weekly_series_keeps_midnight_across_new_yorks_dst_change() -> None:
    pattern = {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"}
    source = graph_series(
        pattern,
        "2024-03-04",
        {"type": "numbered", "numberOfOccurrences": 2},
        zone="Eastern Standard Time",
        all_day=True,
    )
    first, second = expand(event_to_booking(parse_event(source), room="r"), *EVER)
    assert first.start == dt.datetime(2024, 3, 4, 5, tzinfo=UTC)  # EST, UTC-5
    assert second.start == dt.datetime(2024, 3, 11, 4, tzinfo=UTC)  # EDT, UTC-4


def _weekly_with_changes() -> dict[str, Any]:
    """Mondays 09:30 Berlin from 15 January 2024; 22 January cancelled; 29 January moved and retitled."""
    pattern = {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"}
    return graph_series(
        pattern,
        "2024-01-15",
        {"type": "numbered", "numberOfOccurrences": 5},
        cancelledOccurrences=["OID.AAMkAD/series+1=.2024-01-22"],
        exceptionOccurrences=[
            {
                "id": "AAMkAD/exception+1=",
                "type": "exception",
                "subject": "Planning (moved)",
                "originalStart": "2024-01-29T08:30:00Z",
                "start": {"dateTime": "2024-01-30T13:00:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": "2024-01-30T13:45:00.0000000", "timeZone": "UTC"},
            }
        ],
    )


def test_series_with_one_moved_and_one_cancelled_occurrence_round_trips() -> None:
    source = _weekly_with_changes()
    booking = event_to_booking(parse_event(source), room="r")
    assert booking.recurrence is not None
    assert booking.recurrence.exdates == (dt.datetime(2024, 1, 22, 8, 30, tzinfo=UTC),)
    (moved,) = booking.recurrence.overrides
    assert (moved.original_start, moved.start, moved.subject) == (
        dt.datetime(2024, 1, 29, 8, 30, tzinfo=UTC),
        dt.datetime(2024, 1, 30, 13, 0, tzinfo=UTC),
        "Planning (moved)",
    )
    # Writing it back: the master as created, then the instances Graph lists for it fixed up.
    assert_same_event(source, written(booking))
    fresh = [
        parse_event(
            {
                "id": f"AAMkAD/instance+{day}=",
                "type": "occurrence",
                "subject": "Planning",
                "originalStart": f"2024-01-{day}T08:30:00Z",
                "start": {"dateTime": f"2024-01-{day}T08:30:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": f"2024-01-{day}T09:15:00.0000000", "timeZone": "UTC"},
            }
        )
        for day in (15, 22, 29)
    ] + [
        parse_event(
            {
                "id": "AAMkAD/instance+feb5=",
                "type": "occurrence",
                "subject": "Planning",
                "originalStart": "2024-02-05T08:30:00Z",
                "start": {"dateTime": "2024-02-05T08:30:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": "2024-02-05T09:15:00.0000000", "timeZone": "UTC"},
            }
        )
    ]
    changes = plan_instance_changes(booking, fresh)
    assert [(c.action, c.instance_id) for c in changes] == [
        (InstanceAction.DELETE, "AAMkAD/instance+22="),
        (InstanceAction.PATCH, "AAMkAD/instance+29="),
    ]
    patch = event_to_dict(changes[1].patch)  # type: ignore[arg-type]
    assert _instant(patch["start"]) == dt.datetime(2024, 1, 30, 13, tzinfo=UTC)
    assert _instant(patch["end"]) == dt.datetime(2024, 1, 30, 13, 45, tzinfo=UTC)
    assert patch["subject"] == "Planning (moved)"
    # Graph after the changes: the cancelled date listed, the moved one an exception. Same booking.
    after = event_to_booking(parse_event(source), room="r", instances=[])
    assert after == booking


def test_instances_already_matching_need_no_change_and_stray_exceptions_go_back() -> None:
    booking = event_to_booking(parse_event(_weekly_with_changes()), room="r")
    plain = booking.model_copy(update={"recurrence": Recurrence(rrule=booking.recurrence.rrule)})  # type: ignore[union-attr]
    moved = parse_event(_weekly_with_changes()["exceptionOccurrences"][0])
    (change,) = plan_instance_changes(plain, [moved])
    assert change.action is InstanceAction.PATCH
    patch = event_to_dict(change.patch)  # type: ignore[arg-type]
    assert _instant(patch["start"]) == dt.datetime(2024, 1, 29, 8, 30, tzinfo=UTC)
    assert patch["subject"] == "Planning"
    assert plan_instance_changes(booking, [moved]) == []


# --- writing ----------------------------------------------------------------------------------


def _single(**fields: Any) -> Booking:
    base: dict[str, Any] = {
        "room": "r",
        "subject": "Board meeting",
        "start": dt.datetime(2024, 6, 3, 7, tzinfo=UTC),
        "end": dt.datetime(2024, 6, 3, 8, tzinfo=UTC),
        "time_zone": "Europe/Zurich",
    }
    return Booking(**(base | fields))


def test_private_booking_never_writes_its_subject() -> None:
    for sensitivity in (Sensitivity.PRIVATE, Sensitivity.CONFIDENTIAL):
        event = written(_single(sensitivity=sensitivity))
        assert event["subject"] == "Private booking" and event["sensitivity"] == sensitivity.value
        assert "Board meeting" not in json.dumps(event)


def test_created_event_carries_local_time_the_zone_and_the_stamp() -> None:
    event = written(_single(), stamp="booking-42")
    assert event["start"] == {"dateTime": "2024-06-03T09:00:00", "timeZone": "Europe/Zurich"}
    assert event["showAs"] == "busy" and event["isAllDay"] is False
    parsed = parse_event(event)
    assert stamp_of(parsed) == "booking-42"
    assert event["singleValueExtendedProperties"] == [{"id": STAMP_PROPERTY_ID, "value": "booking-42"}]
    assert "booking-42" not in written(_single())


def test_all_day_booking_is_written_as_midnight_dates() -> None:
    event = written(
        Booking(room="r", all_day=True, time_zone="Europe/Berlin", start=dt.date(2024, 3, 30), end=dt.date(2024, 4, 1))
    )
    assert event["isAllDay"] is True
    assert event["start"] == {"dateTime": "2024-03-30T00:00:00", "timeZone": "W. Europe Standard Time"}
    assert event["end"] == {"dateTime": "2024-04-01T00:00:00", "timeZone": "W. Europe Standard Time"}


def test_block_is_busy_with_a_category_and_reads_back_as_a_block() -> None:
    event = written(_single(kind=BookingKind.BLOCK, subject="Carpet cleaning"))
    assert (
        event["categories"] == [BLOCK_CATEGORY] and event["showAs"] == "busy" and event["subject"] == "Carpet cleaning"
    )
    back = event_to_booking(parse_event(event | {"originalStartTimeZone": "Europe/Zurich"}), room="r")
    assert back.kind is BookingKind.BLOCK
    assert event_to_booking(parse_event(event | {"categories": ["Red category"]}), room="r").kind is BookingKind.MEETING


def test_tentative_and_cancelled_status() -> None:
    event = written(_single(status=BookingStatus.TENTATIVE))
    assert event["showAs"] == "tentative"
    assert event_to_booking(parse_event(event), room="r").status is BookingStatus.TENTATIVE
    assert event_to_booking(parse_event(event | {"isCancelled": True}), room="r").status is BookingStatus.CANCELLED


def test_rule_outlook_cannot_express_is_refused_on_write() -> None:
    booking = _single(recurrence=Recurrence(rrule="FREQ=MONTHLY;BYMONTHDAY=1,15"))
    with pytest.raises(UnsupportedRecurrence, match="BYMONTHDAY=1,15"):
        written(booking)


def test_patch_holds_only_what_changed() -> None:
    current = _single()
    assert event_patch(current, current, private_subject="Private booking") is None
    retitled = event_patch(current, _single(subject="Board meeting (moved)"), private_subject="P")
    assert retitled is not None and event_to_dict(retitled) == {
        "subject": "Board meeting (moved)",
    }
    later = event_patch(current, _single(end=dt.datetime(2024, 6, 3, 9, tzinfo=UTC)), private_subject="P")
    assert later is not None
    assert set(event_to_dict(later)) == {"start", "end"}


def test_patch_compares_the_subject_the_event_shows_and_writes_the_one_given() -> None:
    copy = _single(sensitivity=Sensitivity.PRIVATE, subject="P")  # calsync's copy: desired_copy masked it
    assert event_patch(copy, copy, private_subject="P") is None
    retitled = _single(sensitivity=Sensitivity.PRIVATE, subject="P*")  # a delegate retitled the placeholder
    assert event_to_dict(event_patch(retitled, copy, private_subject="P")) == {"subject": "P"}  # type: ignore[arg-type]
    origin = _single(sensitivity=Sensitivity.PRIVATE)  # a private original keeps its own title
    later = event_patch(origin, _single(sensitivity=Sensitivity.PRIVATE, end=dt.datetime(2024, 6, 3, 9, tzinfo=UTC)),
                        private_subject="P")  # fmt: skip
    assert later is not None and set(event_to_dict(later)) == {"start", "end"}
    made_private = event_patch(_single(), copy, private_subject="P")
    assert made_private is not None
    assert event_to_dict(made_private) == {
        "subject": "P",
        "sensitivity": "private",
    }


def test_patch_of_a_series_start_carries_the_recurrence_and_dropping_it_sends_null() -> None:
    rule = Recurrence(rrule="FREQ=WEEKLY;COUNT=4")
    current = _single(recurrence=rule)
    moved = _single(
        recurrence=rule, start=dt.datetime(2024, 6, 4, 7, tzinfo=UTC), end=dt.datetime(2024, 6, 4, 8, tzinfo=UTC)
    )
    patch = event_to_dict(event_patch(current, moved, private_subject="P"))  # type: ignore[arg-type]
    assert patch["recurrence"]["pattern"]["daysOfWeek"] == ["tuesday"]
    assert patch["recurrence"]["range"]["startDate"] == "2024-06-04"
    single = event_to_dict(event_patch(current, _single(), private_subject="P"))  # type: ignore[arg-type]
    assert single == {"recurrence": None}


def test_stamp_filter_quotes_the_id() -> None:
    assert stamp_filter("O'Brien-7").endswith("ep/value eq 'O''Brien-7')")
    assert STAMP_PROPERTY_ID in stamp_filter("x")


def test_instances_are_refused_as_bookings() -> None:
    occurrence = copy.deepcopy(doc("list_instances_with_exception.json")["value"][1])
    with pytest.raises(ValidationError, match="series master"):
        event_to_booking(parse_event(occurrence), room="r")


def test_series_in_an_unknown_zone_is_refused_but_a_single_event_falls_back_to_utc() -> None:
    source = graph_series({"type": "daily", "interval": 1}, "2024-01-15", {"type": "noEnd"}, zone="UTC")
    source["originalStartTimeZone"] = source["recurrence"]["range"]["recurrenceTimeZone"] = "Customized Time Zone"
    with pytest.raises(ValidationError, match="Customized Time Zone"):
        event_to_booking(parse_event(source), room="r")
    single = doc("create_event_single_instance.json") | {"originalStartTimeZone": "Customized Time Zone"}
    single["start"] = {"dateTime": "2017-04-15T18:00:00.0000000", "timeZone": "UTC"}
    single["end"] = {"dateTime": "2017-04-15T19:00:00.0000000", "timeZone": "UTC"}
    booking = event_to_booking(parse_event(single), room="r")
    assert booking.time_zone == "UTC" and booking.start == dt.datetime(2017, 4, 15, 18, tzinfo=UTC)


def test_override_that_changes_nothing_synced_is_not_an_override() -> None:
    source = _weekly_with_changes()
    source["exceptionOccurrences"][0] |= {
        "subject": "Planning",
        "start": {"dateTime": "2024-01-29T08:30:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2024-01-29T09:15:00.0000000", "timeZone": "UTC"},
    }
    booking = event_to_booking(parse_event(source), room="r")
    assert booking.recurrence is not None and booking.recurrence.overrides == ()


@pytest.mark.parametrize("payload", ["", "[1, 2]", "{not json", b"\xff\xfe"])
def test_malformed_event_json_is_refused_as_invalid_input(payload: str | bytes) -> None:
    with pytest.raises(ValidationError, match="event"):
        parse_event(payload)


def test_sdk_json_round_trip_keeps_ids_with_slashes_and_unknown_fields() -> None:
    source = _weekly_with_changes() | {"@odata.etag": 'W/"abc"', "transactionId": "tx-1"}
    again = event_to_dict(parse_event(json.dumps(source)))
    for key in ("id", "@odata.etag", "transactionId", "cancelledOccurrences", "recurrence", "start", "organizer"):
        assert again[key] == source[key], key
    assert again["exceptionOccurrences"][0]["id"] == "AAMkAD/exception+1="


def test_series_master_read_without_its_pattern_is_refused_not_taken_for_a_single_event() -> None:
    with pytest.raises(ValidationError, match="without its recurrence"):
        event_to_booking(parse_event(doc("create_event_recurring_series_master.json") | {"recurrence": None}), room="r")


def test_a_series_with_interval_over_one_counts_from_the_first_occurrence_on_or_after_start_date() -> None:
    # patternedRecurrence docs: every 2 months on the first Thursday from 2017-08-29 -> 09-07, 11-02, 01-04
    source = {
        "id": "AAMkSeries=", "type": "seriesMaster", "subject": "Bi-monthly",
        "start": {"dateTime": "2017-08-29T10:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2017-08-29T11:00:00.0000000", "timeZone": "UTC"},
        "recurrence": {
            "pattern": {"type": "relativeMonthly", "interval": 2, "daysOfWeek": ["thursday"], "index": "first"},
            "range": {"type": "numbered", "startDate": "2017-08-29", "numberOfOccurrences": 3,
                      "recurrenceTimeZone": "UTC"},
        },
    }  # fmt: skip
    booking = event_to_booking(parse_event(source), room="r")
    starts = [o.start.date().isoformat() for o in expand(booking, *EVER)]
    assert starts == ["2017-09-07", "2017-11-02", "2018-01-04"]
    written = booking_to_event(booking, private_subject="P", stamp=None).recurrence
    assert written is not None and written.range is not None
    assert written.range.start_date == dt.date(2017, 9, 7)  # Outlook counts from here too


def test_the_graph_emulator_expands_an_interval_over_one_from_the_first_occurrence_like_outlook() -> None:
    from devstack.graph_recurrence import occurrence_starts as emulator_starts

    master = {
        "start": {"dateTime": "2017-08-29T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2017-08-29T11:00:00", "timeZone": "UTC"},
        "recurrence": {
            "pattern": {"type": "relativeMonthly", "interval": 2, "daysOfWeek": ["thursday"], "index": "first"},
            "range": {"type": "numbered", "startDate": "2017-08-29", "numberOfOccurrences": 3},
        },
    }
    assert [s.date().isoformat() for s, _ in emulator_starts(master, *EVER)] == ["2017-09-07", "2017-11-02",
                                                                                  "2018-01-04"]  # fmt: skip
