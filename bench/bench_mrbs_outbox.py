"""Outbox-to-hint latency and hints per second of the MRBS poller, on an embedded PostgreSQL.

    .venv/bin/python bench/bench_mrbs_outbox.py [rows]

Latency: one UPDATE of an entry row -> NOTIFY -> poll -> hint published (LISTEN path).
Throughput: `rows` entry updates already in the outbox, drained by poll_once in batches.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # devstack, as `make bench` runs it

from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import create_async_engine

from calsync.booking.mrbs.poller import OutboxPoller
from calsync.booking.mrbs.schema import mrbs_tables
from calsync.booking.mrbs.triggers import install
from devstack.postgres import start_postgres


class MemoryCursors:
    def __init__(self) -> None:
        self.value = None

    async def get(self, kind, room):  # type: ignore[no-untyped-def]
        return self.value

    async def put(self, cursor) -> None:  # type: ignore[no-untyped-def]
        self.value = cursor


class Clocked:
    def __init__(self) -> None:
        self.hints: list = []
        self.arrived = asyncio.Event()

    async def publish(self, hints, *, queue):  # type: ignore[no-untyped-def]
        self.hints.extend(hints)
        self.arrived.set()


async def main(rows: int) -> None:
    pg = start_postgres()
    try:
        url = pg.create_mrbs_database("bench", "mrbs_")
        engine, t = create_async_engine(url), mrbs_tables("mrbs_")
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO mrbs_area (id, area_name) VALUES (1, 'A')"))
            await conn.execute(text("INSERT INTO mrbs_room (id, area_id, room_name, sort_key) VALUES (1, 1, 'R', 'R')"))
            await conn.execute(t.entry.insert(), [
                {"start_time": 1900000000 + i * 3600, "end_time": 1900001800 + i * 3600, "room_id": 1,
                 "create_by": "b", "modified_by": "", "name": f"e{i}", "type": "I", "status": 0,
                 "ical_uid": f"MRBS-{uuid.uuid4().hex}@b", "ical_sequence": 0, "entry_type": 0} for i in range(rows)
            ])  # fmt: skip
        await install(engine, t)
        sink = Clocked()
        poller = OutboxPoller(engine, t, MemoryCursors(), sink, queue="changes", room_key=lambda r: "room")  # type: ignore[arg-type]
        async with engine.begin() as conn:
            await conn.execute(update(t.entry).values(name=t.entry.c.name + "!"))
        began = time.perf_counter()
        report = await poller.poll_once()
        took = time.perf_counter() - began
        print(f"throughput: {report.rows} outbox rows -> {report.hints} hints in {took:.2f} s = {report.hints / took:.0f} hints/s")
        stop = asyncio.Event()
        listener = asyncio.create_task(poller.listen(pg.conninfo("bench"), stop, fallback_seconds=5))
        await asyncio.sleep(0.5)
        latencies = []
        for i in range(20):
            sink.arrived.clear()
            began = time.perf_counter()
            async with engine.begin() as conn:
                await conn.execute(update(t.entry).where(t.entry.c.name.like(f"e{i}!%")).values(name=f"x{i}"))
            await asyncio.wait_for(sink.arrived.wait(), 10)
            latencies.append((time.perf_counter() - began) * 1000)
        stop.set()
        async with engine.begin() as conn:
            await conn.execute(update(t.entry).where(t.entry.c.name == "x0").values(name="y"))  # wake the listener
        await asyncio.wait_for(listener, 10)
        print(f"latency (UPDATE -> NOTIFY -> hint): median {statistics.median(latencies):.1f} ms, "
              f"max {max(latencies):.1f} ms over {len(latencies)} changes")  # fmt: skip
        await engine.dispose()
    finally:
        pg.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
