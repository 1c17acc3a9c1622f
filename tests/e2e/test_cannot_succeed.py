"""Failures that cannot succeed are dead-lettered after one delivery, recorded, and told (DESIGN invariant 8).

The real stack: Azurite, both emulators, the loopback host binding sync_change with
autoCompleteMessages off, and the in-process queue settling as ServiceBusMessageActions.
"""

from __future__ import annotations

import pytest

from calsync.model import Side
from calsync.operations.status import collect_status
from calsync.store.client import TableStore
from calsync.store.problems import ProblemStore
from devstack.local_stack import LocalStack
from tests.e2e.helpers import MAILBOX, ROOM_ID, booking_fields, live_events

pytestmark = [pytest.mark.e2e]

ROOM = "room-a"


async def problems(stack: LocalStack) -> list:
    assert stack.settings is not None
    tables = TableStore.from_settings(stack.settings)
    try:
        return await ProblemStore(tables).list(ROOM)
    finally:
        await tables.close()


async def test_booking_with_a_rule_outlook_cannot_express_is_dead_lettered_once_rejected_and_shown(
    stack: LocalStack,
) -> None:
    assert stack.queue is not None and stack.settings is not None and stack.booking is not None
    booking = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Month-end review", "2026-12-30T09:00:00+01:00", "2026-12-30T10:00:00+01:00",
        recurrence={"rrule": "FREQ=MONTHLY;BYMONTHDAY=30"}))  # fmt: skip
    await stack.settle()

    [letter] = stack.queue.dead_letters(stack.settings.changes_queue)
    assert letter.delivery_count == 1 and letter.reason == "UnsupportedRecurrence"
    assert "BYMONTHDAY=30" in (letter.description or "")
    [stored] = [b for b in stack.booking.bookings() if b["id"] == booking["id"]]
    assert stored["status"] == "rejected"
    assert "cannot copy this booking to Outlook" in stored["rejection_reason"]
    assert "BYMONTHDAY=30" in stored["rejection_reason"]
    assert not [e for e in live_events(stack, MAILBOX) if e["subject"] == "Month-end review"]
    [problem] = await problems(stack)
    assert (problem.side, problem.item_id, problem.error_type) == (Side.BOOKING, booking["id"], "UnsupportedRecurrence")
    assert problem.organiser_told and problem.message_id == letter.message_id
    [room_a] = [row for row in await collect_status(stack.settings) if row.room.key == ROOM]
    assert room_a.problems == 1
    assert not stack.graph.declines  # never an Outlook decline for a technical failure


async def test_transient_failure_is_still_retried(stack: LocalStack) -> None:
    assert stack.queue is not None and stack.settings is not None and stack.booking is not None
    stack.graph.fail("POST", "/users/*/calendar/events", status=500, times=2)
    stack.graph.fail("POST", "/users/*/events", status=500, times=2)
    stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Retro", "2026-12-08T09:00:00+01:00", "2026-12-08T10:00:00+01:00"))  # fmt: skip
    await stack.settle()

    assert stack.queue.dead_letters(stack.settings.changes_queue) == []
    assert stack.queue.stats(stack.settings.changes_queue).abandoned >= 1
    assert [e["subject"] for e in live_events(stack, MAILBOX)] == ["Retro"]
    assert await problems(stack) == []


async def test_problem_clears_after_the_item_next_syncs(stack: LocalStack) -> None:
    assert stack.queue is not None and stack.settings is not None and stack.booking is not None
    # an earlier failure of this booking that no retry could cure: dead-lettered, recorded
    stack.graph.fail("POST", "/users/*/calendar/events", status=403, times=1)
    stack.graph.fail("POST", "/users/*/events", status=403, times=1)
    booking = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Planning", "2026-12-09T09:00:00+01:00", "2026-12-09T10:00:00+01:00"))  # fmt: skip
    await stack.settle()
    assert [(p.item_id, p.error_type) for p in await problems(stack)] == [(booking["id"], "PermissionDenied")]

    stack.booking.user_update_booking(booking["id"], title="Planning (moved)", start="2026-12-09T11:00:00+01:00",
                                      end="2026-12-09T12:00:00+01:00")  # fmt: skip
    await stack.settle()

    assert await problems(stack) == []
    assert [e["subject"] for e in live_events(stack, MAILBOX)] == ["Planning (moved)"]
