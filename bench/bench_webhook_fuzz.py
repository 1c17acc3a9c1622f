"""Webhook latency under fuzzed input: p50/p99 per webhook over real HTTP through the loopback functions host.

Starts Azurite (subscriptions recorded, replay table), the loopback functions host and
the in-process queue, generates N hostile requests per webhook with the Hypothesis
strategies of tests/webhooks/fuzz_bodies.py (near misses, raw JSON, crafted and binary
bodies), sends them one at a time and prints latency percentiles in milliseconds, the
status mix, and whether any answer was a 5xx. Goal (issue 13): p99 under 20 ms, zero 5xx.

    .venv/bin/python bench/bench_webhook_fuzz.py [N per webhook, default 2000]
"""

from __future__ import annotations

import asyncio
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.functions import runtime
from calsync.settings import load_settings
from devstack.azurite import start_azurite_tables
from devstack.functions_host import LoopbackFunctionsHost
from devstack.inprocess_queue import InProcessQueue
from tests.webhooks.conftest import ROOMS, record_subscriptions
from tests.webhooks.fuzz_bodies import CLIENT_STATE, WEBHOOK_SECRET, FuzzRequest, booking_requests, graph_requests

ROUTES = {"graph_webhook": ("graph/notifications", graph_requests()),
          "graph_lifecycle": ("graph/lifecycle", graph_requests(lifecycle=True)),
          "booking_webhook": ("booking/webhook", booking_requests())}  # fmt: skip


def generate(strategy: st.SearchStrategy[FuzzRequest], count: int) -> list[FuzzRequest]:
    drawn: list[FuzzRequest] = []

    @settings(max_examples=count, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def collect(request: FuzzRequest) -> None:
        drawn.append(request)

    collect()
    return drawn


def pct(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def main(count: int) -> int:
    warnings.simplefilter("ignore")
    azurite = await asyncio.to_thread(start_azurite_tables)
    settings_ = load_settings(
        tables_connection_string=azurite.connection_string, table_prefix="benchfuzz", graph_auth_mode="none",
        graph_client_state=CLIENT_STATE, booking_webhook_secrets=WEBHOOK_SECRET, rooms=ROOMS,
    )  # fmt: skip
    await record_subscriptions(settings_)
    queue = InProcessQueue.from_settings(settings_)
    rt = runtime.Runtime(settings_, publisher=queue)
    installed = runtime.installed(rt)
    installed.__enter__()
    host = await LoopbackFunctionsHost(settings_).start()
    import logging

    logging.getLogger("calsync").setLevel(logging.ERROR)  # refusals log one WARNING each; not what is measured
    failures = 0
    everything: list[float] = []
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            print(f"webhook latency over fuzzed requests, real HTTP via the loopback host, {count} per webhook:")
            for name, (route, strategy) in ROUTES.items():
                requests = generate(strategy, count)
                latencies, statuses = [], {}
                for request in requests[: min(50, len(requests))]:  # warm-up
                    await http.post(
                        host.url(route), params=request.query, content=request.body, headers=request.headers
                    )
                for request in requests:
                    started = time.perf_counter()
                    response = await http.post(host.url(route), params=request.query, content=request.body,
                                               headers=request.headers)  # fmt: skip
                    latencies.append((time.perf_counter() - started) * 1000)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    failures += response.status_code >= 500
                latencies.sort()
                everything += latencies
                print(f"  {name:16} n={len(latencies):5}  p50 {pct(latencies, 0.5):6.2f} ms  p99 {pct(latencies, 0.99):6.2f}"
                      f" ms  max {latencies[-1]:7.2f} ms  statuses {dict(sorted(statuses.items()))}")  # fmt: skip
    finally:
        await host.stop()
        installed.__exit__(None, None, None)
        await rt.aclose()
        await queue.close()
        azurite.stop()
    everything.sort()
    p99 = pct(everything, 0.99)
    print(f"  all              n={len(everything):5}  p99 {p99:.2f} ms; goal p99 < 20 ms: {'met' if p99 < 20 else 'NOT met'};"
          f" 5xx answers: {failures}")  # fmt: skip
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)))
