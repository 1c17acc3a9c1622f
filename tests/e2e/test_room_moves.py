"""Room moves (issue #11) end to end: a booking moved to another room in the booking system.

Through the function handlers on the local stack: the booking emulator's webhook names only
the booking's new room, the in-process queue carries the hints, and ``settle`` runs no
reconcile and no full compare, so whatever reaches the old room came from the new room's pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from devstack.azurite import AzuriteTables
from devstack.local_stack import LocalStack
from devstack.postgres import EmbeddedPostgres
from tests.e2e.helpers import MAILBOX, ROOM_ID, booking_fields, graph_writes, live_bookings, live_events

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OTHER_MAILBOX, OTHER_ROOM_ID = "room-b@contoso.example", "R-200"
ADA = "ada@contoso.example"
START = dt.datetime(2026, 12, 9, 9, tzinfo=dt.UTC)


async def test_a_booking_moved_to_another_room_leaves_the_old_rooms_calendar_in_the_same_pass(
    stack: LocalStack,
) -> None:
    created = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Budget review", "2026-12-10T09:00:00+01:00", "2026-12-10T10:00:00+01:00"))  # fmt: skip
    await stack.settle()
    assert [e["subject"] for e in live_events(stack)] == ["Budget review"]

    stack.booking.user_update_booking(created["id"], room_id=OTHER_ROOM_ID)
    await stack.settle()

    assert live_events(stack) == []  # the old room's copy is gone, without a full compare
    assert [e["subject"] for e in live_events(stack, OTHER_MAILBOX)] == ["Budget review"]
    assert [b["id"] for b in live_bookings(stack, OTHER_ROOM_ID)] == [created["id"]]
    assert stack.graph.ownership_violations == []


async def test_a_moved_copy_of_a_persons_meeting_goes_back_to_the_meetings_room(stack: LocalStack) -> None:
    stack.graph.set_calendar_processing(MAILBOX, DeleteSubject=False, AddOrganizerToSubject=False)
    stack.graph.person_create_meeting(ADA, "Design review", START, START + dt.timedelta(hours=1), rooms=[MAILBOX])
    await stack.settle()
    [copy] = live_bookings(stack)
    writes_before = len(graph_writes(stack))

    stack.booking.user_update_booking(copy["id"], room_id=OTHER_ROOM_ID)  # a booking-system user moves the copy
    await stack.settle()

    [back] = live_bookings(stack)
    assert back["id"] == copy["id"] and dt.datetime.fromisoformat(back["start"]) == START
    assert "copy of ada's Outlook meeting" in back["note"] and "moved back" in back["note"]  # the user is told why
    assert live_bookings(stack, OTHER_ROOM_ID) == []
    assert live_events(stack, OTHER_MAILBOX) == []
    assert [e["subject"] for e in live_events(stack)] == ["Design review"]  # the room still holds Ada's meeting
    assert [m for m in stack.graph.mail_for(ADA) if m.kind == "declined"] == []  # and Ada was not declined
    assert len(graph_writes(stack)) == writes_before  # nothing written to Outlook
    assert stack.graph.ownership_violations == []


# --- MRBS: its outbox names the old and the new room of an entry -----------------------------------


@pytest.fixture
async def mrbs_stack(azurite: AzuriteTables, postgres: EmbeddedPostgres) -> AsyncIterator[LocalStack]:
    async with LocalStack(azurite=azurite, postgres=postgres, booking="mrbs") as running:
        yield running


async def test_an_mrbs_entry_moved_to_another_room_moves_its_outlook_copy(mrbs_stack: LocalStack) -> None:
    mrbs = mrbs_stack.mrbs
    assert mrbs is not None
    entry = mrbs.user_create_entry(1, "Board meeting", "2027-03-22T09:00", "2027-03-22T10:30")
    await mrbs_stack.settle()
    assert [e["subject"] for e in live_events(mrbs_stack)] == ["Board meeting"]

    mrbs.user_edit_entry(entry["ical_uid"], room_id=2)
    await mrbs_stack.settle()

    assert live_events(mrbs_stack) == []
    assert [e["subject"] for e in live_events(mrbs_stack, OTHER_MAILBOX)] == ["Board meeting"]
    assert mrbs_stack.graph.ownership_violations == []


async def test_a_moved_mrbs_copy_of_a_persons_meeting_goes_back_to_the_meetings_room(mrbs_stack: LocalStack) -> None:
    mrbs = mrbs_stack.mrbs
    assert mrbs is not None
    mrbs_stack.graph.set_calendar_processing(MAILBOX, DeleteSubject=False, AddOrganizerToSubject=False)
    mrbs_stack.graph.person_create_meeting(ADA, "Design review", START, START + dt.timedelta(hours=1),
                                           rooms=[MAILBOX])  # fmt: skip
    await mrbs_stack.settle()
    [copy] = mrbs.live_bookings(1)
    writes_before = len(graph_writes(mrbs_stack))

    mrbs.user_edit_entry(copy["ical_uid"], room_id=2)  # an MRBS user moves calsync's copy
    await mrbs_stack.settle()

    [back] = mrbs.live_bookings(1)
    assert back["ical_uid"] == copy["ical_uid"] and back["start_time"] == copy["start_time"]
    assert mrbs.live_bookings(2) == []
    assert [m for m in mrbs_stack.graph.mail_for(ADA) if m.kind == "declined"] == []
    assert len(graph_writes(mrbs_stack)) == writes_before
    assert mrbs_stack.graph.ownership_violations == []
