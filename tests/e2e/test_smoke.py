"""A first end-to-end pass: a booking made in the booking system appears in Outlook, and vice versa."""

from __future__ import annotations

import pytest

from calsync.local_stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_booking_created_in_the_booking_system_appears_in_outlook(stack: LocalStack) -> None:
    created = stack.booking.user_create_booking(
        "R-100", title="Quarterly review", start="2026-12-03T09:00:00+01:00", end="2026-12-03T10:00:00+01:00",
        time_zone="Europe/Berlin", organizer={"name": "Ada", "email": "ada@contoso.example"},
    )  # fmt: skip
    await stack.settle()
    events = stack.graph.events("room-a@contoso.example")
    assert [e["subject"] for e in events] == ["Quarterly review"], created
