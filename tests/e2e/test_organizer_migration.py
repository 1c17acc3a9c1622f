"""Switching a room from `room` to `service-mailbox` mode, and `calsync rooms check` (issue #14), end to end."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.operations.organizer import check_rooms, migrate_room
from calsync.room_options import OrganizerMode, options_for
from devstack.azurite import AzuriteTables
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

SERVICE = "bookings@contoso.example"
ADA = "ada@contoso.example"


def _organisers(stack: LocalStack) -> list[str]:
    return sorted(e["organizer"]["emailAddress"]["address"].lower() for e in live_events(stack))


async def test_switching_a_room_to_the_service_mailbox_migrates_its_copies_without_duplicates(
    azurite: AzuriteTables,
) -> None:
    async with LocalStack(azurite=azurite, service_mailbox=SERVICE, organizer_mode="room",
                          tenant_domains="contoso.example") as stack:  # fmt: skip
        stack.graph.add_person(ADA, "Ada Lovelace")
        made = [stack.booking.user_create_booking(ROOM_ID, **booking_fields(
            f"Planning {day}", f"2026-12-{day}T09:00:00+01:00", f"2026-12-{day}T10:00:00+01:00")) for day in (14, 15)]  # fmt: skip
        await stack.settle()
        assert _organisers(stack) == [MAILBOX, MAILBOX]

        # the operator sets organizer_mode service-mailbox (the app restarts with it), then migrates
        switched = stack.settings.model_copy(update={"organizer_mode": OrganizerMode.SERVICE_MAILBOX})
        (await stack.services()).outlook.options = lambda room: options_for(switched, room)
        await quiet_logs(stack)
        planned = await migrate_room(switched, "room-a")
        assert sorted(s.booking_id for s in planned) == sorted(b["id"] for b in made)
        assert graph_writes(stack) == []  # a dry run writes nothing

        done = await migrate_room(switched, "room-a", apply=True)
        assert all(s.outcome.startswith("migrated") for s in done)
        await stack.settle()
        assert _organisers(stack) == [SERVICE, SERVICE]  # the room shows each booking once, now as a meeting
        assert len([e for e in stack.graph.events(SERVICE) if not e.get("isCancelled")]) == 2
        assert sorted(b["id"] for b in live_bookings(stack)) == sorted(b["id"] for b in made)
        assert await migrate_room(switched, "room-a") == []  # nothing left to migrate

        await quiet_logs(stack)
        await stack.settle()
        assert graph_writes(stack) == [] and booking_writes(stack) == []

        stack.booking.user_update_booking(made[0]["id"], start="2026-12-14T11:00:00+01:00",
                                          end="2026-12-14T12:00:00+01:00")  # fmt: skip
        await stack.settle()
        starts = sorted(e["start"]["dateTime"][:16] for e in live_events(stack))
        assert starts[0] == "2026-12-14T10:00"
        assert stack.graph.ownership_violations == []


async def test_rooms_check_sees_the_organiser_name_as_the_subject(azurite: AzuriteTables) -> None:
    async with LocalStack(azurite=azurite, service_mailbox=SERVICE, tenant_domains="contoso.example") as stack:
        start = dt.datetime(2026, 12, 9, 9, tzinfo=dt.UTC)
        stack.graph.person_create_meeting(ADA, "Design review", start, start + dt.timedelta(hours=1), rooms=[MAILBOX])
        stack.booking.user_create_booking(ROOM_ID, **booking_fields(
            "Planning", "2026-12-10T09:00:00+01:00", "2026-12-10T10:00:00+01:00"))  # fmt: skip
        await stack.settle()
        [found, _other] = await check_rooms(stack.settings)
        assert found.room == "room-a" and found.mode == "service-mailbox"
        text = "\n".join(found.findings)
        assert "DeleteSubject and AddOrganizerToSubject are on" in text
        assert f"the room accepts {SERVICE}'s meetings" in text
