"""Onboarding ROOMS rooms x PER_ROOM bookings from a CSV in one command: time, worker CPU, worker peak RSS.

Each room holds PER_ROOM reservations made before calsync was switched on: 60 % entered
in both systems (they pair: a mapping, no write), 20 % only in Outlook and 20 % only
in the booking system (one copy each, through the engine's decision as backfill runs it,
calsync.maintenance.room_backfill). The bench writes the rooms CSV and runs the real
command, in process, with its progress bar:

    calsync onboard --from-csv rooms.csv --plan-and-apply --out <dir>

then checks the report lists every room, and prints goal vs measured: the time, the
worker's CPU per booking and its peak RSS. Both emulators run in processes of their own
(bench/remote.py) and Azurite is a Node process, so the RSS and CPU of this process are
the worker's (the command, the engine, the loopback functions host and queue); the
other processes' CPU is printed beside it. ``--tracemalloc`` prints what the command's
Python heap peaked at and what it still holds afterwards (slow: ignore its timings).

    .venv/bin/python bench/bench_onboard.py [ROOMS] [PER_ROOM] [--full] [--tracemalloc]

The default is 20 rooms x 100 bookings, projected to the full size; ``--full`` runs
200 x 100. Measured 2026-11-29 (2 cores shared with other work, load average 6-8):
before (pairs one mapping write each, copies one engine pass each) 20 rooms took
96 s, 10.5 ms worker CPU per booking; after, 12.4 s and 3.2 ms; the full 200 x 100
took 101 s of worker CPU (5.1 ms per booking; Azurite 19 s, emulators 25 s) and 355 s
wall at that load, peak RSS 221 MiB (174 MiB before the command; the command's Python
heap peaks at about 13 MiB for 10 rooms: rooms are applied 8 at a time and a room's
listing is dropped when it is done). The earlier 449 MiB counted both emulators and all
their data in the same process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from typer.testing import CliRunner

from bench.bench_reconcile import rooms
from bench.cpu import descendants_cpu
from bench.remote import RemoteStack
from calsync.cli import app
from calsync.cli.common import CliState

FULL_ROOMS, PER_ROOM, SAMPLE_ROOMS = 200, 100, 20


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed(stack: RemoteStack, per_room: int) -> None:
    """Per room: 60 % in both systems, 20 % only in Outlook, 20 % only in the booking system; nobody notified."""
    stack.booking.set_webhooks(False)
    stack.graph.drop_notifications(True)
    today = dt.datetime.now(dt.UTC).date()
    for room in stack.rooms:
        days = [(i, today + dt.timedelta(days=2 + i)) for i in range(per_room)]  # i % 5: 0-2 both, 3 Outlook, 4 booking
        stack.graph.user_create_events(room.mailbox, [
            {"subject": f"Meeting {i}", "start": {"dateTime": f"{day}T09:00:00", "timeZone": "UTC"},
             "end": {"dateTime": f"{day}T10:00:00", "timeZone": "UTC"}} for i, day in days if i % 5 != 4])  # fmt: skip
        stack.booking.user_create_bookings(room.booking_room_id, [
            {"title": f"Meeting {i}", "start": f"{day}T09:00:00Z", "end": f"{day}T10:00:00Z", "time_zone": "UTC"}
            for i, day in days if i % 5 != 3])  # fmt: skip
    stack.graph.drop_notifications(False)
    stack.booking.set_webhooks(True)


async def main(n_rooms: int, per_room: int) -> None:
    logging.disable(logging.WARNING)
    if n_rooms < FULL_ROOMS:
        print(f"running {n_rooms} rooms x {per_room} bookings (--full: {FULL_ROOMS} x {PER_ROOM})")
    async with RemoteStack(rooms=rooms(n_rooms), queue_options={"max_concurrent_sessions": 16}) as stack:
        t0 = time.perf_counter()
        seed(stack, per_room)
        print(f"seeded in {time.perf_counter() - t0:.1f} s")
        work = Path(tempfile.mkdtemp(prefix="calsync-onboard-"))
        csv_path = work / "rooms.csv"
        csv_path.write_text("key,mailbox,booking_room_id,name\n" + "".join(
            f"{r.key},{r.mailbox},{r.booking_room_id},{r.name}\n" for r in stack.rooms))  # fmt: skip
        assert stack.settings is not None
        # the command's own settings: no ROOMS seed, so the CSV's rooms are registered pending
        cli = CliState(load_settings=lambda: stack.settings.model_copy(update={"rooms": []}))  # type: ignore[union-attr]
        before = rss_mib()
        if "--tracemalloc" in sys.argv:  # what the command allocates and keeps (slows it down: no timings then)
            tracemalloc.start(8)
        others0, cpu0 = descendants_cpu(), time.process_time()
        t1 = time.perf_counter()
        result = await asyncio.to_thread(CliRunner().invoke, app, ["onboard", "--from-csv", str(csv_path),
                                         "--plan-and-apply", "--out", str(work / "report")], obj=cli)  # fmt: skip
        t_command = time.perf_counter() - t1
        if tracemalloc.is_tracing():
            current, peak = tracemalloc.get_traced_memory()
            print(f"tracemalloc: {current / 2**20:.1f} MiB held after the command, peak {peak / 2**20:.1f} MiB; "
                  "largest holders:")  # fmt: skip
            for stat in tracemalloc.take_snapshot().statistics("traceback")[:8]:
                print(f"  {stat.size / 2**20:.1f} MiB in {stat.count} blocks, from:")
                for frame in [f for f in stat.traceback if "/calsync/" in f.filename][-3:]:
                    print(f"      {frame.filename.split('/calsync/')[-1]}:{frame.lineno}")
            tracemalloc.stop()
        if result.exit_code != 0:
            print(result.output)
            raise SystemExit(f"calsync onboard failed with exit code {result.exit_code}")
        t2 = time.perf_counter()
        await stack.settle(timeout=1800)
        t_echo = time.perf_counter() - t2
        cpu = time.process_time() - cpu0
        others = {name: seconds - others0.get(name, 0.0) for name, seconds in descendants_cpu().items()}
        reports = sorted((work / "report").glob("*.json"))
        totals: dict[str, int] = {}
        for report in reports:
            for kind, n in json.loads(report.read_text())["counts"].items():
                totals[kind] = totals.get(kind, 0) + n
        assert len(reports) == n_rooms, f"{len(reports)} reports for {n_rooms} rooms"
        items, elapsed = n_rooms * per_room, t_command + t_echo
        print(f"calsync onboard: {n_rooms} rooms x {per_room} bookings in {t_command:.1f} s; echoes drained in "
              f"{t_echo:.1f} s")  # fmt: skip
        print(f"report: {len(reports)} rooms, {totals}")
        line("onboarding, end to end (command + echoes)", f"{elapsed:.1f} s", "(full size <= 180 s)")
        line("worker CPU ms per booking (process CPU)", f"{cpu * 1000 / items:.1f} ms", "-")
        line("worker peak RSS", f"{rss_mib():.0f} MiB", f"<= 250 MiB ({before:.0f} MiB before the command)")
        print(f"  CPU over the command and echoes ({elapsed:.1f} s wall, {os.cpu_count()} cores): worker {cpu:.1f} s, "
              + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in sorted(others.items()) if seconds >= 0.05))  # fmt: skip
        if items < FULL_ROOMS * PER_ROOM:
            line(f"projected for {FULL_ROOMS} x {PER_ROOM} at this rate", f"{elapsed * FULL_ROOMS * PER_ROOM / items / 60:.1f} min",
                 "<= 3 min")  # fmt: skip


def line(label: str, measured: str, goal: str) -> None:
    print(f"  {label:<58} {measured:>16}   goal {goal}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    default_rooms = FULL_ROOMS if "--full" in sys.argv else SAMPLE_ROOMS
    asyncio.run(main(int(args[0]) if args else default_rooms, int(args[1]) if len(args) > 1 else PER_ROOM))
