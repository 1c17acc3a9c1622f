"""Recurring series with a moved and a cancelled occurrence, all-day bookings in a non-UTC zone, private meetings
and room blocks, in each direction."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.outlook.event_mapping import BLOCK_CATEGORY
from devstack.local_stack import LocalStack
from tests.e2e.helpers import MAILBOX, ROOM_ID, booking_fields, graph_event, graph_utc, live_bookings, live_events

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WINDOW = (dt.datetime(2026, 12, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 31, tzinfo=dt.UTC))

WEEKLY = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
          "range": {"type": "numbered", "startDate": "2026-12-07", "numberOfOccurrences": 4,
                    "recurrenceTimeZone": "W. Europe Standard Time"}}  # fmt: skip


async def test_booking_series_with_moved_and_cancelled_occurrence_reaches_outlook(stack: LocalStack) -> None:
    stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Sprint planning", "2026-12-07T09:00:00+01:00", "2026-12-07T10:00:00+01:00",
        recurrence={"rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4", "exdates": ["2026-12-21T08:00:00Z"],
                    "overrides": [{"original_start": "2026-12-14T08:00:00Z", "start": "2026-12-15T13:00:00Z",
                                   "end": "2026-12-15T14:00:00Z", "title": "Sprint planning (Tuesday)"}]},
    ))  # fmt: skip
    await stack.settle()
    [master] = [e for e in stack.graph.events(MAILBOX) if e.get("type") == "seriesMaster"]
    assert master["recurrence"]["pattern"]["type"] == "weekly"
    instances = stack.graph.calendars.instances(MAILBOX, master["id"], *WINDOW)
    starts = sorted(graph_utc(e["start"]) for e in instances)
    assert starts == [dt.datetime(2026, 12, 7, 8, tzinfo=dt.UTC), dt.datetime(2026, 12, 15, 13, tzinfo=dt.UTC),
                      dt.datetime(2026, 12, 28, 8, tzinfo=dt.UTC)]  # fmt: skip
    assert {e["subject"] for e in instances} == {"Sprint planning", "Sprint planning (Tuesday)"}


async def test_an_occurrence_uncancelled_in_the_booking_system_comes_back_in_outlook(stack: LocalStack) -> None:
    created = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Sprint planning", "2026-12-07T09:00:00+01:00", "2026-12-07T10:00:00+01:00",
        recurrence={"rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4", "exdates": ["2026-12-21T08:00:00Z"],
                    "overrides": [{"original_start": "2026-12-14T08:00:00Z", "start": "2026-12-15T13:00:00Z",
                                   "end": "2026-12-15T14:00:00Z", "title": "Sprint planning (Tuesday)"}]},
    ))  # fmt: skip
    await stack.settle()

    # the cancelled Monday is wanted again; the moved one stays moved (Outlook has no "uncancel": the
    # series' pattern is rewritten and the exceptions still wanted are applied again)
    stack.booking.user_update_booking(created["id"], recurrence={
        "rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4", "exdates": [],
        "overrides": [{"original_start": "2026-12-14T08:00:00Z", "start": "2026-12-15T13:00:00Z",
                       "end": "2026-12-15T14:00:00Z", "title": "Sprint planning (Tuesday)"}]})  # fmt: skip
    await stack.settle()

    [master] = [e for e in stack.graph.events(MAILBOX) if e.get("type") == "seriesMaster"]
    instances = stack.graph.calendars.instances(MAILBOX, master["id"], *WINDOW)
    assert sorted(graph_utc(e["start"]) for e in instances) == [
        dt.datetime(2026, 12, 7, 8, tzinfo=dt.UTC), dt.datetime(2026, 12, 15, 13, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 21, 8, tzinfo=dt.UTC), dt.datetime(2026, 12, 28, 8, tzinfo=dt.UTC)]  # fmt: skip


async def test_all_day_booking_in_a_non_utc_zone_keeps_its_dates_both_ways(stack: LocalStack) -> None:
    stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Tokyo office closed", "2026-12-24T00:00:00+09:00", "2026-12-26T00:00:00+09:00", zone="Asia/Tokyo",
        all_day=True))  # fmt: skip
    event = stack.graph.user_create_event(MAILBOX, graph_event(
        "Team day", "2026-12-28T00:00:00", "2026-12-29T00:00:00", zone="Pacific Standard Time", isAllDay=True))  # fmt: skip
    await stack.settle()
    [copy] = [e for e in live_events(stack) if e["subject"] == "Tokyo office closed"]
    assert copy["isAllDay"] is True
    assert copy["start"]["dateTime"][:10] == "2026-12-24" and copy["end"]["dateTime"][:10] == "2026-12-26"
    [booked] = [b for b in live_bookings(stack) if b["external_ref"] == event["id"]]
    assert booked["all_day"] is True and booked["time_zone"] == "America/Los_Angeles"
    assert booked["start"].startswith("2026-12-28T00:00:00") and booked["end"].startswith("2026-12-29T00:00:00")


async def test_private_meeting_subject_never_leaves_its_side(stack: LocalStack) -> None:
    stack.graph.user_create_event(MAILBOX, graph_event("Salary negotiation", "2026-12-10T15:00:00",
                                                       "2026-12-10T16:00:00", sensitivity="private"))  # fmt: skip
    stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Legal: acquisition", "2026-12-11T09:00:00+01:00", "2026-12-11T10:00:00+01:00", sensitivity="private"))  # fmt: skip
    await stack.settle()
    titles = {b["title"] for b in live_bookings(stack)}
    subjects = {e["subject"] for e in live_events(stack)}
    assert "Salary negotiation" not in titles and "Private booking" in titles
    assert "Legal: acquisition" not in subjects and "Private booking" in subjects
    assert all(e["sensitivity"] == "private" for e in live_events(stack))


async def test_room_block_is_shown_busy_in_outlook(stack: LocalStack) -> None:
    stack.booking.user_add_block(ROOM_ID, "2026-12-12T08:00:00+01:00", "2026-12-12T18:00:00+01:00",
                                 title="Projector replacement")  # fmt: skip
    await stack.settle()
    [event] = live_events(stack)
    assert event["showAs"] == "busy" and BLOCK_CATEGORY in event["categories"]
