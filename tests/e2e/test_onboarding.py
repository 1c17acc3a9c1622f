"""Onboarding a room whose calendars were filled before calsync was switched on (issue #12), on the local stack.

The room is pending while people book it in both systems: nothing is written. The dry
run pairs the same meetings, plans one copy each way and reports the true overlap; the
apply does exactly that (mappings for pairs, copies through the engine, no decline),
then the room is live and syncs from the paired state.
"""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.onboarding.apply import Onboarding, OnboardingRefused
from calsync.onboarding.plan import CONFLICT, PAIR, TO_BOOKING, TO_OUTLOOK
from calsync.rooms.state import RoomState
from calsync.store.mappings import MappingStore
from calsync.store.rooms import RoomRecord
from devstack.graph_calendars import occurrence_id
from devstack.local_stack import LocalStack
from tests.e2e.helpers import MAILBOX, ROOM_ID, booking_fields, booking_writes, graph_writes, live_bookings, live_events

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADA = "ada@contoso.example"


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def both(stack: LocalStack, title: str, start: dt.datetime, end: dt.datetime) -> None:
    stack.graph.person_create_meeting(ADA, title, start, end, rooms=[MAILBOX])
    stack.booking.user_create_booking(ROOM_ID, **booking_fields(title, iso(start), iso(end)))


async def pending_room(stack: LocalStack) -> Onboarding:
    services = await stack.services()
    room = services.settings.room("room-a")
    await services.rooms.put(RoomRecord.from_room(room, RoomState.PENDING))
    return Onboarding(services)


def declines(stack: LocalStack) -> list:
    return [mail for mail in stack.graph.mail_for(ADA) if mail.kind == "declined"]


async def test_three_paired_one_copy_each_way_one_conflict_no_decline_no_duplicate(stack: LocalStack) -> None:
    onboarding = await pending_room(stack)
    both(stack, "Design review", utc(8, 9), utc(8, 10))
    both(stack, "Board meeting", utc(9, 13), utc(9, 14))
    both(stack, "Retro", utc(10, 15), utc(10, 16))
    stack.graph.person_create_meeting(ADA, "Only in Outlook", utc(11, 9), utc(11, 10), rooms=[MAILBOX])
    stack.booking.user_create_booking(ROOM_ID, **booking_fields("Only booked", iso(utc(11, 13)), iso(utc(11, 14))))
    stack.graph.person_create_meeting(ADA, "Budget", utc(14, 9), utc(14, 10), rooms=[MAILBOX])
    stack.booking.user_create_booking(ROOM_ID, **booking_fields("Interview", iso(utc(14, 9, 30)),
                                                                iso(utc(14, 10, 30))))  # fmt: skip
    await stack.settle()
    assert graph_writes(stack) == [] and booking_writes(stack) == []  # pending: notifications observed only

    plan = await onboarding.dry_run("room-a")
    assert plan.counts() == {PAIR: 3, TO_BOOKING: 1, TO_OUTLOOK: 1, CONFLICT: 1, "skipped": 0}
    assert all("same start and end" in row.reason for row in plan.of(PAIR))
    assert graph_writes(stack) == [] and booking_writes(stack) == []  # a dry run writes nothing

    applied = await onboarding.apply("room-a")
    assert applied.actions == plan.actions()  # the dry run predicted exactly what ran
    assert len(graph_writes(stack)) == 1 and graph_writes(stack)[0].startswith("POST")
    assert len(booking_writes(stack)) == 1 and booking_writes(stack)[0].startswith("POST")
    assert declines(stack) == [] and stack.graph.ownership_violations == []
    events, bookings = live_events(stack), live_bookings(stack)
    assert len(events) == 6 and len(bookings) == 6  # 3 paired + 1 own + 1 copy + the conflict's side
    assert sorted(e["subject"] for e in events).count("Only booked") == 1
    # the room's copy of Ada's meeting shows her name as its subject (Exchange's AddOrganizerToSubject default)
    assert len([b for b in bookings if b.get("external_ref")]) == 1
    [conflict] = plan.of(CONFLICT)
    assert {b["id"] for b in bookings if b["title"] == "Interview"} == {conflict.booking_id}
    rows = await MappingStore(onboarding.services.tables).list_room("room-a")
    assert len(rows) == 5 and all(r.outlook_hash and r.booking_hash for r in rows)
    mappings = MappingStore(onboarding.services.tables)  # a later room move finds them (the cross-room index)
    assert [await mappings.booking_room(r.booking_id or "") for r in rows] == ["room-a"] * 5
    assert (await onboarding.services.rooms.get("room-a")).state is RoomState.LIVE

    # live: the paired state is quiet, the conflict stays untouched, and a new booking syncs
    stack.graph.clear_requests()
    stack.booking.clear_requests()
    await stack.settle()
    assert graph_writes(stack) == [] and booking_writes(stack) == []
    stack.booking.user_create_booking(ROOM_ID, **booking_fields("After go-live", iso(utc(16, 9)), iso(utc(16, 10))))
    await stack.settle()
    assert len(graph_writes(stack)) == 1 and graph_writes(stack)[0].startswith("POST")
    assert declines(stack) == []


