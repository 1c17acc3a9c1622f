"""Backfill of ROOMS rooms x PER_ROOM bookings (200 x 100 = 20,000 items): time, worker CPU and worker RSS.

Both emulators run in processes of their own (bench/remote.py) and Azurite is a Node
process, so this process is the worker alone: the backfill (plan and apply, as
``calsync backfill`` runs it), plus the loopback functions host and the in-process
queue that process the notifications and webhooks of calsync's own writes (echoes,
which the engine recognises and drops; in Azure they run on the sync_change
instances). Its peak RSS (``getrusage``) is the worker's own. The CPU of every process
is printed: on this machine (2 cores, shared with other work: note ``uptime``) the
CPU seconds say more than the wall clock.

By default it runs a sample of SAMPLE_ROOMS (20) rooms at the full 100 bookings each
and projects the full size from the measured rate (rooms are independent, so the
projection is linear; the plan holds ids only, and a room's listing is held only
while the room is applied); ``--full`` runs and measures all 200 rooms.

Seeds every room with PER_ROOM bookings (half made in Outlook, half in the booking
system, before calsync was told), then times the dry-run plan and the apply (rooms in
parallel; each room through ``RoomBackfill``: listed once, each item's decision answered
from the listing, creates sent together, mappings per transaction) and waits until the
echoes are processed too. ``--no-batch`` runs every item through the engine, one at a
time (the figure before), ``--no-echoes`` drops the notifications and webhooks of
calsync's own writes (the backfill's own cost), ``--profile`` profiles the whole process
(cProfile, CPU time), ``--log`` shows calsync's log.

Measured 2026-11-29 (2 cores shared with other work; load average given):

- before (one engine pass per item, Outlook creates batched): sample 11.9-12.8 ms worker
  CPU per item, 39 s CPU in all processes; full run 5.7 min.
- after, with echoes: sample 7.3-10 ms worker CPU per item, 24 s CPU in all processes
  (A/B at the same load: 11.9 -> 7.3 ms; the echoes, through the webhook, queue and
  engine path, are about 4-5 ms of the 7.3). Full run at load 3: 243 s end to end
  (apply 131 s, then the echoes' queue drained for 105 s), worker 120 s CPU (6.0 ms per
  item), Azurite 40 s, emulators 42 s, peak RSS 212 MiB; at load 7: 757 s.
- after, without echoes: full run at load 2: 73 s end to end, worker 53 s CPU (2.7 ms
  per item), peak RSS 203 MiB.

Echoes recognised by the version calsync wrote (then calsync.store.own_writes, now own_versions), measured
2026-11-29 on the same machine, load 3.4-5.1 (another helper's tests and benchmarks):
before, each echo read its source and three table rows (the session memory never held
the rows backfill wrote in bulk, and a copy's mapping is its original's row, so the
likely-row guess missed); now it reads nothing (sample: 5,860 -> 14 table reads and
1,900 -> 0 source reads in the echo phase).

- sample, 5 runs each, before and after alternated: worker CPU 4.7-5.5 -> 2.5-2.9 ms per
  item, echoes drained 10-16 -> 2.9-4.9 s after the apply, end to end 16.1-25.3 -> 9.8-12.9 s
  (2 pairs); Azurite 6.2-7.2 -> 3.4-3.9 s CPU, emulators 3.3-3.9 -> 2.4-2.8 s; peak RSS
  192-193 -> 192-195 MiB.
- full run at load 3.0-3.9: 161 s end to end (plan 6 s, apply 127 s, echoes drained 29 s),
  worker 60 s CPU (3.0 ms per item), Azurite 102 s, emulators 26 s, peak RSS 210 MiB.
  Another full run at load 3.3-4.1: 284 s, worker 70 s, Azurite 139 s: the end-to-end
  time now follows Azurite's CPU, whose cost per table request grows with the run (about
  1-2 ms in the sample, 9-28 ms during the full apply, 1.5-2 ms in its echo phase),
  beyond what calsync's own request counts explain.

With the echoes of this instance's own writes stopped at its webhook as well
(calsync.store.own_versions; the rest, which overtook their mapping's write, dropped by
the engine with no read), full run at load 0.8-1.4: 87.3 s end to end (plan 4.6 s, apply
82.5 s, echoes drained 0.2 s), 229 items/s, worker 42 s CPU (2.1 ms per item), Azurite 75 s,
emulators 25 s, peak RSS 206 MiB; 4,021 of the 20,000 echoes reached the queue (29
redelivered after a lost race).

    .venv/bin/python bench/bench_backfill.py [ROOMS] [PER_ROOM] [--full] [--no-echoes] [--no-batch] [--profile] [--log]
"""

from __future__ import annotations

import asyncio
import cProfile
import datetime as dt
import logging
import os
import pstats
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_reconcile import rooms
from bench.cpu import descendants_cpu
from bench.remote import RemoteStack
from calsync.maintenance.backfill import BackfillProgress, apply_backfill, plan_backfill_for

FULL_ROOMS, PER_ROOM, SAMPLE_ROOMS = 200, 100, 20


