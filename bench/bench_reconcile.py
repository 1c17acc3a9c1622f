"""Graph requests for one steady-state reconcile of N rooms with no changes (goal: one per room).

Starts the local pipeline with 50 rooms of 20 bookings each (10 made in Outlook, 10
in the booking system, before calsync was told), syncs them with the backfill, runs
the maintenance timer once (its full compare stores every room's deltaLink and the
feed cursor), then counts the Graph requests of one reconcile of the first N rooms
for N = 1, 10, 50, through the real reconcile_room function and the in-process
queue. The number of bookings per room does not matter: a room with no changes is
one calendarView delta request that answers "nothing new".

    .venv/bin/python bench/bench_reconcile.py [BOOKINGS_PER_ROOM]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from calsync.functions import runtime
from calsync.maintenance.backfill import apply_backfill, plan_backfill_for
from calsync.maintenance.jobs import publish_job, run_maintenance
from calsync.model.job import JobKind, MaintenanceJob
from calsync.settings import Room
from devstack.inprocess_queue import ManualClock
from devstack.local_stack import LocalStack

ROOMS = 50


def rooms(n: int) -> tuple[Room, ...]:
    return tuple(Room(key=f"room-{i:03d}", mailbox=f"room-{i:03d}@contoso.example", booking_room_id=f"R-{i:03d}",
                      name=f"Room {i}") for i in range(n))  # fmt: skip


def seed(stack: LocalStack, per_room: int) -> None:
    """``per_room`` bookings per room, half in each system, on different days, with nobody notified."""
    stack.booking.webhooks_enabled = False
    stack.graph.drop_notifications(10**9)
    today = dt.datetime.now(dt.UTC).date()
    for room in stack.rooms:
        for i in range(per_room):
            day = today + dt.timedelta(days=2 + i)
            if i % 2 == 0:
                stack.graph.user_create_event(room.mailbox, {
                    "subject": f"Outlook {i}", "start": {"dateTime": f"{day}T09:00:00", "timeZone": "UTC"},
                    "end": {"dateTime": f"{day}T10:00:00", "timeZone": "UTC"}})  # fmt: skip
            else:
                stack.booking.user_create_booking(room.booking_room_id, title=f"Booking {i}",
                                                  start=f"{day}T13:00:00+00:00", end=f"{day}T14:00:00+00:00",
                                                  time_zone="UTC",
                                                  organizer={"name": "Ada", "email": "ada@contoso.example"})  # fmt: skip
    stack.graph.notifier.drop_next = 0
    stack.booking.webhooks_enabled = True


async def main(per_room: int) -> None:
    logging.disable(logging.WARNING)
    clock = ManualClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    local = LocalStack(rooms=rooms(ROOMS), clock=clock)
    local.graph.clock = clock
    async with local as stack:
        seed(stack, per_room)
        engine = await stack.engine()
        started = time.perf_counter()
        result = await apply_backfill(await plan_backfill_for(await stack.services()), engine)
        await stack.settle(timeout=600)
        print(f"set-up: {ROOMS} rooms x {per_room} bookings synced ({result.handled} items, "
              f"{time.perf_counter() - started:.1f} s)")  # fmt: skip
        service = await runtime.current().maintenance()
        await run_maintenance(service)  # first run: full compare of every room, cursors stored
        await stack.settle(timeout=600)

        print(f"Graph requests for one steady-state reconcile with no changes ({per_room} bookings per room):")
        for n in (1, 10, 50):
            clock.advance(15 * 60)  # the next timer period (a job's MessageId is per room and minute)
            stack.graph.clear_requests()
            for room in stack.rooms[:n]:
                await publish_job(service, MaintenanceJob(kind=JobKind.RECONCILE, room=room.key, requested_at=clock()))
            await stack.settle(timeout=600)
            kinds = Counter(f"{r.method} {r.path.rsplit('/', 1)[-1]}" for r in stack.graph.requests)
            total = sum(kinds.values())
            print(
                f"  N = {n:>2} rooms: {total:>3} Graph request(s), {total / n:.2f} per room  "
                f"({', '.join(f'{count} x {kind}' for kind, count in kinds.items())})  (goal: 1 per room)"
            )
        clock.advance(15 * 60)
        stack.graph.clear_requests()
        await run_maintenance(service)
        await stack.settle(timeout=600)
        extra = len(stack.graph.requests) - ROOMS
        print(
            f"  the whole timer run for {ROOMS} rooms (subscriptions kept, feed swept, jobs): "
            f"{len(stack.graph.requests)} Graph request(s) ({extra} besides the deltas)"
        )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
