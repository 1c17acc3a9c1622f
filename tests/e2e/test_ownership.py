"""Ownership (DESIGN invariant 7, EXCHANGE.md): people's meetings in a room calendar, end to end.

A person invites the room; the emulated Calendar Attendant puts the room's copy in the
room calendar (organiser: the person). calsync may read that copy and decline it, but
never PATCH or DELETE it: the emulator records any such write as an ownership violation.
"""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.model import ChangeHint, HintReason, Side
from devstack.local_stack import LocalStack
from tests.e2e.helpers import (
    MAILBOX,
    ROOM_ID,
    booking_fields,
    booking_writes,
    graph_writes,
    live_bookings,
    live_events,
    quiet_logs,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ADA = "ada@contoso.example"
START = dt.datetime(2026, 12, 9, 9, tzinfo=dt.UTC)


def meeting(stack: LocalStack, subject: str = "Design review", *, hours: int = 0, private: bool = False) -> str:
    """Ada's meeting inviting the room; returns the room copy's id."""
    stack.graph.set_calendar_processing(MAILBOX, DeleteSubject=False, AddOrganizerToSubject=False)
    made = stack.graph.person_create_meeting(ADA, subject, START + dt.timedelta(hours=hours),
                                             START + dt.timedelta(hours=hours + 1), rooms=[MAILBOX],
                                             private=private)  # fmt: skip
    copy_id = made.room_copy_ids[MAILBOX.lower()]
    assert copy_id is not None, "the emulated attendant should have accepted the invitation"
    return copy_id


async def test_a_persons_meeting_syncs_with_its_organiser(stack: LocalStack) -> None:
    meeting(stack)
    await stack.settle()
    [booking] = live_bookings(stack)
    assert booking["title"] == "Design review"
    assert booking["organizer"]["email"] == ADA
    assert stack.graph.ownership_violations == []


async def test_moving_the_copy_of_a_persons_meeting_in_the_booking_system_is_reverted(stack: LocalStack) -> None:
    meeting(stack)
    await stack.settle()
    [booking] = live_bookings(stack)
    writes_before = len(graph_writes(stack))

    stack.booking.user_update_booking(booking["id"], start="2026-12-09T15:00:00+00:00", end="2026-12-09T16:00:00+00:00")
    await stack.settle()

    [booking] = live_bookings(stack)
    assert dt.datetime.fromisoformat(booking["start"]) == START  # back to what Ada's meeting says
    assert "copy of ada's Outlook meeting" in booking["note"] and "undone" in booking["note"]  # the user is told why
    assert len(graph_writes(stack)) == writes_before  # the room's copy was not touched
    assert stack.graph.ownership_violations == []


async def test_cancelling_the_copy_in_the_booking_system_declines_the_meeting_and_tells_the_organiser(
    stack: LocalStack,
) -> None:
    copy_id = meeting(stack)
    await stack.settle()
    [booking] = live_bookings(stack)

    stack.booking.user_delete_booking(booking["id"])
    await stack.settle()

    assert live_events(stack) == []  # the room no longer holds it
    declines = [m for m in stack.graph.mail_for(ADA) if m.kind == "declined"]
    assert declines and "cancelled in the booking system" in (declines[-1].comment or "")
    assert stack.graph.ownership_violations == []
    assert copy_id  # the room's copy was declined, not deleted by calsync


async def test_an_outlook_copy_of_a_private_booking_edited_in_outlook_keeps_the_real_title(stack: LocalStack) -> None:
    created = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Layoffs planning", "2026-12-10T09:00:00+01:00", "2026-12-10T10:00:00+01:00", sensitivity="private"))  # fmt: skip
    await stack.settle()
    [event] = live_events(stack)
    assert event["subject"] == "Private booking"

    stack.graph.user_update_event(MAILBOX, event["id"], {
        "start": {"dateTime": "2026-12-10T11:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-10T12:00:00", "timeZone": "UTC"},
    })  # fmt: skip
    await stack.settle()

    [booking] = live_bookings(stack)
    assert booking["id"] == created["id"]
    assert booking["title"] == "Layoffs planning"  # the mask never flows back
    assert dt.datetime.fromisoformat(booking["start"]) == dt.datetime(2026, 12, 10, 11, tzinfo=dt.UTC)


async def compare_everything(stack: LocalStack) -> None:
    """What the 6-hourly full compare does, and more: the reconciler's full compare, then a reconcile hint for
    every item of the room on both sides, each handled by the engine."""
    services = await stack.services()
    room = next(r for r in services.settings.rooms if r.mailbox == MAILBOX)
    assert stack.queue is not None
    await services.maintenance(stack.queue).reconciler.reconcile_room(room, full=True)
    await stack.settle()
    engine = await stack.engine()
    items = [(Side.OUTLOOK, e["id"]) for e in stack.graph.events(MAILBOX)]
    items += [(Side.BOOKING, b["id"]) for b in stack.booking.bookings() if b["room_id"] == ROOM_ID]
    for side, item_id in items:
        await engine.handle(ChangeHint(source=side, room=room.key, item_id=item_id, reason=HintReason.RECONCILE,
                                       observed_at=dt.datetime.now(dt.UTC)))  # fmt: skip


async def test_a_retitled_placeholder_on_the_outlook_copy_of_a_private_booking_is_masked_again(
    stack: LocalStack,
) -> None:
    """Issue 11: a delegate retitles the copy ('Private booking (Ada)'); the placeholder's title never flows back."""
    created = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Layoffs planning", "2026-12-10T09:00:00+01:00", "2026-12-10T10:00:00+01:00", sensitivity="private"))  # fmt: skip
    await stack.settle()
    [event] = live_events(stack)
    await quiet_logs(stack)

    stack.graph.user_update_event(MAILBOX, event["id"], {"subject": "Private booking (Ada)"})
    await stack.settle()

    [booking] = live_bookings(stack)
    assert (booking["id"], booking["title"]) == (created["id"], "Layoffs planning")  # the booking keeps its title
    assert [e["subject"] for e in live_events(stack)] == ["Private booking"]  # the copy shows the placeholder again
    assert booking_writes(stack) == []
    assert graph_writes(stack) == [f"PATCH /users/{MAILBOX}/events/{event['id']}"]  # one write, then quiet

    await quiet_logs(stack)
    await compare_everything(stack)
    await stack.settle()
    assert graph_writes(stack) == [] and booking_writes(stack) == []
    assert stack.graph.ownership_violations == []


async def test_with_exchanges_default_room_titles_a_persons_meeting_syncs_the_organisers_name_and_stays_quiet(
    stack: LocalStack,
) -> None:
    """Exchange's defaults (DeleteSubject, AddOrganizerToSubject True): the room's copy shows Ada's name, not the title.

    calsync sees only the room's copy, so the booking shows the organiser's name as its title; that name is
    what the copy says, not a title change: a full compare writes nothing, and Ada's move of her meeting
    moves the booking and keeps the name (docs/architecture.md, "Titles of people's meetings").
    """
    stack.graph.add_person(ADA, "Ada Lovelace")
    made = stack.graph.person_create_meeting(ADA, "Salary review", START, START + dt.timedelta(hours=1),
                                             rooms=[MAILBOX])  # fmt: skip
    await stack.settle()
    [event] = live_events(stack)
    assert event["subject"] == "Ada Lovelace"  # the attendant replaced the title with the organiser's name
    [booking] = live_bookings(stack)
    assert booking["title"] == "Ada Lovelace" and booking["organizer"]["email"] == ADA
    assert "Salary review" not in str(stack.booking.bookings())

    await quiet_logs(stack)
    await compare_everything(stack)
    await stack.settle()
    assert graph_writes(stack) == [] and booking_writes(stack) == []

    stack.graph.person_update_meeting(ADA, made.organizer_event_id, start=START + dt.timedelta(hours=2),
                                      end=START + dt.timedelta(hours=3))  # fmt: skip
    await stack.settle()
    [booking] = live_bookings(stack)
    assert booking["title"] == "Ada Lovelace"
    assert dt.datetime.fromisoformat(booking["start"]) == START + dt.timedelta(hours=2)
    assert len(booking_writes(stack)) == 1 and graph_writes(stack) == []
    await quiet_logs(stack)
    await compare_everything(stack)
    await stack.settle()
    assert graph_writes(stack) == [] and booking_writes(stack) == []
    assert stack.graph.ownership_violations == []


async def test_a_losing_persons_meeting_is_declined_never_deleted_and_the_conflict_is_recorded(
    stack: LocalStack,
) -> None:
    stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Booked first", "2026-12-09T10:00:00+01:00", "2026-12-09T11:00:00+01:00"))  # fmt: skip
    await stack.settle()
    # Ada's invitation arrives while the room's attendant allows conflicts (the race before a copy exists)
    stack.graph.set_calendar_processing(MAILBOX, AllowConflicts=True)
    meeting(stack, "Came second")
    await stack.settle()

    assert [b["title"] for b in live_bookings(stack)] == ["Booked first"]
    assert [e["subject"] for e in live_events(stack)] == ["Booked first"]
    declines = [m for m in stack.graph.mail_for(ADA) if m.kind == "declined"]
    assert declines and "already booked" in (declines[-1].comment or "")
    assert stack.graph.ownership_violations == []


async def test_a_room_block_declines_the_meetings_in_its_time_whatever_the_policy(stack: LocalStack) -> None:
    meeting(stack, "Planned before the closure")
    await stack.settle()
    assert len(live_bookings(stack)) == 1

    stack.booking.user_add_block(ROOM_ID, "2026-12-09T08:00:00+00:00", "2026-12-09T12:00:00+00:00",
                                 title="Floor renovation")  # fmt: skip
    await stack.settle()

    assert [e["subject"] for e in live_events(stack)] == ["Floor renovation"]
    assert [b["title"] for b in live_bookings(stack)] == ["Floor renovation"]
    declines = [m for m in stack.graph.mail_for(ADA) if m.kind == "declined"]
    assert declines and "unavailable" in (declines[-1].comment or "")
    assert stack.graph.ownership_violations == []
