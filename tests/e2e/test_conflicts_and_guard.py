"""Cross-side double bookings resolved by each CONFLICT_POLICY, and the mass-deletion guard."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from calsync.store.records import ConflictStore, RoomHoldStore
from calsync.sync.guard import CONFIRMED_HOLD_LIFETIME
from devstack.azurite import AzuriteTables
from devstack.inprocess_queue import InProcessDeadLetters
from devstack.local_stack import LocalStack
from tests.e2e.helpers import (
    MAILBOX,
    ROOM_ID,
    HeldHints,
    booking_fields,
    daily_bookings,
    graph_event,
    live_bookings,
    live_events,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def make_overlap(stack: LocalStack, first: str) -> tuple[dict, dict]:
    """An Outlook meeting and a booking for the same hour of room-a, ``first`` created a moment earlier."""

    def outlook() -> dict:
        return stack.graph.user_create_event(MAILBOX, graph_event("Outlook: vendor demo", "2026-12-21T10:00:00",
                                                                  "2026-12-21T11:00:00"))  # fmt: skip

    def booking() -> dict:
        return stack.booking.user_create_booking(ROOM_ID, **booking_fields(
            "Booked: facilities audit", "2026-12-21T10:30:00+01:00", "2026-12-21T11:30:00+01:00"))  # fmt: skip

    held = HeldHints(stack)
    if first == "outlook":
        event = outlook()
        await asyncio.sleep(1.1)  # creation times one second apart, as the sides record them
        created = booking()
    else:
        created = booking()
        await asyncio.sleep(1.1)
        event = outlook()
    await held.release()
    return event, created


async def conflicts(stack: LocalStack) -> list:
    return await ConflictStore((await stack.engine()).tables).list("room-a")


@pytest.mark.parametrize(
    ("policy", "first", "winner"),
    [
        ("first-come", "outlook", "outlook"),
        ("first-come", "booking", "booking"),
        ("outlook-wins", "booking", "outlook"),
        ("booking-wins", "outlook", "booking"),
    ],
)
async def test_conflict_policy_decides_and_the_loser_sees_why(azurite: AzuriteTables, policy, first, winner) -> None:
    async with LocalStack(azurite=azurite, conflict_policy=policy) as stack:
        event, booking = await make_overlap(stack, first)

        if winner == "outlook":
            assert [b["title"] for b in live_bookings(stack)] == ["Outlook: vendor demo"]
            assert [e["subject"] for e in live_events(stack)] == ["Outlook: vendor demo"]
            rejected = stack.booking.get_booking(booking["id"])
            assert rejected["status"] == "rejected"
            assert "already booked" in rejected["rejection_reason"]  # what the booking's organiser sees
        else:
            assert [b["title"] for b in live_bookings(stack)] == ["Booked: facilities audit"]
            assert [e["subject"] for e in live_events(stack)] == ["Booked: facilities audit"]
            [decline] = [d for d in stack.graph.declines if d.event_id == event["id"]]
            assert "already booked" in decline.comment and decline.send_response  # the organiser's decline mail

        [record] = await conflicts(stack)
        assert record.winner_side.value == winner and record.policy.value == policy


async def test_emptied_booking_system_deletes_nothing_in_outlook_and_trips_the_guard(azurite: AzuriteTables) -> None:
    async with LocalStack(azurite=azurite, max_delivery_count=2) as stack:
        created = daily_bookings(stack, "Standup", 12, hour=9)
        await stack.settle()
        assert len(live_events(stack)) == 12

        for booking in created:
            stack.booking.user_delete_booking(booking["id"])
        await stack.settle()

        assert len(live_events(stack)) == 12  # nothing deleted in Outlook
        holds = RoomHoldStore((await stack.engine()).tables)
        hold = await holds.get("room-a")
        assert hold is not None and hold.side.value == "booking" and hold.missing == 12
        dead = stack.queue.dead_letters("changes")
        assert dead and all("MassDeletionGuardTripped" in d.description for d in dead)

        # the operator confirms the wipe was intended, then replays the held hints: now Outlook follows
        await holds.put(hold.model_copy(update={"confirmed": True}))
        await InProcessDeadLetters(stack.queue).replay("changes")
        await stack.settle()
        assert live_events(stack) == []


async def test_emptied_outlook_calendar_deletes_nothing_in_the_booking_system(azurite: AzuriteTables) -> None:
    async with LocalStack(azurite=azurite, max_delivery_count=2) as stack:
        events = [stack.graph.user_create_event(MAILBOX, graph_event(
            f"Workshop {day}", f"2026-12-{day:02d}T13:00:00", f"2026-12-{day:02d}T14:00:00"))
            for day in range(1, 9)]  # fmt: skip
        await stack.settle()
        assert len(live_bookings(stack)) == 8
        for event in events:
            stack.graph.user_delete_event(MAILBOX, event["id"])
        await stack.settle()
        assert len(live_bookings(stack)) == 8
        hold = await RoomHoldStore((await stack.engine()).tables).get("room-a")
        assert hold is not None and hold.side.value == "outlook"


async def test_deletions_one_at_a_time_still_trip_the_guard(azurite: AzuriteTables) -> None:
    async with LocalStack(azurite=azurite, max_delivery_count=2) as stack:
        created = daily_bookings(stack, "Review", 10, hour=14)
        await stack.settle()
        for booking in created:
            stack.booking.user_delete_booking(booking["id"])
            await stack.settle()
        assert len(live_events(stack)) == 6  # four deletions went through; the fifth of ten tripped the guard
        assert await RoomHoldStore((await stack.engine()).tables).get("room-a") is not None


async def test_a_confirmed_hold_expires_and_the_guard_watches_again(azurite: AzuriteTables) -> None:
    offset = dt.timedelta(0)
    async with LocalStack(
        azurite=azurite, max_delivery_count=1, clock=lambda: dt.datetime.now(dt.UTC) + offset
    ) as stack:

        async def wipe(prefix: str) -> None:
            made = daily_bookings(stack, prefix, 6, hour=16)
            await stack.settle()
            for booking in made:
                stack.booking.user_delete_booking(booking["id"])
            await stack.settle()

        holds = RoomHoldStore((await stack.engine()).tables)
        await wipe("first")
        hold = await holds.get("room-a")
        await holds.put(hold.model_copy(update={"confirmed": True, "confirmed_at": dt.datetime.now(dt.UTC)}))
        await InProcessDeadLetters(stack.queue).replay("changes")
        await stack.settle()
        assert live_events(stack) == []

        offset = CONFIRMED_HOLD_LIFETIME + dt.timedelta(minutes=1)
        await wipe("second")
        assert len(live_events(stack)) == 6  # the second wipe was stopped again
        assert not (await holds.get("room-a")).confirmed
