"""Scope filters and soft cancellation (issue #14), end to end on both emulators and Azurite.

An Outlook event that does not hold the room (shown as free, outside the synced
categories) is not copied; when it starts holding the room it is, and when it stops
again its booking is cancelled. A meeting its organiser cancels leaves the booking in
place with status cancelled and the reason, which the API and its change feed show.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from devstack.azurite import AzuriteTables
from devstack.local_stack import BOOKING_API_KEY, LocalStack
from tests.e2e.helpers import MAILBOX, ROOM_ID, booking_writes, graph_event, graph_writes, live_bookings, quiet_logs

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADA = "ada@contoso.example"
START = dt.datetime(2026, 12, 9, 9, tzinfo=dt.UTC)


def _api(stack: LocalStack) -> httpx.Client:
    assert stack.booking is not None
    return httpx.Client(base_url=stack.booking.base_url, headers={"Authorization": f"Bearer {BOOKING_API_KEY}"})


async def test_a_free_event_holds_no_booking_until_it_is_busy_and_is_cancelled_when_free_again(
    stack: LocalStack,
) -> None:
    event = stack.graph.user_create_event(MAILBOX, graph_event(
        "Focus time", "2026-12-09T10:00:00", "2026-12-09T11:00:00", showAs="free"))  # fmt: skip
    await stack.settle()
    assert live_bookings(stack) == []

    stack.graph.user_update_event(MAILBOX, event["id"], {"showAs": "busy"})
    await stack.settle()
    [booking] = live_bookings(stack)
    assert booking["title"] == "Focus time"

    stack.graph.user_update_event(MAILBOX, event["id"], {"showAs": "free"})
    await stack.settle()
    assert live_bookings(stack) == []
    kept = stack.booking.get_booking(booking["id"])
    assert kept["status"] == "cancelled" and "free" in kept["cancellation"]["reason"]

    stack.graph.user_update_event(MAILBOX, event["id"], {"showAs": "busy"})  # and back: the same booking again
    await stack.settle()
    [again] = live_bookings(stack)
    assert again["id"] == booking["id"] and again["cancellation"] is None
    await quiet_logs(stack)
    await stack.settle()
    assert graph_writes(stack) == [] and booking_writes(stack) == []


async def test_only_events_in_the_synced_categories_hold_the_room(azurite: AzuriteTables) -> None:
    async with LocalStack(azurite=azurite, outlook_scope={"categories_include": ["Room booking"]}) as stack:
        event = stack.graph.user_create_event(MAILBOX, graph_event(
            "Lunch", "2026-12-09T12:00:00", "2026-12-09T13:00:00", categories=["Personal"]))  # fmt: skip
        await stack.settle()
        assert live_bookings(stack) == []

        stack.graph.user_update_event(MAILBOX, event["id"], {"categories": ["Room booking"]})
        await stack.settle()
        assert len(live_bookings(stack)) == 1

        stack.graph.user_update_event(MAILBOX, event["id"], {"categories": []})
        await stack.settle()
        assert live_bookings(stack) == []


async def test_a_meeting_cancelled_by_its_organiser_leaves_the_booking_cancelled_with_the_reason(
    stack: LocalStack,
) -> None:
    made = stack.graph.person_create_meeting(ADA, "Design review", START, START + dt.timedelta(hours=1),
                                             rooms=[MAILBOX])  # fmt: skip
    await stack.settle()
    [booking] = live_bookings(stack)
    with _api(stack) as api:
        cursor = api.get("/changes").json()["next_cursor"]

        stack.graph.person_cancel_meeting(ADA, made.organizer_event_id, "Not needed any more")
        await stack.settle()

        listed = api.get("/bookings", params={"room_id": ROOM_ID}).json()["items"]
        [cancelled] = [b for b in listed if b["id"] == booking["id"]]
        assert cancelled["status"] == "cancelled"
        assert cancelled["cancellation"]["cancelled_by"] == ADA
        assert "cancelled in Outlook" in cancelled["cancellation"]["reason"]
        assert cancelled["cancellation"]["cancelled_at"]
        feed = api.get("/changes", params={"cursor": cursor}).json()
        assert booking["id"] in feed["changed"]
    assert stack.graph.ownership_violations == []


async def test_a_booking_system_that_only_deletes_gets_deletions(azurite: AzuriteTables) -> None:
    async with LocalStack(azurite=azurite, booking_cancellation="delete") as stack:
        made = stack.graph.person_create_meeting(ADA, "Design review", START, START + dt.timedelta(hours=1),
                                                 rooms=[MAILBOX])  # fmt: skip
        await stack.settle()
        [booking] = live_bookings(stack)
        stack.graph.person_cancel_meeting(ADA, made.organizer_event_id, "Not needed")
        await stack.settle()
        assert [b for b in stack.booking.bookings() if b["id"] == booking["id"]] == []
