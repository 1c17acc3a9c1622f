"""DESIGN invariants end to end: no loops (one edit -> one write), idempotency under duplicated and shuffled
hints, and no duplicates after a crash between the target write and the mapping save."""

from __future__ import annotations

import random

import pytest

from devstack.azurite import AzuriteTables
from devstack.local_stack import LocalStack
from tests.e2e.helpers import (
    MAILBOX,
    ROOM_ID,
    HeldHints,
    booking_fields,
    booking_writes,
    graph_event,
    graph_reads,
    graph_writes,
    live_bookings,
    live_events,
    quiet_logs,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_one_booking_edit_makes_exactly_one_outlook_write_then_quiet(stack: LocalStack) -> None:
    created = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Budget", "2026-12-14T09:00:00+01:00", "2026-12-14T10:00:00+01:00"))  # fmt: skip
    await quiet_logs(stack)

    stack.booking.user_update_booking(created["id"], title="Budget (final)")
    await stack.settle()
    assert graph_writes(stack) == [f"PATCH /users/{MAILBOX}/events/{live_events(stack)[0]['id']}"]
    assert booking_writes(stack) == []  # the echo of calsync's Outlook write was recognised
    assert live_events(stack)[0]["subject"] == "Budget (final)"

    await quiet_logs(stack)
    await stack.settle()
    assert graph_writes(stack) == [] and booking_writes(stack) == []


async def test_one_outlook_edit_makes_exactly_one_booking_write_then_quiet(stack: LocalStack) -> None:
    event = stack.graph.user_create_event(MAILBOX, graph_event("Retro", "2026-12-15T16:00:00", "2026-12-15T17:00:00"))
    await quiet_logs(stack)

    stack.graph.user_update_event(MAILBOX, event["id"], {"subject": "Retro (with pizza)"})
    await stack.settle()
    assert len(booking_writes(stack)) == 1
    assert graph_writes(stack) == []
    assert len(graph_reads(stack)) == 1  # Graph requests per synced Outlook change: the one GET
    assert live_bookings(stack)[0]["title"] == "Retro (with pizza)"

    await quiet_logs(stack)
    await stack.settle()
    assert graph_writes(stack) == [] and booking_writes(stack) == []


async def test_hints_delivered_three_times_in_shuffled_order_converge_without_duplicates(
    azurite: AzuriteTables,
) -> None:
    async with LocalStack(azurite=azurite, queue_options={"duplicate_detection": False}) as stack:
        held = HeldHints(stack)
        first = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
            "Hiring panel", "2026-12-16T09:00:00+01:00", "2026-12-16T10:00:00+01:00"))  # fmt: skip
        event = stack.graph.user_create_event(MAILBOX, graph_event("All hands", "2026-12-17T15:00:00",
                                                                   "2026-12-17T16:00:00"))  # fmt: skip
        stack.booking.user_update_booking(first["id"], title="Hiring panel (2 candidates)")
        stack.graph.user_update_event(MAILBOX, event["id"], {"subject": "All hands (Q4)"})
        await stack.settle()  # webhooks delivered, hints held, nothing processed
        hints = held.messages()
        assert len(hints) >= 4
        assert [b["title"] for b in live_bookings(stack)] == ["Hiring panel (2 candidates)"]  # nothing synced yet
        assert [e["subject"] for e in live_events(stack)] == ["All hands (Q4)"]

        deliveries = hints * 3
        random.Random(7).shuffle(deliveries)
        await held.release(deliveries)

        assert sorted(b["title"] for b in live_bookings(stack)) == ["All hands (Q4)", "Hiring panel (2 candidates)"]
        assert sorted(e["subject"] for e in live_events(stack)) == ["All hands (Q4)", "Hiring panel (2 candidates)"]


@pytest.mark.parametrize("direction", ["booking-to-outlook", "outlook-to-booking"])
async def test_crash_between_target_write_and_mapping_save_leaves_no_duplicate(
    stack: LocalStack, direction: str
) -> None:
    engine = await stack.engine()
    real_create, crashes = engine.mappings.create, []

    async def crash_once(row):
        if not crashes:
            crashes.append(row)
            raise RuntimeError("worker died after writing the copy, before saving the mapping")
        return await real_create(row)

    engine.mappings.create = crash_once
    if direction == "booking-to-outlook":
        stack.booking.user_create_booking(ROOM_ID, **booking_fields(
            "Crash test", "2026-12-18T09:00:00+01:00", "2026-12-18T10:00:00+01:00"))  # fmt: skip
    else:
        stack.graph.user_create_event(MAILBOX, graph_event("Crash test", "2026-12-18T09:00:00", "2026-12-18T10:00:00"))
    await stack.settle()

    assert len(crashes) == 1 and stack.queue.stats().abandoned >= 1
    assert [e["subject"] for e in live_events(stack)] == ["Crash test"]
    assert [b["title"] for b in live_bookings(stack)] == ["Crash test"]
    assert stack.queue.dead_letters("changes") == []


async def test_the_echo_of_calsyncs_own_write_stops_at_the_webhook_of_the_instance_that_wrote_it(
        stack: LocalStack) -> None:  # fmt: skip
    # one instance (this process) writes and receives the notification of its write: no hint is queued for it
    created = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        "Offsite", "2026-12-16T09:00:00+01:00", "2026-12-16T10:00:00+01:00"))  # fmt: skip
    event = stack.graph.user_create_event(MAILBOX, graph_event("Standup", "2026-12-17T08:00:00", "2026-12-17T08:15:00"))
    await quiet_logs(stack)
    before = stack.queue.stats("changes").sent

    stack.booking.user_update_booking(created["id"], title="Offsite (moved online)")
    await stack.settle()
    stack.graph.user_update_event(MAILBOX, event["id"], {"subject": "Standup (short)"})
    await stack.settle()
    assert stack.queue.stats("changes").sent - before == 2  # the two edits; not their two echoes
    assert {e["subject"] for e in live_events(stack)} >= {"Offsite (moved online)", "Standup (short)"}
    assert {b["title"] for b in live_bookings(stack)} >= {"Offsite (moved online)", "Standup (short)"}
