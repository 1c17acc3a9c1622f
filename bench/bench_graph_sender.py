"""CPU per Graph read: kiota's request adapter against calsync's GraphSender (calsync.outlook.sender).

Reads one event N times with get_event's URL, through the same httpx client and
middleware, once via the adapter's ``send_primitive_async`` (how calsync sent until
issue #16's second pass) and once via ``GraphSender.send``, alternating round by round
so both see the same load. The emulator runs in its own process, so the CPU counted is
the client's. Prints the best and the median round per request.

    .venv/bin/python bench/bench_graph_sender.py [N] [ROUNDS]
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from bench.bench_graph_adapter import ENV, ROOT, SERVER, STAMP, event_json
from calsync.outlook.graph_client import GraphCalendar
from calsync.outlook.serialization import parse_event
from calsync.outlook.wire import parse_event as parse_wire
from calsync.settings import load_settings

ROOM = "bench-0@contoso.example"


async def cpu_ms(n: int, request: Callable[[], Awaitable[object]]) -> float:
    start = time.process_time()
    for _ in range(n):
        await request()
    return (time.process_time() - start) * 1000 / n


async def main(base_url: str, n: int, rounds: int) -> None:
    settings = load_settings(tables_connection_string="UseDevelopmentStorage=true", graph_auth_mode="none",
                             graph_base_url=base_url)  # fmt: skip
    async with GraphCalendar.from_settings(settings, stamp_property_id=STAMP) as calendar:
        event = await calendar.create_event(ROOM, parse_event(event_json(1)), "bench-sender")
        url = calendar.base_url + calendar.read_url(ROOM, event.id)
        adapter = calendar.client.request_adapter

        async def via_adapter() -> object:
            info = RequestInformation(method=Method.GET)
            info.url = url
            info.headers.try_add("Accept", "application/json")
            return parse_wire(await adapter.send_primitive_async(info, "bytes", {"XXX": ODataError}))

        async def via_sender() -> object:
            return parse_wire(await calendar.sender.send(Method.GET, url))

        paths = {"kiota's request adapter": via_adapter, "GraphSender": via_sender}
        for path in paths.values():
            await cpu_ms(50, path)  # warm up
        figures: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(rounds):
            for name, path in paths.items():
                figures[name].append(await cpu_ms(n, path))
        print(f"CPU ms per Graph read of an event ({rounds} rounds of {n}, best / median):")
        for name, values in figures.items():
            print(f"  {name:<26} {min(values):.3f} / {statistics.median(values):.3f}")


if __name__ == "__main__":
    server = subprocess.Popen([sys.executable, "-c", SERVER, ROOM], stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # noqa: S603
                              text=True, env=ENV, cwd=ROOT)  # fmt: skip
    try:
        assert server.stdout is not None
        base = server.stdout.readline().strip()
        asyncio.run(
            main(base, int(sys.argv[1]) if len(sys.argv) > 1 else 300, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
        )
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait()
