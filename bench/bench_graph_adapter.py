"""Figures for the Graph adapter against the loopback emulator; prints, asserts nothing.

    .venv/bin/python bench/bench_graph_adapter.py

1. Cold start: a fresh Python process that imports calsync's adapter (msgraph-sdk is
   slow to import) and completes one get_event; measured by the parent from spawn to
   the child's answer, with the child's own import and first-call times.
2. Requests per second for get_event and create_event: one at a time, and concurrent
   (4 in flight per mailbox, the Graph limit, over several mailboxes).
The emulator runs in its own process, so the rates are mostly the client's cost (kiota
parsing dominates: see the report); they compare versions of the adapter and do not
predict Graph's own speed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runs as a plain script: `.venv/bin/python bench/bench_graph_adapter.py`

ROOMS = ["cold@contoso.example"] + [f"bench-{i}@contoso.example" for i in range(8)]
SERVER = """
import sys
from devstack.graph import GraphEmulator
with GraphEmulator() as graph:
    for room in sys.argv[1:]:
        graph.add_room(room)
    print(graph.base_url, flush=True)
    sys.stdin.read()
"""
STAMP = "String {9d1f3c52-7e0a-4c1b-9b7e-5a3c2f0d8e61} Name calsyncBookingId"
CHILD = """
import time, json, sys
t0 = time.perf_counter()
from calsync.outlook.graph_client import GraphCalendar
from calsync.settings import load_settings
t_import = time.perf_counter() - t0
import asyncio
if len(sys.argv) > 5:
    from calsync.outlook.graph_client import warm_up
    t_warm0 = time.perf_counter()
    warm_up()
    t_warm = time.perf_counter() - t_warm0
else:
    t_warm = 0.0
async def main():
    s = load_settings(tables_connection_string="UseDevelopmentStorage=true", graph_auth_mode="none",
                      graph_base_url=sys.argv[1])
    cal = GraphCalendar.from_settings(s, stamp_property_id=sys.argv[4])
    t1 = time.perf_counter()
    await cal.get_event(sys.argv[2], sys.argv[3])
    t_call = time.perf_counter() - t1
    await cal.aclose()
    return t_call
t_call = asyncio.run(main())
print(json.dumps({"import": t_import, "warm_up": t_warm, "first_call": t_call}))
"""


def event_json(i: int) -> dict:
    day = 1 + i % 28
    return {
        "subject": f"Bench {i}",
        "start": {"dateTime": f"2026-10-{day:02d}T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"2026-10-{day:02d}T10:00:00", "timeZone": "UTC"},
        "singleValueExtendedProperties": [{"id": STAMP, "value": f"bk-{i}"}],
    }


ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def cold_start(base_url: str, mailbox: str, event_id: str) -> None:
    figures = []
    for warm in ([], ["warm-up"]):
        started = time.perf_counter()
        out = subprocess.run(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", CHILD, base_url, mailbox, event_id, STAMP, *warm],
            capture_output=True,
            text=True,
            env=ENV,
            check=True,
            cwd=ROOT,
        )
        wall = time.perf_counter() - started
        figures.append(
            {
                "wall": wall,
                "how": "with warm_up()" if warm else "plain",
                **json.loads(out.stdout.strip().splitlines()[-1]),
            }
        )
    print("cold start: process spawn -> first completed Graph call")
    for f in figures:
        print(
            f"  {f['how']:<15} total {f['wall'] * 1000:6.0f} ms   import adapter {f['import'] * 1000:5.0f} ms   "
            f"warm_up {f['warm_up'] * 1000:5.0f} ms   first get_event {f['first_call'] * 1000:5.0f} ms"
        )


async def rates(base_url: str) -> None:
    from calsync.outlook.graph_client import GraphCalendar
    from calsync.outlook.serialization import parse_event
    from calsync.settings import load_settings

    settings = load_settings(
        tables_connection_string="UseDevelopmentStorage=true", graph_auth_mode="none", graph_base_url=base_url
    )
    rooms = ROOMS[1:]
    made: dict[str, list[str]] = {room: [] for room in rooms}
    counter = iter(range(1_000_000))

    async with GraphCalendar.from_settings(settings, stamp_property_id=STAMP) as calendar:
        template = parse_event(event_json(1))  # built once: the figures are the adapter's, not the parser's

        async def create(room: str) -> None:
            i = next(counter)
            event = await calendar.create_event(room, template, f"bench-{i}")
            made[room].append(event.id)

        async def get(i: int, spread: int) -> None:
            room = rooms[i % spread]
            await calendar.get_event(room, made[room][i % len(made[room])])

        async def timed(label: str, n: int, run: Callable[[int], Awaitable[object]]) -> None:
            started = time.perf_counter()
            await run(n)
            elapsed = time.perf_counter() - started
            print(f"  {label:<50} {n:5d} requests  {n / elapsed:8.1f} req/s  ({elapsed * 1000 / n:5.1f} ms each)")

        async def create_one_at_a_time(n: int) -> None:
            for _ in range(n):
                await create(rooms[0])

        async def create_concurrently(n: int) -> None:
            await asyncio.gather(*(create(rooms[i % len(rooms)]) for i in range(n)))

        async def get_one_at_a_time(n: int) -> None:
            for i in range(n):
                await get(i, 1)

        async def get_concurrently_one_mailbox(n: int) -> None:
            await asyncio.gather(*(get(i, 1) for i in range(n)))

        async def get_concurrently(n: int) -> None:
            await asyncio.gather(*(get(i, len(rooms)) for i in range(n)))

        print("requests per second, adapter against the emulator in another process, on loopback")
        await timed("create_event, one at a time", 100, create_one_at_a_time)
        await timed(f"create_event, concurrent over {len(rooms)} mailboxes", 200, create_concurrently)
        await timed("get_event, one at a time", 150, get_one_at_a_time)
        await timed("get_event, concurrent, one mailbox (4 in flight)", 200, get_concurrently_one_mailbox)
        await timed(f"get_event, concurrent over {len(rooms)} mailboxes", 300, get_concurrently)


def main() -> None:
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SERVER, *ROOMS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV
    )
    try:
        base_url = server.stdout.readline().strip()
        made = httpx.post(f"{base_url}/users/{ROOMS[0]}/events", json=event_json(0), timeout=10).json()
        cold_start(base_url, ROOMS[0], made["id"])
        asyncio.run(rates(base_url))
    finally:
        server.stdin.close()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
