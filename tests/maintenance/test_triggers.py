"""The real decorated functions: the timer fans out one reconcile job per room, reconcile_room handles them."""

from __future__ import annotations

from collections.abc import Iterator

import azure.functions as func
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from calsync.functions.indexing import user_functions
from calsync.maintenance.reconcile import FULL_COMPARE_KIND
from calsync.store.records import CursorKind, CursorStore
from calsync.telemetry import metrics
from devstack.inprocess_queue import ManualClock
from devstack.local_stack import LocalStack
from tests.e2e.helpers import MAILBOX, graph_event, live_bookings
from tests.maintenance.conftest import soon

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    metrics.use_meter_provider(MeterProvider(metric_readers=[reader]))
    try:
        yield reader
    finally:
        metrics.use_meter_provider(None)


def renewals(reader: InMemoryMetricReader) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "calsync.subscriptions.renewals":
                    for point in metric.data.data_points:
                        key = (point.attributes["outcome"], point.attributes["room"])
                        counts[key] = counts.get(key, 0) + int(point.value)
    return counts


def timer(past_due: bool = False) -> func.TimerRequest:
    from azure.functions.timer import TimerRequest

    return TimerRequest(past_due=past_due)


async def test_the_timer_keeps_subscriptions_and_reconciles_every_room_through_the_queue(
    stack: LocalStack, clock: ManualClock, reader: InMemoryMetricReader
) -> None:
    maintenance = user_functions()["maintenance"]
    start, end = soon(8)
    stack.graph.drop_notifications(1)
    stack.graph.user_create_event(MAILBOX, graph_event("Only reconcile sees this", start, end))
    await stack.settle()
    assert live_bookings(stack) == []

    await maintenance(timer())  # adopts the subscriptions, no feed cursor yet -> full compare jobs
    assert stack.queue.stats("reconcile").sent == 2
    await stack.settle()
    assert [b["title"] for b in live_bookings(stack)] == ["Only reconcile sees this"]
    cursors = CursorStore((await stack.engine()).tables)
    for key in ("room-a", "room-b"):
        assert await cursors.get(CursorKind.GRAPH_DELTA, key) is not None
        assert await cursors.get(FULL_COMPARE_KIND, key) is not None

    clock.advance(2100 * 60)  # a day and a half later: renewed, and a periodic full compare
    stack.graph.clear_requests()
    await maintenance(timer(past_due=True))
    await stack.settle()
    assert stack.graph.count("PATCH", "/subscriptions/*") == 2
    assert renewals(reader) == {("renewed", "room-a"): 1, ("renewed", "room-b"): 1}

    clock.advance(15 * 60)  # the next run: steady state, one delta request per room
    stack.graph.clear_requests()
    await maintenance(timer())
    await stack.settle()
    assert [f"{r.method} {r.path.split('/')[-1]}" for r in stack.graph.requests] == ["GET delta()"] * 2


async def test_a_job_for_a_room_that_is_not_configured_is_ignored(stack: LocalStack) -> None:
    from calsync.functions import runtime
    from calsync.maintenance.jobs import handle_job
    from calsync.model.job import JobKind, MaintenanceJob

    service = await runtime.current().maintenance()
    stack.graph.clear_requests()
    job = MaintenanceJob(kind=JobKind.RESUBSCRIBE, room="gone", subscription_id="s-1", requested_at=service.clock())
    result = await handle_job(job, service)
    assert result.subscription is None and result.reconcile is None
    assert stack.graph.requests == []
