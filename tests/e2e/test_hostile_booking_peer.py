"""A booking system that answers DELETE with a redirect, end to end: the booking and its mapping stay (issue 13)."""

from __future__ import annotations

import pytest

from calsync.model import Side
from calsync.store.mappings import MappingStore
from devstack.local_stack import LocalStack
from tests.e2e.helpers import MAILBOX, graph_event, live_bookings

pytestmark = [pytest.mark.e2e]


async def test_a_3xx_on_delete_keeps_the_booking_and_its_mapping_and_dead_letters_the_hint(stack: LocalStack) -> None:
    event = stack.graph.user_create_event(MAILBOX, graph_event("Redirected", "2026-12-08T10:00:00",
                                                               "2026-12-08T11:00:00"))  # fmt: skip
    await stack.settle()
    [booking] = live_bookings(stack)
    mappings = MappingStore((await stack.engine()).tables)
    assert await mappings.find("room-a", Side.OUTLOOK, event["id"]) is not None

    stack.booking.inject_fault("DELETE", "/bookings/*", status=307, times=100)
    stack.booking.inject_fault("PUT", "/bookings/*", status=307, times=100)  # a soft cancellation is a PUT
    stack.graph.user_delete_event(MAILBOX, event["id"])
    await stack.settle()

    assert [b["id"] for b in live_bookings(stack)] == [booking["id"]]  # not deleted...
    row = await mappings.find("room-a", Side.OUTLOOK, event["id"])
    assert row is not None and row.booking_id == booking["id"]  # ...and not orphaned: the mapping is kept
    [dead] = stack.queue.dead_letters("changes")
    assert "PeerContractError" in (dead.description or "") and "307" in (dead.description or "")
