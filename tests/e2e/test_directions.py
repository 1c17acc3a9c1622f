"""Create, update and delete in each direction, through the real handlers, both emulators and Azurite."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.model import ChangeHint, Side
from devstack.local_stack import LocalStack
from tests.e2e.helpers import MAILBOX, ROOM_ID, booking_fields, graph_event, live_bookings, live_events

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00").split(".")[0] + ("" if "+" in text else "+00:00"))


async def test_outlook_create_update_delete_reach_the_booking_system(stack: LocalStack) -> None:
    event = stack.graph.user_create_event(MAILBOX, graph_event("Design review", "2026-12-07T10:00:00",
                                                               "2026-12-07T11:00:00"))  # fmt: skip
    await stack.settle()
    [booking] = live_bookings(stack)
    assert booking["title"] == "Design review"
    assert dt.datetime.fromisoformat(booking["start"]) == dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
    assert booking["external_ref"] == event["id"]

    stack.graph.user_update_event(MAILBOX, event["id"], graph_event("Design review (moved)", "2026-12-07T14:00:00",
                                                                    "2026-12-07T15:30:00"))  # fmt: skip
    await stack.settle()
    [booking] = live_bookings(stack)
    assert booking["title"] == "Design review (moved)"
    assert dt.datetime.fromisoformat(booking["end"]) == dt.datetime(2026, 12, 7, 14, 30, tzinfo=dt.UTC)

    stack.graph.user_delete_event(MAILBOX, event["id"])
    await stack.settle()
    assert live_bookings(stack) == []


async def test_booking_create_update_delete_reach_outlook(stack: LocalStack) -> None:
    created = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Board meeting", "2026-12-08T09:00:00+01:00", "2026-12-08T10:00:00+01:00"))  # fmt: skip
    await stack.settle()
    [event] = live_events(stack)
    assert event["subject"] == "Board meeting"
    assert instant(event["start"]["dateTime"]) == dt.datetime(2026, 12, 8, 8, tzinfo=dt.UTC)

    stack.booking.user_update_booking(created["id"], title="Board meeting (extended)",
                                      end="2026-12-08T11:00:00+01:00")  # fmt: skip
    await stack.settle()
    [event] = live_events(stack)
    assert event["subject"] == "Board meeting (extended)"
    assert instant(event["end"]["dateTime"]) == dt.datetime(2026, 12, 8, 10, tzinfo=dt.UTC)

    stack.booking.user_delete_booking(created["id"])
    await stack.settle()
    assert live_events(stack) == []


async def test_cancelled_booking_removes_the_outlook_copy(stack: LocalStack) -> None:
    created = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Offsite prep", "2026-12-09T13:00:00+01:00", "2026-12-09T14:00:00+01:00"))  # fmt: skip
    await stack.settle()
    assert len(live_events(stack)) == 1
    stack.booking.user_cancel_booking(created["id"])
    await stack.settle()
    assert live_events(stack) == []


async def test_hint_for_a_room_that_is_not_configured_is_logged_and_ignored(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    hint = ChangeHint(source=Side.BOOKING, room="broom-closet", item_id="B-1", observed_at=dt.datetime.now(dt.UTC))
    await stack.queue.publish([hint], queue="changes")
    await stack.settle()
    assert stack.queue.dead_letters("changes") == [] and stack.queue.stats().completed >= 1
    assert "not configured" in caplog.text