def rss_mib() -> float:
    """Peak resident set size of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def seed(stack: RemoteStack, per_room: int) -> None:
    """``per_room`` bookings per room, half in each system, on different days, with nobody notified."""
    stack.booking.set_webhooks(False)
    stack.graph.drop_notifications(True)
    today = dt.datetime.now(dt.UTC).date()
    for room in stack.rooms:
        days = [today + dt.timedelta(days=2 + i) for i in range(per_room)]
        stack.graph.user_create_events(room.mailbox, [
            {"subject": f"Outlook {i}", "start": {"dateTime": f"{day}T09:00:00", "timeZone": "UTC"},
             "end": {"dateTime": f"{day}T10:00:00", "timeZone": "UTC"}}
            for i, day in enumerate(days) if i % 2 == 0])  # fmt: skip
        stack.booking.user_create_bookings(room.booking_room_id, [
            {"title": f"Booking {i}", "start": f"{day}T13:00:00+00:00", "end": f"{day}T14:00:00+00:00",
             "time_zone": "UTC", "organizer": {"name": "Ada", "email": "ada@contoso.example"}}
            for i, day in enumerate(days) if i % 2 == 1])  # fmt: skip
    stack.graph.drop_notifications(False)
    stack.booking.set_webhooks(True)


def line(label: str, measured: str, goal: str) -> None:
    print(f"  {label:<58} {measured:>16}   goal {goal}")


async def main(n_rooms: int, per_room: int, echoes: bool, batch: bool, profile: bool = False) -> None:
    if "--log" in sys.argv:  # calsync's log at INFO: why a create was looked at again, what failed
        logging.basicConfig(level=logging.INFO)
    else:
        logging.disable(logging.WARNING)
    started = time.perf_counter()
    full = FULL_ROOMS * PER_ROOM
    if n_rooms * per_room < full:
        print(f"running {n_rooms} rooms x {per_room} bookings instead of {FULL_ROOMS} x {PER_ROOM} (--full runs it; "
              "see the module docstring); the full size is projected")  # fmt: skip
    async with RemoteStack(rooms=rooms(n_rooms), queue_options={"max_concurrent_sessions": 16}) as stack:
        seed(stack, per_room)
        print(f"seeded {n_rooms} rooms x {per_room} bookings in {time.perf_counter() - started:.1f} s "
              f"(worker peak RSS so far {rss_mib():.0f} MiB)")  # fmt: skip
        engine = await stack.engine()
        others0 = descendants_cpu()
        profiler = cProfile.Profile(time.process_time) if profile else None  # CPU, not wall time
        if profiler is not None:
            profiler.enable()
        cpu0, t0 = time.process_time(), time.perf_counter()
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

        if not echoes:  # echoes of calsync's writes are not produced (in Azure they run on the sync_change instances)
            stack.booking.set_webhooks(False)
            stack.graph.drop_notifications(True)
        stack.graph.clear_requests()
        assert stack.queue is not None
        queued0 = stack.queue.stats()
        t1 = time.perf_counter()
        result = await apply_backfill(plan, engine, concurrency=16, progress=progress, batch_creates=batch)
        t_apply = time.perf_counter() - t1
        t2 = time.perf_counter()
        await stack.settle(timeout=1800)
        t_echo = time.perf_counter() - t2
        cpu = time.process_time() - cpu0
        if profiler is not None:
            profiler.disable()
            dump = Path(tempfile.gettempdir()) / "calsync-bench-backfill.prof"
            profiler.dump_stats(dump)
            print(f"--- profile of the whole process over plan + apply + echoes (saved to {dump}) ---")
            pstats.Stats(profiler).strip_dirs().sort_stats("cumulative").print_stats(30)
        requests = Counter(("batched " if r.batched else "") + r.method + (" $batch" if r.path.endswith("$batch") else "")
                           for r in stack.graph.requests)  # fmt: skip
        elapsed = t_plan + t_apply + t_echo
        print(f"apply: {result.handled} items in {t_apply:.1f} s = {result.per_second:.1f} items/s "
              f"({dict(result.actions)}, {result.failed} failed); echoes drained in {t_echo:.1f} s")  # fmt: skip
        print(f"Graph requests during apply and echoes: {dict(requests)}")
        queued = stack.queue.stats()
        print(
            f"echo hints: {queued.delivered - queued0.delivered} delivered, {queued.abandoned - queued0.abandoned} "
            f"abandoned (a lost race, redelivered); {result.rechecked} creates looked at again through the engine"
        )
        print(f"backfill of {n_rooms} x {per_room} ({'batched creates' if batch else 'creates one at a time'}, "
              f"{'with' if echoes else 'without'} echoes):")  # fmt: skip
        line("plan + apply + echoes, end to end", f"{elapsed:.1f} s", "(full size <= 180 s)")
        line("items per second, end to end", f"{result.handled / elapsed:.1f}/s", f">= {full / 180:.0f}/s")
        line("worker CPU ms per item (process CPU, harness idle)", f"{cpu * 1000 / max(result.handled, 1):.1f} ms",
             "-")  # fmt: skip
        line("worker peak RSS", f"{rss_mib():.0f} MiB", "<= 250 MiB")
        others = {name: seconds - others0.get(name, 0.0) for name, seconds in descendants_cpu().items()}
        print(
            f"  CPU over plan + apply + echoes ({elapsed:.1f} s wall, {os.cpu_count()} cores): worker {cpu:.1f} s, "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in sorted(others.items()) if seconds >= 0.05)
        )
        if n_rooms * per_room < full:
            scale = full / (n_rooms * per_room)
            print(f"projected for {FULL_ROOMS} x {PER_ROOM} = {full} items at this rate:")
            line("plan + apply + echoes", f"{elapsed * scale / 60:.1f} min", "<= 3 min")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    default_rooms = FULL_ROOMS if "--full" in sys.argv else SAMPLE_ROOMS
    asyncio.run(main(int(args[0]) if args else default_rooms, int(args[1]) if len(args) > 1 else PER_ROOM,
                     "--no-echoes" not in sys.argv, "--no-batch" not in sys.argv, "--profile" in sys.argv))  # fmt: skip
