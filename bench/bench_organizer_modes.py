"""Graph requests per change in both organiser modes (issue #14): room events vs service-mailbox meetings.

One LocalStack per mode (in-process emulators, Azurite). For K bookings made one at a
time in the booking system, then K moves, then K cancellations, each waited for until
the pipeline is quiet, it counts the Graph calendar requests (reads and writes, the
notification of calsync's own write included) per change, and the Outlook-side
change of a person's meeting for comparison. Subscriptions are not counted.

    .venv/bin/python bench/bench_organizer_modes.py [K]
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devstack.local_stack import LocalStack, booking_fields

SERVICE = "bookings@contoso.example"


def _counted(stack: LocalStack) -> Counter[str]:
    return Counter(r.method for r in stack.graph.requests if "/subscriptions" not in r.path)


async def _measure(stack: LocalStack, label: str, changes: list) -> None:
    await stack.settle()
    stack.graph.clear_requests()
    for change in changes:
        change()
        await stack.settle()
    counts = _counted(stack)
    total = sum(counts.values())
    detail = ", ".join(f"{m} {n / len(changes):.1f}" for m, n in sorted(counts.items()))
    print(f"  {label:<28} {total / len(changes):5.1f} Graph requests per change  ({detail})")


async def run_mode(k: int, **settings: object) -> None:
    from calsync.settings import load_settings  # noqa: F401 - warm imports outside the measurement

    async with LocalStack(mass_delete_min_bookings=10_000, **settings) as stack:  # cancellations are the point here
        stack.graph.add_person("ada@contoso.example", "Ada Lovelace")
        made: list[dict] = []

        def create(i: int) -> None:
            made.append(stack.booking.user_create_booking("R-100", **booking_fields(
                f"Planning {i}", f"2027-01-{i + 1:02d}T09:00:00+01:00", f"2027-01-{i + 1:02d}T10:00:00+01:00")))  # fmt: skip

        def move(i: int) -> None:
            stack.booking.user_update_booking(made[i]["id"], start=f"2027-01-{i + 1:02d}T11:00:00+01:00",
                                              end=f"2027-01-{i + 1:02d}T12:00:00+01:00")  # fmt: skip

        def cancel(i: int) -> None:
            stack.booking.user_cancel_booking(made[i]["id"], reason="Not needed")

        await _measure(stack, "booking created", [lambda i=i: create(i) for i in range(k)])
        await _measure(stack, "booking moved", [lambda i=i: move(i) for i in range(k)])
        await _measure(stack, "booking cancelled", [lambda i=i: cancel(i) for i in range(k)])
        assert stack.graph.ownership_violations == []


async def main(k: int) -> None:
    logging.disable(logging.WARNING)
    print(f"Graph requests per booking-side change, K={k} changes each")
    print("mode room (the room organises calsync's events):")
    await run_mode(k, organizer_mode="room")
    print(f"mode service-mailbox ({SERVICE} organises meetings, booker and room invited):")
    await run_mode(k, service_mailbox=SERVICE, tenant_domains="contoso.example")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
