"""Per-occurrence conflicts (issue #11), end to end: a series that overlaps other bookings on some dates gives way
only on those dates, on both sides, and its organiser is told which dates."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.store.records import ConflictStore
from devstack.local_stack import LocalStack
from tests.e2e.helpers import MAILBOX, ROOM_ID, booking_fields, booking_writes, graph_writes, live_bookings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADA = "ada@contoso.example"
FIRST = dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC)  # a Thursday
SIX_THURSDAYS = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["thursday"], "firstDayOfWeek": "monday"},
                 "range": {"type": "numbered", "startDate": "2026-12-03", "numberOfOccurrences": 6,
                           "recurrenceTimeZone": "UTC"}}  # fmt: skip
WIDE = (dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2027, 3, 1, tzinfo=dt.UTC))


def live_occurrences(stack: LocalStack, series_id: str) -> list[dt.date]:
    """The dates on which the room's copy of the series still holds the room (not declined, not cancelled)."""
    instances = stack.graph.calendars.instances(MAILBOX, series_id, *WIDE)
    return sorted(dt.datetime.fromisoformat(i["start"]["dateTime"][:19]).date() for i in instances
                  if not i.get("isCancelled") and (i.get("responseStatus") or {}).get("response") != "declined")  # fmt: skip


async def test_a_weekly_series_conflicting_on_two_dates_keeps_four_occurrences_on_both_sides(stack: LocalStack) -> None:
    for day in (10, 17):  # booked first in the booking system: under first-come they keep the room
        stack.booking.user_create_booking(ROOM_ID, **booking_fields(
            f"Workshop {day}", f"2026-12-{day}T09:30:00+00:00", f"2026-12-{day}T10:30:00+00:00"))  # fmt: skip
    await stack.settle()
    # the attendant accepts the whole series (the race before calsync's copies reach the room)
    stack.graph.set_calendar_processing(MAILBOX, AllowConflicts=True, DeleteSubject=False,
                                        AddOrganizerToSubject=False)  # fmt: skip
    made = stack.graph.person_create_meeting(ADA, "Weekly sync", FIRST, FIRST + dt.timedelta(hours=1),
                                             rooms=[MAILBOX], recurrence=SIX_THURSDAYS)  # fmt: skip
    copy_id = made.room_copy_ids[MAILBOX.lower()]
    assert copy_id is not None
    await stack.settle()

    # Outlook: the room declined only the two conflicting occurrences
    kept = [dt.date(2026, 12, 3), dt.date(2026, 12, 24), dt.date(2026, 12, 31), dt.date(2027, 1, 7)]
    assert live_occurrences(stack, copy_id) == kept
    # the booking system: the workshops, and the series' copy without those two dates
    bookings = live_bookings(stack)
    assert sorted(b["title"] for b in bookings) == ["Weekly sync", "Workshop 10", "Workshop 17"]
    [series] = [b for b in bookings if b["title"] == "Weekly sync"]
    assert "COUNT=6" in series["recurrence"]["rrule"]
    exdates = sorted(dt.datetime.fromisoformat(x).astimezone(dt.UTC).date() for x in series["recurrence"]["exdates"])
    assert exdates == [dt.date(2026, 12, 10), dt.date(2026, 12, 17)]
    # Ada is told which dates, and only those occurrences were declined
    declines = [m for m in stack.graph.mail_for(ADA) if m.kind == "declined"]
    assert declines and all("2026-12-10, 2026-12-17" in (m.comment or "") for m in declines)
    assert all(m.occurrences for m in declines)  # per occurrence, never the whole series
    assert stack.graph.ownership_violations == []
    records = await ConflictStore((await stack.engine()).tables).list("room-a")
    assert records and all("2026-12-10, 2026-12-17" in r.reason for r in records)


async def test_one_decline_and_one_copy_then_silence(stack: LocalStack) -> None:
    stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Workshop", "2026-12-10T09:30:00+00:00", "2026-12-10T10:30:00+00:00"))  # fmt: skip
    await stack.settle()
    stack.graph.set_calendar_processing(MAILBOX, AllowConflicts=True)
    stack.graph.clear_requests()
    stack.booking.clear_requests()
    stack.graph.person_create_meeting(ADA, "Weekly sync", FIRST, FIRST + dt.timedelta(hours=1), rooms=[MAILBOX],
                                      recurrence=SIX_THURSDAYS)  # fmt: skip
    await stack.settle()

    assert [w for w in graph_writes(stack) if w.endswith("/decline")] and len(graph_writes(stack)) == 1
    assert [w.split(" ")[0] for w in booking_writes(stack)] == ["POST"]  # the copy, written once, already trimmed
    [series] = [b for b in live_bookings(stack) if b["recurrence"]]
    assert len(series["recurrence"]["exdates"]) == 1
