"""Backfill: a dry-run plan that writes nothing, then apply with progress, ending with both sides identical."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from calsync.maintenance.backfill import (
    BackfillPlan,
    BackfillProgress,
    StampedSeen,
    apply_backfill,
    plan_backfill_for,
    plan_room,
)
from calsync.maintenance.reconcile import Seen
from calsync.store.mappings import MappingStore
from devstack.local_stack import LocalStack
from tests.e2e.helpers import MAILBOX, ROOM_ID, booking_fields, graph_event, live_bookings, live_events
from tests.maintenance.conftest import soon, soon_offset

pytestmark = [pytest.mark.e2e]


def test_plan_room_counts_copies_to_make_and_stamped_copies_to_adopt() -> None:
    outlook = [Seen("o1", "ck"), Seen("o2", "ck"), Seen("copy-of-b1", "ck")]
    booking = [StampedSeen("b1", None), StampedSeen("b2", "o2"), StampedSeen("b3", None)]
    plan = plan_room("room-a", outlook, booking, [])
    assert (plan.to_booking, plan.to_outlook, plan.adopt, plan.mapped) == (2, 2, 1, 0)
    assert plan.outlook_ids == ("o1", "o2", "copy-of-b1") and plan.work == 6


async def test_backfill_plans_without_writing_then_syncs_everything_with_progress(stack: LocalStack) -> None:
    stack.booking.webhooks_enabled = False  # existing bookings from before calsync: nobody was told
    stack.graph.drop_notifications(3)
    for days in (3, 4, 5):
        start, end = soon(days)
        stack.graph.user_create_event(MAILBOX, graph_event(f"Outlook {days}", start, end))
    for days in (6, 7):
        start, end = soon_offset(days)
        stack.booking.user_create_booking(ROOM_ID, **booking_fields(f"Booking {days}", start, end))
    await stack.settle()
    stack.booking.webhooks_enabled = True
    engine = await stack.engine()
    stack.graph.clear_requests()
    stack.booking.clear_requests()

    plan = await plan_backfill_for(await stack.services())
    assert plan.totals() == {"outlook_items": 3, "booking_items": 2, "mapped": 0, "to_booking": 3,
                             "to_outlook": 2, "adopt": 0}  # fmt: skip
    assert [r for r in stack.graph.requests if r.method != "GET"] == []
    assert [r for r in stack.booking.requests if r.method != "GET"] == []

    seen: list[BackfillProgress] = []
    result = await apply_backfill(plan, engine, progress=seen.append)
    assert (result.handled, result.failed, result.actions["create"]) == (5, 0, 5)
    assert [p.overall_done for p in seen] == [1, 2, 3, 4, 5] and seen[-1].overall_total == 5
    await stack.settle()  # the copies' own notifications are echoes
    assert sorted(e["subject"] for e in live_events(stack)) == sorted(b["title"] for b in live_bookings(stack))
    assert len(live_events(stack)) == 5
    assert len(await MappingStore(engine.tables).list_room("room-a")) == 5

    again = await plan_backfill_for(await stack.services())
    assert again.work == 0 and again.totals()["mapped"] == 10


async def seed_bookings(stack: LocalStack, count: int) -> None:
    """``count`` bookings made before calsync was told (no webhooks), one hour each on different days and hours."""
    stack.booking.webhooks_enabled = False
    for i in range(count):
        start, end = soon_offset(3 + i % 10, 8 + i // 10)
        stack.booking.user_create_booking(ROOM_ID, **booking_fields(f"Booking {i}", start, end))
    await stack.settle()
    stack.booking.webhooks_enabled = True


def outlook_creates(stack: LocalStack) -> tuple[int, int]:
    """(batched, single) event POSTs the Graph emulator served."""
    posts = [r for r in stack.graph.requests if r.method == "POST" and r.path.endswith("/events")]
    return sum(1 for r in posts if r.batched), sum(1 for r in posts if not r.batched)


async def test_backfill_creates_outlook_copies_in_batches_and_saves_each_mapping(stack: LocalStack) -> None:
    await seed_bookings(stack, 25)
    engine = await stack.engine()
    stack.graph.throttle("POST", "/users/*/events", times=3, retry_after=0.1)  # three items come back 429
    stack.graph.clear_requests()

    result = await apply_backfill(await plan_backfill_for(await stack.services()), engine)
    assert (result.handled, result.failed, result.actions["create"]) == (25, 0, 25), (result.actions, result.errors)
    assert outlook_creates(stack) == (28, 0)  # two batches, the three throttled items once more
    assert [r for r in stack.graph.requests if r.path.endswith("$batch")] != []
    rows = await MappingStore(engine.tables).list_room("room-a")
    assert len(rows) == 25 and all(row.outlook_hash and row.booking_hash for row in rows)

    stack.graph.clear_requests()
    await stack.settle()  # the copies' notifications are echoes of calsync's writes: nothing is written
    assert [r for r in stack.graph.requests if r.method != "GET"] == []
    assert sorted(e["subject"] for e in live_events(stack)) == sorted(b["title"] for b in live_bookings(stack))
    assert (await plan_backfill_for(await stack.services())).work == 0


async def test_a_batched_create_that_failed_is_tried_again_through_the_engine_without_duplicates(
    stack: LocalStack,
) -> None:
    await seed_bookings(stack, 5)
    engine = await stack.engine()
    stack.graph.fail("POST", "/users/*/events", status=500, times=1)
    stack.graph.clear_requests()

    result = await apply_backfill(await plan_backfill_for(await stack.services()), engine)
    assert (result.handled, result.failed, result.actions["create"]) == (5, 0, 5)
    assert outlook_creates(stack) == (5, 1)  # the failed one once more, on its own
    await stack.settle()
    assert len(live_events(stack)) == 5
    assert len(await MappingStore(engine.tables).list_room("room-a")) == 5


class Crash(Exception):
    """The worker dies here: nothing after this point runs."""


async def test_a_backfill_that_died_after_its_creates_leaves_no_duplicates_when_run_again(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_bookings(stack, 30)
    stack.graph.drop_notifications(5)
    for days in (3, 4, 5, 6, 7):
        start, end = soon(days, 14)  # the bookings are in the morning: nothing overlaps
        stack.graph.user_create_event(MAILBOX, graph_event(f"Outlook {days}", start, end))
    await stack.settle()
    engine = await stack.engine()
    # nobody is told of the copies either: the next run alone must find them
    stack.booking.webhooks_enabled = False
    stack.graph.drop_notifications(10**6)
    writes, calls, first_written = engine.mappings.create_many, [], asyncio.Event()

    async def dies_after_the_first_transaction(rows: list) -> list:
        calls.append(len(rows))
        if len(calls) > 1:
            await first_written.wait()  # the chunks run side by side: die once the first one is written
            raise Crash  # copies created, their mappings never written
        try:
            return await writes(rows)
        finally:
            first_written.set()

    monkeypatch.setattr(engine.mappings, "create_many", dies_after_the_first_transaction)
    with pytest.raises(Crash):
        await apply_backfill(await plan_backfill_for(await stack.services()), engine)
    await stack.settle()
    monkeypatch.undo()
    assert 0 < len(await MappingStore(engine.tables).list_room("room-a")) < 35
    assert len(live_events(stack)) + len(live_bookings(stack)) == 70  # every copy made, many without a mapping

    again = await plan_backfill_for(await stack.services())
    result = await apply_backfill(again, engine)
    assert result.failed == 0, result.errors
    assert len(live_events(stack)) == len(live_bookings(stack)) == 35  # no duplicates on either side
    assert sorted(e["subject"] for e in live_events(stack)) == sorted(b["title"] for b in live_bookings(stack))
    assert len(await MappingStore(engine.tables).list_room("room-a")) == 35
    assert (await plan_backfill_for(await stack.services())).work == 0


def calendar(stack: LocalStack, mailbox: str, room_id: str) -> tuple[list[tuple], list[tuple]]:
    """What each side of a room holds now, without ids: subject and times per live item."""
    events = sorted((e["subject"], e["start"]["dateTime"][:16], e["end"]["dateTime"][:16], bool(e.get("recurrence")))
                    for e in live_events(stack, mailbox))  # fmt: skip
    bookings = sorted((b["title"], b["start"][:16], b["end"][:16], bool(b.get("recurrence")))
                      for b in live_bookings(stack, room_id))  # fmt: skip
    return events, bookings


async def test_decisions_from_the_room_listing_end_where_the_engine_one_item_at_a_time_ends(stack: LocalStack) -> None:
    """Overlaps across sides and a series: the same outcome both ways.

    (Not two Outlook meetings over each other: first-come compares creation times, and the
    Graph emulator's clock is the test's fixed one, so their order would be a coin toss.)
    """
    stack.booking.webhooks_enabled = False
    stack.graph.drop_notifications(10**6)
    series_day = dt.date.fromisoformat(soon(5, 14)[0][:10])
    weekly = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [series_day.strftime("%A").lower()]},
              "range": {"type": "numbered", "startDate": str(series_day), "numberOfOccurrences": 3}}  # fmt: skip
    for room in stack.rooms[:2]:  # the same calendars in two rooms
        mailbox, room_id = room.mailbox, room.booking_room_id
        stack.booking.user_create_booking(room_id, **booking_fields("Booked first", *soon_offset(3, 10)))
        stack.graph.user_create_event(mailbox, graph_event("Outlook later, overlapping", *soon(3, 10)))
        stack.graph.user_create_event(mailbox, graph_event("Outlook one", *soon(4, 9)))
        stack.booking.user_create_booking(room_id, **booking_fields("Booked later, same hour", *soon_offset(4, 9)))
        stack.graph.user_create_event(mailbox, graph_event("Weekly", *soon(5, 14), recurrence=weekly))
        stack.booking.user_create_booking(room_id, **booking_fields("In the series' way", *soon_offset(12, 14)))
        stack.booking.user_create_booking(room_id, **booking_fields("Booking alone", *soon_offset(6, 8)))
        stack.graph.user_create_event(mailbox, graph_event("Outlook alone", *soon(7, 8)))
    await stack.settle()
    engine = await stack.engine()
    plan = await plan_backfill_for(await stack.services())
    listed, one_by_one = plan.rooms  # room-a: RoomBackfill, room-b: the engine, one item at a time
    batched = await apply_backfill(BackfillPlan((listed,)), engine)
    engine_only = await apply_backfill(BackfillPlan((one_by_one,)), engine, batch_creates=False)
    await stack.settle()

    assert batched.failed == engine_only.failed == 0, (batched.errors, engine_only.errors)
    assert batched.actions == engine_only.actions, (batched.actions, engine_only.actions)
    room_a, room_b = stack.rooms[:2]
    assert calendar(stack, room_a.mailbox, room_a.booking_room_id) == calendar(stack, room_b.mailbox,
                                                                              room_b.booking_room_id)  # fmt: skip