async def test_apply_refuses_when_a_side_changed_since_the_dry_run(stack: LocalStack) -> None:
    onboarding = await pending_room(stack)
    made = stack.booking.user_create_booking(ROOM_ID, **booking_fields("Standup", iso(utc(8, 9)), iso(utc(8, 10))))
    await stack.settle()
    with pytest.raises(OnboardingRefused, match="no dry run"):
        await onboarding.apply("room-a")
    await onboarding.dry_run("room-a")
    stack.booking.user_update_booking(made["id"], title="Standup (moved)")
    await stack.settle()
    with pytest.raises(OnboardingRefused, match=f"{made['id']} changed"):
        await onboarding.apply("room-a")
    assert graph_writes(stack) == [] and booking_writes(stack) == []
    assert (await onboarding.services.rooms.get("room-a")).state is RoomState.PENDING


WEEKLY = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
          "range": {"type": "numbered", "startDate": "2026-12-07", "numberOfOccurrences": 4,
                    "recurrenceTimeZone": "UTC"}}  # fmt: skip


async def test_series_on_both_sides_pair_as_series_with_a_moved_and_a_cancelled_occurrence(stack: LocalStack) -> None:
    onboarding = await pending_room(stack)
    made = stack.graph.person_create_meeting(ADA, "Weekly sync", utc(7, 8), utc(7, 9), rooms=[MAILBOX],
                                             recurrence=WEEKLY)  # fmt: skip
    series = made.organizer_event_id
    stack.graph.person_update_meeting(ADA, occurrence_id(series, utc(14, 8)), start=utc(15, 10), end=utc(15, 11))
    stack.graph.person_cancel_occurrence(ADA, series, utc(21, 8), "Holiday")
    stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Weekly sync", iso(utc(7, 8)), iso(utc(7, 9)), zone="UTC",
        recurrence={"rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4", "exdates": [iso(utc(21, 8))],
                    "overrides": [{"original_start": iso(utc(14, 8)), "start": iso(utc(15, 10)),
                                   "end": iso(utc(15, 11))}]}))  # fmt: skip
    await stack.settle()
    plan = await onboarding.dry_run("room-a")
    [pair] = plan.of(PAIR)
    assert pair.recurring and "same series" in pair.reason
    assert "1 cancelled and 1 moved occurrence(s) on both sides" in pair.reason
    assert plan.counts()[TO_BOOKING] == plan.counts()[TO_OUTLOOK] == plan.counts()[CONFLICT] == 0
    applied = await onboarding.apply("room-a")
    assert applied.actions == plan.actions()
    await stack.settle()
    assert graph_writes(stack) == [] and booking_writes(stack) == [] and declines(stack) == []
