"""End-to-end sync figures on this machine: changes synced per second, Graph requests per synced change.

Runs the whole local pipeline (Azurite, both emulators, the loopback functions host,
the in-process queue) and measures:

- throughput: N bookings made in the booking system plus N meetings made in Outlook,
  then N edits on each side, until every queue is drained (changes synced per second);
- Graph requests per synced change, from the Graph emulator's request log, for one
  edit at a time: booking -> Outlook (the write; then the suppressed echo of it) and
  Outlook -> booking. Goals (issue 5): 1 for Outlook->booking, 1 for booking->Outlook,
  at most 1 for a suppressed echo.

    .venv/bin/python bench/bench_sync_pipeline.py [N]
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devstack.local_stack import LocalStack

MAILBOX, ROOM_ID = "room-a@contoso.example", "R-100"


def calendar_requests(stack: LocalStack) -> Counter[str]:
    return Counter(r.method for r in stack.graph.requests if "/events" in r.path or "/calendarView" in r.path)


def booking(day: int, hour: int, title: str) -> dict:
    return {"title": title, "start": f"2027-01-{day:02d}T{hour:02d}:00:00+01:00",
            "end": f"2027-01-{day:02d}T{hour:02d}:30:00+01:00", "time_zone": "Europe/Berlin",
            "organizer": {"name": "Ada", "email": "ada@contoso.example"}}  # fmt: skip


def meeting(day: int, hour: int, title: str) -> dict:
    return {"subject": title, "start": {"dateTime": f"2027-01-{day:02d}T{hour:02d}:30:00", "timeZone": "UTC"},
            "end": {"dateTime": f"2027-01-{day:02d}T{hour:02d}:59:00", "timeZone": "UTC"}}  # fmt: skip


async def per_change(stack: LocalStack) -> None:
    created = stack.booking.user_create_booking(ROOM_ID, **booking(28, 9, "probe"))
    event = stack.graph.user_create_event(MAILBOX, meeting(28, 14, "probe"))
    await stack.settle()

    stack.graph.clear_requests()
    stack.booking.user_update_booking(created["id"], title="probe (edited in the booking system)")
    await stack.settle()
    b2o = calendar_requests(stack)

    stack.graph.clear_requests()
    stack.graph.user_update_event(MAILBOX, event["id"], {"subject": "probe (edited in Outlook)"})
    await stack.settle()
    o2b = calendar_requests(stack)

    writes = b2o["POST"] + b2o["PATCH"] + b2o["DELETE"]
    print("Graph requests per synced change (one edit, queue drained):")
    print(f"  booking -> Outlook: {writes} write(s) for the change, {b2o['GET']} GET for the suppressed echo "
          f"of calsync's own write  (goal: 1 and at most 1)")  # fmt: skip
    print(f"  Outlook -> booking: {sum(o2b.values())} ({o2b['GET']} GET of the changed event)  (goal: 1)")


async def throughput(stack: LocalStack, n: int) -> None:
    started = time.perf_counter()
    made = [stack.booking.user_create_booking(ROOM_ID, **booking(1 + i % 27, 8 + i // 27, f"booking {i}"))
            for i in range(n)]  # fmt: skip
    events = [stack.graph.user_create_event(MAILBOX, meeting(1 + i % 27, 8 + i // 27, f"meeting {i}"))
              for i in range(n)]  # fmt: skip
    await stack.settle(timeout=600)
    creates = time.perf_counter() - started
    started = time.perf_counter()
    for record in made:
        stack.booking.user_update_booking(record["id"], title=record["title"] + " (edited)")
    for event in events:
        stack.graph.user_update_event(MAILBOX, event["id"], {"subject": event["subject"] + " (edited)"})
    await stack.settle(timeout=600)
    edits = time.perf_counter() - started
    stats = stack.queue.stats()
    print(f"throughput ({2 * n} creates, then {2 * n} edits, one room, one session):")
    print(f"  creates: {2 * n / creates:.1f} changes synced per second ({creates:.1f} s)")
    print(f"  edits:   {2 * n / edits:.1f} changes synced per second ({edits:.1f} s)")
    print(f"  queue: {stats.delivered} deliveries, {stats.abandoned} retried, {stats.dead_lettered} dead-lettered")


async def main(n: int) -> None:
    logging.disable(logging.WARNING)
    async with LocalStack() as stack:
        await per_change(stack)
        await throughput(stack, n)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
