"""A recurring Outlook series with one moved and one cancelled occurrence reaches the booking system."""

from __future__ import annotations

import datetime as dt

import pytest

from devstack.local_stack import LocalStack
from tests.e2e.helpers import MAILBOX, graph_event, live_bookings
from tests.e2e.test_shapes import WEEKLY, WINDOW

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_outlook_series_with_moved_and_cancelled_occurrence_reaches_the_booking_system(stack: LocalStack) -> None:
    series = stack.graph.user_create_event(MAILBOX, graph_event("Weekly sync", "2026-12-07T09:00:00",
                                                                "2026-12-07T09:30:00", recurrence=WEEKLY))  # fmt: skip
    await stack.settle()
    instances = sorted(
        stack.graph.calendars.instances(MAILBOX, series["id"], *WINDOW), key=lambda e: e["start"]["dateTime"]
    )
    moved, cancelled = instances[1], instances[2]
    stack.graph.user_update_event(MAILBOX, moved["id"], graph_event("Weekly sync (moved)", "2026-12-15T11:00:00",
                                                                   "2026-12-15T11:30:00"))  # fmt: skip
    stack.graph.user_delete_event(MAILBOX, cancelled["id"])
    await stack.settle()

    [booking] = live_bookings(stack)
    recurrence = booking["recurrence"]
    assert "FREQ=WEEKLY" in recurrence["rrule"] and "COUNT=4" in recurrence["rrule"]
    assert [dt.datetime.fromisoformat(x) for x in recurrence["exdates"]] == [
        dt.datetime(2026, 12, 21, 8, tzinfo=dt.UTC)
    ]
    [override] = recurrence["overrides"]
    assert dt.datetime.fromisoformat(override["original_start"]) == dt.datetime(2026, 12, 14, 8, tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(override["start"]) == dt.datetime(2026, 12, 15, 10, tzinfo=dt.UTC)
