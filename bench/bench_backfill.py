"""Backfill throughput and peak memory for ROOMS rooms x PER_ROOM bookings (200 x 100), against the emulators.

By default it runs a sample of SAMPLE_ROOMS (20) rooms at the full 100 bookings each
and projects the full size from the measured rate; ``--full`` runs all 200 rooms.
Why: on 2 cores the whole run shares one Python process (engine, both emulators,
the loopback functions host) and is CPU-bound, mostly in msgraph-sdk's model parsing
(every Event parsed costs ~7 ms in Entity.get_field_deserializers, which re-imports
~1,200 model classes per call); 20,000 items take 10-20 minutes, not "a few". Rooms
are independent and the apply is CPU-bound, so the rate does not depend on the
number of rooms, and the projection is linear; memory held by the backfill itself
is the plan (ids only), linear in the number of items.

Seeds every room with PER_ROOM bookings (half made in Outlook, half in the booking
system, before calsync was told), then times the dry-run plan and the apply (the
real engine, rooms in parallel, one item at a time per room), and waits until the
echoes of calsync's own writes (notifications and webhooks that the engine
recognises and drops) are processed too. Memory: peak RSS of this process from
resource.getrusage -- the Graph and booking emulators run in this process, so it
includes their data -- and how much it grew during plan + apply. (tracemalloc is
not usable here: under it every msgraph Event parse, which runs ~1,200 imports,
becomes so slow that Graph calls hit their deadline.)

    .venv/bin/python bench/bench_backfill.py [ROOMS] [PER_ROOM] [--full] [--no-echoes]

``--no-echoes`` drops the notifications and webhooks of calsync's own writes during
the apply (in Azure the engine recognises them on the sync_change instances).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_reconcile import rooms, seed
from calsync.maintenance.backfill import BackfillProgress, apply_backfill, plan_backfill_for
from devstack.local_stack import LocalStack


def rss_mib() -> float:
    """Peak resident set size of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def current_rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


FULL_ROOMS, PER_ROOM, SAMPLE_ROOMS = 200, 100, 20


async def main(n_rooms: int, per_room: int, quiet: bool) -> None:
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    if n_rooms < FULL_ROOMS or per_room < PER_ROOM:
        print(f"running {n_rooms} rooms x {per_room} bookings instead of {FULL_ROOMS} x {PER_ROOM}: the full size is "
              "CPU-bound for 10-20 minutes on 2 cores (see the module docstring); the full size is projected")  # fmt: skip
    async with LocalStack(rooms=rooms(n_rooms), queue_options={"max_concurrent_sessions": 16}) as stack:
        seed(stack, per_room)
        print(f"seeded {n_rooms} rooms x {per_room} bookings in {time.perf_counter() - started:.1f} s "
              f"(peak RSS so far {rss_mib():.0f} MiB)")  # fmt: skip
        engine = await stack.engine()
        before = current_rss_mib()
        t0 = time.perf_counter()
        plan = await plan_backfill_for(await stack.services())
        t_plan = time.perf_counter() - t0
        totals = plan.totals()
        print(f"plan (dry run): {t_plan:.1f} s for {n_rooms} rooms: {totals['to_booking']} to copy to the booking "
              f"system, {totals['to_outlook']} to Outlook, {totals['adopt']} to adopt, {totals['mapped']} mapped")  # fmt: skip

        last = [time.perf_counter()]

        def progress(p: BackfillProgress) -> None:
            if time.perf_counter() - last[0] > 15:
                last[0] = time.perf_counter()
                print(f"  ... {p.overall_done}/{p.overall_total} ({p.overall_done / (last[0] - t1):.0f} items/s)")

        if quiet:  # echoes of calsync's writes are not produced (in Azure they run on the sync_change instances)
            stack.booking.webhooks_enabled = False
            stack.graph.drop_notifications(10**9)
        t1 = time.perf_counter()
        result = await apply_backfill(plan, engine, concurrency=16, progress=progress)
        t_apply = time.perf_counter() - t1
        t2 = time.perf_counter()
        await stack.settle(timeout=1800)
        t_echo = time.perf_counter() - t2
        print(f"apply: {result.handled} items in {t_apply:.1f} s = {result.per_second:.1f} items/s "
              f"({dict(result.actions)}, {result.failed} failed)")  # fmt: skip
        print(
            f"echoes of calsync's writes drained in {t_echo:.1f} s; "
            f"end to end {result.handled / (t_apply + t_echo):.1f} items/s"
        )
        print(f"memory: peak RSS of the process {rss_mib():.0f} MiB (emulators and their data included); "
              f"RSS was {before:.0f} MiB before plan + apply, so the backfill (and the copies it made in the "
              f"emulators) added at most {rss_mib() - before:.0f} MiB")  # fmt: skip
        full = FULL_ROOMS * PER_ROOM
        if result.handled < full:
            rate = result.handled / (t_apply + t_echo)
            plan_rate = n_rooms / t_plan
            print(f"projected for {FULL_ROOMS} x {PER_ROOM} = {full} items at this rate: plan {FULL_ROOMS / plan_rate:.0f} s, "
                  f"apply and echoes {full / rate / 60:.1f} min")  # fmt: skip


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    default_rooms = FULL_ROOMS if "--full" in sys.argv else SAMPLE_ROOMS
    asyncio.run(main(int(args[0]) if args else default_rooms, int(args[1]) if len(args) > 1 else PER_ROOM,
                     "--no-echoes" in sys.argv))  # fmt: skip
