"""Hypothesis fuzzing of the three webhooks over real HTTP through the loopback functions host (issue 13).

Each webhook gets CALSYNC_FUZZ_EXAMPLES generated requests (default 2,000; set it
higher for a longer run) plus the issue's crafted cases: no answer is a 5xx, no log
record carries a traceback, and a refused request enqueues nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, reject, settings

from calsync.errors import CalsyncError
from calsync.functions import runtime
from calsync.settings import Settings
from calsync.webhooks.graph_notifications import check_client_state, parse_batch
from devstack.functions_host import LoopbackFunctionsHost
from devstack.inprocess_queue import InProcessQueue
from tests.webhooks.fuzz_bodies import FuzzRequest, booking_requests, graph_requests
from tests.webhooks.test_hardening import CRASHING_BODIES

pytestmark = [pytest.mark.azurite]

EXAMPLES = int(os.environ.get("CALSYNC_FUZZ_EXAMPLES", "2000"))
ROUTES = {"graph_webhook": "graph/notifications", "graph_lifecycle": "graph/lifecycle",
          "booking_webhook": "booking/webhook"}  # fmt: skip
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])  # fmt: skip


class Wire:
    """Sends requests to one loopback host and checks every answer; counts what it sent."""

    def __init__(self, host: LoopbackFunctionsHost, queue: InProcessQueue, http: httpx.AsyncClient) -> None:
        self.host, self.queue, self.http = host, queue, http
        self.sent: dict[str, int] = dict.fromkeys(ROUTES, 0)
        self.statuses: dict[int, int] = {}
        self.latencies_ms: list[float] = []

    async def send(self, name: str, request: FuzzRequest) -> int:
        before = self.queue.stats().sent + self.queue.stats("reconcile").sent
        started = time.perf_counter()
        try:
            response = await self.http.post(self.host.url(ROUTES[name]), params=request.query, content=request.body,
                                            headers={"Content-Type": "application/json", **request.headers})  # fmt: skip
        except httpx.LocalProtocolError:
            reject()  # the client itself refuses to send it (h11's header rules): nothing reached calsync
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        self.sent[name] += 1
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (name, request, response.text[:500])
        if response.status_code >= 400:
            assert self.queue.stats().sent + self.queue.stats("reconcile").sent == before, (name, request)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert len(response.content) < 2000
        return response.status_code


@pytest.fixture
async def wire(webhook_runtime: runtime.Runtime, queue: InProcessQueue,
               caplog: pytest.LogCaptureFixture) -> AsyncIterator[Wire]:  # fmt: skip
    uvicorn_errors = logging.getLogger("uvicorn.error")  # does not propagate to the root logger caplog watches
    uvicorn_errors.addHandler(caplog.handler)
    host = await LoopbackFunctionsHost(webhook_runtime.settings).start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            wire_ = Wire(host, queue, http)
            yield wire_
    finally:
        await host.stop()
        uvicorn_errors.removeHandler(caplog.handler)
    if len(wire_.latencies_ms) > 100:
        ordered = sorted(wire_.latencies_ms)
        print(
            f"\n{sum(wire_.sent.values())} requests, statuses {dict(sorted(wire_.statuses.items()))},"
            f" p50 {ordered[len(ordered) // 2]:.1f} ms, p99 {ordered[int(len(ordered) * 0.99)]:.1f} ms"
        )
    tracebacks = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert tracebacks == [], tracebacks[0].getMessage() if tracebacks else ""


@pytest.mark.parametrize("body", CRASHING_BODIES.values(), ids=CRASHING_BODIES.keys())
@pytest.mark.parametrize("name", ["graph_webhook", "graph_lifecycle", "booking_webhook"])
async def test_the_issues_crafted_bodies_over_http_are_refused_with_a_4xx(wire: Wire, name: str, body: bytes) -> None:
    assert 400 <= await wire.send(name, FuzzRequest(body=body, query={"room": "room-a"})) < 500


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_the_loopback_host_answers_405_for_methods_a_function_does_not_declare(wire: Wire, method: str) -> None:
    response = await wire.http.request(method, wire.host.url("graph/notifications"), params={"validationToken": "x"})
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert (await wire.http.post(wire.host.url("graph/notifications"), params={"validationToken": "x"})).text == "x"


@pytest.mark.slow
@FUZZ
@given(request=graph_requests())
async def test_fuzzed_graph_change_notifications_never_get_a_5xx(wire: Wire, request: FuzzRequest) -> None:
    await wire.send("graph_webhook", request)


@pytest.mark.slow
@FUZZ
@given(request=graph_requests(lifecycle=True))
async def test_fuzzed_graph_lifecycle_notifications_never_get_a_5xx(wire: Wire, request: FuzzRequest) -> None:
    await wire.send("graph_lifecycle", request)


@pytest.mark.slow
@FUZZ
@given(request=booking_requests())
async def test_fuzzed_booking_webhooks_never_get_a_5xx(wire: Wire, request: FuzzRequest) -> None:
    await wire.send("booking_webhook", request)


def test_the_strategies_reach_the_paths_after_authentication(webhook_settings: Settings) -> None:
    """At least a tenth of the generated Graph requests parse and carry the right clientState."""
    passed: list[bool] = []

    @settings(max_examples=200, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(request=graph_requests())
    def draw(request: FuzzRequest) -> None:
        try:
            check_client_state(parse_batch(request.body, webhook_settings).value, webhook_settings)
        except CalsyncError:
            passed.append(False)
        else:
            passed.append(True)

    draw()
    assert sum(passed) >= len(passed) / 10
