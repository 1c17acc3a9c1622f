"""Service-mailbox mode (issue #14, EXCHANGE.md case 3), end to end on both emulators and Azurite.

A booking made in the booking system becomes a meeting the service mailbox organises,
with the booker (when in the tenant) and the room as attendees; the room's attendant
accepts it and calsync maps the room's copy, writing only to the organiser's event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from devstack.azurite import AzuriteTables
from devstack.local_stack import LocalStack
from tests.e2e.helpers import (
    MAILBOX,
    ROOM_ID,
    booking_fields,
    booking_writes,
    graph_utc,
    graph_writes,
    live_bookings,
    live_events,
    quiet_logs,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVICE = "bookings@contoso.example"
ADA = "ada@contoso.example"
LINK = "https://rooms.contoso.example/b/{booking_id}"


@pytest.fixture
async def stack(azurite: AzuriteTables) -> AsyncIterator[LocalStack]:
    async with LocalStack(azurite=azurite, service_mailbox=SERVICE, tenant_domains="contoso.example",
                          booking_url_template=LINK) as running:  # fmt: skip
        running.graph.add_person(ADA, "Ada Lovelace")
        yield running


def _attendees(event: dict) -> dict[str, str]:
    return {a["emailAddress"]["address"].lower(): a["type"] for a in event.get("attendees") or []}


def _live(stack: LocalStack, mailbox: str) -> list[dict]:
    return [e for e in stack.graph.events(mailbox) if not e.get("isCancelled")]


async def test_a_booking_is_one_meeting_in_the_service_mailbox_moved_and_cancelled_through_it(
    stack: LocalStack,
) -> None:
    created = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Planning", "2026-12-10T09:00:00+01:00", "2026-12-10T10:00:00+01:00"))  # fmt: skip
    await stack.settle()

    [meeting] = _live(stack, SERVICE)
    assert _attendees(meeting) == {ADA: "required", MAILBOX: "resource"}
    body = meeting["body"]["content"]
    assert "Ada Lovelace" in body and LINK.format(booking_id=created["id"]) in body
    assert len(_live(stack, ADA)) == 1  # the booker's calendar shows it once
    [copy] = live_events(stack)  # and the room's, once, organised by the service mailbox
    assert copy["organizer"]["emailAddress"]["address"].lower() == SERVICE
    assert len(live_bookings(stack)) == 1  # the room's copy did not come back as a second booking

    await quiet_logs(stack)
    stack.booking.user_update_booking(created["id"], start="2026-12-10T14:00:00+01:00",
                                      end="2026-12-10T15:00:00+01:00")  # fmt: skip
    await stack.settle()
    moved = dt.datetime(2026, 12, 10, 13, tzinfo=dt.UTC)
    for mailbox in (SERVICE, ADA, MAILBOX):
        [event] = _live(stack, mailbox)
        assert graph_utc(event["start"]) == moved, mailbox
    assert [w.split(" ")[0] for w in graph_writes(stack)] == ["PATCH"]
    assert all(SERVICE in w for w in graph_writes(stack))  # written at the organiser only

    await quiet_logs(stack)
    stack.booking.user_cancel_booking(created["id"], reason="The project was stopped", by=ADA)
    await stack.settle()
    cancellations = [m for m in stack.graph.mail_for(ADA) if m.kind == "cancelled"]
    assert cancellations and cancellations[-1].comment == "The project was stopped"
    assert live_events(stack) == [] and _live(stack, ADA) == []
    assert stack.booking.get_booking(created["id"])["status"] == "cancelled"

    await quiet_logs(stack)
    await stack.settle()
    assert graph_writes(stack) == [] and booking_writes(stack) == []  # no echo writes afterwards
    assert stack.graph.ownership_violations == []


async def test_a_booker_outside_the_tenant_is_not_invited_and_the_body_says_so(stack: LocalStack) -> None:
    fields = booking_fields("Visit", "2026-12-11T09:00:00+01:00", "2026-12-11T10:00:00+01:00")
    fields["organizer"] = {"name": "Grace Guest", "email": "grace@fabrikam.example"}
    stack.booking.user_create_booking(ROOM_ID, **fields)
    await stack.settle()
    [meeting] = _live(stack, SERVICE)
    assert _attendees(meeting) == {MAILBOX: "resource"}
    assert "grace@fabrikam.example" in meeting["body"]["content"]
    assert "not invited" in meeting["body"]["content"]
    assert len(live_events(stack)) == 1 and len(live_bookings(stack)) == 1
    assert stack.graph.ownership_violations == []


async def test_a_meeting_the_room_declines_rejects_the_booking_with_the_reason(stack: LocalStack) -> None:
    stack.graph.set_calendar_processing(MAILBOX, MaximumDurationInMinutes=30)
    created = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Long workshop", "2026-12-12T09:00:00+01:00", "2026-12-12T11:00:00+01:00"))  # fmt: skip
    await stack.settle()
    rejected = stack.booking.get_booking(created["id"])
    assert rejected["status"] == "rejected" and "declined" in rejected["rejection_reason"]
    assert live_events(stack) == [] and _live(stack, SERVICE) == []
    services = await stack.services()
    from calsync.store.records import ConflictStore

    conflicts = await ConflictStore(services.tables).list("room-a")
    assert [c.kind for c in conflicts] == ["room-declined"]
    assert stack.graph.ownership_violations == []
