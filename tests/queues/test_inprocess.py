"""The in-process queue keeps the Service Bus semantics the sync relies on."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from azure.functions.servicebus import ServiceBusMessage as FunctionsServiceBusMessage

from calsync.errors import QueueError
from calsync.model.booking import Side
from calsync.model.hint import ChangeHint, ChangeKind
from calsync.settings import Settings
from devstack.inprocess_queue import InProcessQueue, ManualClock

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def hint(room: str, item: str, n: int = 0, *, version: str | None = None) -> ChangeHint:
    return ChangeHint(
        source=Side.BOOKING,
        room=room,
        item_id=item,
        change_kind=ChangeKind.UPDATED,
        observed_at=T0 + dt.timedelta(seconds=n),
        version=version,
    )


def item_of(message: FunctionsServiceBusMessage) -> str:
    return ChangeHint.from_json(message.get_body()).item_id


async def test_handler_gets_a_functions_service_bus_message_carrying_the_hint() -> None:
    queue = InProcessQueue()
    received: list[FunctionsServiceBusMessage] = []

    async def handler(message: FunctionsServiceBusMessage) -> None:
        received.append(message)

    queue.subscribe("changes", handler)
    sent = hint("room-a", "b-1", version="7")
    await queue.publish([sent], queue="changes")
    await queue.drain()

    [message] = received
    assert isinstance(message, FunctionsServiceBusMessage)
    assert ChangeHint.from_json(message.get_body()) == sent
    assert message.message_id == sent.message_id
    assert message.session_id == "room-a"
    assert message.delivery_count == 1
    assert message.content_type == "application/json"
    assert message.application_properties == {
        "kind": "hint",
        "source": "booking",
        "room": "room-a",
        "reason": "webhook",
    }
    assert message.enqueued_time_utc is not None and message.enqueued_time_utc.tzinfo is not None
    assert message.sequence_number is not None
    assert message.metadata is not None and message.metadata["MessageId"] == sent.message_id


class Probe:
    """A slow handler that records what it saw and how many deliveries ran at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most_at_once = 0
        self.order: list[str] = []  # message ids, in delivery order

    async def __call__(self, message: FunctionsServiceBusMessage) -> None:
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        await asyncio.sleep(0.01)
        self.order.append(message.message_id)
        self.running -= 1


async def test_one_session_is_delivered_in_order_and_one_at_a_time_even_with_a_slow_handler() -> None:
    queue = InProcessQueue(max_concurrent_sessions=8)
    slow = Probe()
    queue.subscribe("changes", slow)
    for n in range(6):
        await queue.publish([hint("room-a", f"b-{n}", n)], queue="changes")
    await queue.drain()

    assert slow.order == [hint("room-a", f"b-{n}", n).message_id for n in range(6)]
    assert slow.most_at_once == 1
    assert queue.stats("changes").completed == 6


async def test_different_sessions_are_processed_concurrently() -> None:
    queue = InProcessQueue(max_concurrent_sessions=2)
    both_running = asyncio.Event()
    running: set[str] = set()

    async def handler(message: FunctionsServiceBusMessage) -> None:
        running.add(message.session_id or "")
        if len(running) == 2:
            both_running.set()
        # Each handler waits for the other session's handler to start: only parallel delivery ends this.
        await asyncio.wait_for(both_running.wait(), timeout=2)

    queue.subscribe("changes", handler)
    await queue.publish([hint("room-a", "b-1"), hint("room-b", "b-2")], queue="changes")
    await queue.drain(timeout=5)

    assert running == {"room-a", "room-b"}
    assert queue.stats("changes").completed == 2


async def test_concurrent_sessions_are_capped_by_max_concurrent_sessions() -> None:
    queue = InProcessQueue(max_concurrent_sessions=2)
    handler = Probe()
    queue.subscribe("changes", handler)
    await queue.publish([hint(f"room-{n}", "b-1") for n in range(5)], queue="changes")
    await queue.drain()

    assert handler.most_at_once == 2
    assert queue.stats("changes").completed == 5


async def test_a_failing_message_is_redelivered_then_dead_lettered_with_the_reason() -> None:
    queue = InProcessQueue(max_delivery_count=3)
    delivery_counts: list[int | None] = []

    async def failing(message: FunctionsServiceBusMessage) -> None:
        delivery_counts.append(message.delivery_count)
        raise RuntimeError("booking system said 500")

    queue.subscribe("changes", failing)
    sent = hint("room-a", "b-1")
    await queue.publish([sent], queue="changes")
    await queue.drain()

    assert delivery_counts == [1, 2, 3]
    [letter] = queue.dead_letters("changes")
    assert letter.message_id == sent.message_id
    assert letter.session_id == "room-a"
    assert letter.delivery_count == 3
    assert letter.reason == "MaxDeliveryCountExceeded"
    assert letter.description == "RuntimeError: booking system said 500"
    assert letter.hint() == sent
    stats = queue.stats("changes")
    assert (stats.delivered, stats.abandoned, stats.dead_lettered, stats.completed) == (3, 3, 1, 0)
    assert queue.pending("changes") == 0


async def test_a_retried_message_stays_ahead_of_later_messages_of_its_session() -> None:
    queue = InProcessQueue(max_delivery_count=5, retry_backoff_seconds=0.001)
    deliveries: list[tuple[str, int | None]] = []

    async def flaky(message: FunctionsServiceBusMessage) -> None:
        deliveries.append((item_of(message), message.delivery_count))
        if item_of(message) == "b-1" and message.delivery_count == 1:
            raise TimeoutError("graph timed out")

    queue.subscribe("changes", flaky)
    await queue.publish([hint("room-a", "b-1", 1), hint("room-a", "b-2", 2)], queue="changes")
    await queue.drain()

    assert deliveries == [("b-1", 1), ("b-1", 2), ("b-2", 1)]
    assert queue.dead_letters("changes") == []
    assert queue.stats("changes").abandoned == 1


async def test_a_duplicate_message_id_is_dropped_within_the_window_and_accepted_after() -> None:
    clock = ManualClock(T0)
    queue = InProcessQueue(duplicate_window=dt.timedelta(minutes=10), clock=clock)
    seen: list[str] = []

    async def handler(message: FunctionsServiceBusMessage) -> None:
        seen.append(message.message_id)

    queue.subscribe("changes", handler)
    same = hint("room-a", "b-1", version="3")
    await queue.publish([same, same], queue="changes")
    clock.advance(60)
    await queue.publish([same], queue="changes")
    await queue.drain()

    assert seen == [same.message_id]
    assert queue.stats("changes").duplicates_dropped == 2

    clock.advance(10 * 60)  # the first send is now outside the window
    await queue.publish([same], queue="changes")
    await queue.drain()
    assert seen == [same.message_id, same.message_id]


async def test_without_duplicate_detection_every_copy_is_delivered() -> None:
    queue = InProcessQueue(duplicate_detection=False)
    seen: list[str] = []

    async def handler(message: FunctionsServiceBusMessage) -> None:
        seen.append(message.message_id)

    queue.subscribe("changes", handler)
    same = hint("room-a", "b-1", version="3")
    await queue.publish([same, same, same], queue="changes")
    await queue.drain()

    assert seen == [same.message_id] * 3
    assert queue.stats("changes").duplicates_dropped == 0


async def test_duplicate_detection_is_per_queue() -> None:
    queue = InProcessQueue()
    counts = {"changes": 0, "other": 0}

    def handler_for(name: str):
        async def handler(message: FunctionsServiceBusMessage) -> None:
            counts[name] += 1

        return handler

    queue.subscribe("changes", handler_for("changes"))
    queue.subscribe("other", handler_for("other"))
    same = hint("room-a", "b-1")
    await queue.publish([same], queue="changes")
    await queue.publish([same], queue="other")
    await queue.drain()

    assert counts == {"changes": 1, "other": 1}


async def test_drain_waits_for_in_flight_work_and_messages_it_enqueues() -> None:
    queue = InProcessQueue()
    finished: list[str] = []

    async def changes(message: FunctionsServiceBusMessage) -> None:
        await asyncio.sleep(0.03)
        await queue.publish_job(
            json.dumps({"room": message.session_id}), queue="reconcile", message_id=f"job-{message.message_id[:20]}"
        )
        finished.append("change")

    async def reconcile(message: FunctionsServiceBusMessage) -> None:
        await asyncio.sleep(0.03)
        finished.append("reconcile")

    queue.subscribe("changes", changes)
    queue.subscribe("reconcile", reconcile)
    await queue.publish([hint("room-a", "b-1")], queue="changes")
    await queue.drain()

    assert finished == ["change", "reconcile"]


async def test_drain_times_out_with_an_error_naming_the_busy_queue() -> None:
    queue = InProcessQueue()
    release = asyncio.Event()

    async def stuck(message: FunctionsServiceBusMessage) -> None:
        await release.wait()

    queue.subscribe("changes", stuck)
    await queue.publish([hint("room-a", "b-1")], queue="changes")
    with pytest.raises(QueueError, match=r"did not drain within 0.05 s \(changes: 0 waiting, 1 session"):
        await queue.drain(timeout=0.05)

    release.set()
    await queue.drain()
    assert queue.stats("changes").completed == 1


async def test_drain_refuses_a_queue_with_messages_but_no_handler() -> None:
    queue = InProcessQueue()
    await queue.publish([hint("room-a", "b-1")], queue="changes")

    with pytest.raises(QueueError, match="'changes' holds 1 message"):
        await queue.drain()

    received: list[str] = []

    async def late(message: FunctionsServiceBusMessage) -> None:
        received.append(message.message_id)

    queue.subscribe("changes", late)  # messages sent before a consumer exists are delivered then
    await queue.drain()
    assert len(received) == 1


async def test_a_session_queue_refuses_messages_without_a_session_id() -> None:
    queue = InProcessQueue(session_queues={"changes"})

    with pytest.raises(QueueError, match="requires a session id") as raised:
        await queue.publish_job("{}", queue="changes", message_id="job-1")
    assert not raised.value.retryable
    assert queue.stats("changes").sent == 0


async def test_messages_without_a_session_are_processed_concurrently() -> None:
    queue = InProcessQueue(max_concurrent_sessions=3)
    handler = Probe()
    queue.subscribe("reconcile", handler)
    for n in range(3):
        await queue.publish_job("{}", queue="reconcile", message_id=f"job-{n}")
    await queue.drain()

    assert handler.most_at_once == 3


async def test_a_plain_function_handler_is_called_too() -> None:
    queue = InProcessQueue()
    bodies: list[bytes] = []
    queue.subscribe("reconcile", lambda message: bodies.append(message.get_body()))

    await queue.publish_job('{"room": "room-a"}', queue="reconcile", message_id="job-1", session_id="room-a")
    await queue.drain()

    assert bodies == [b'{"room": "room-a"}']


async def test_from_settings_uses_max_delivery_count_and_makes_the_changes_queue_sessionful() -> None:
    settings = Settings(tables_connection_string="UseDevelopmentStorage=true", max_delivery_count=2)
    queue = InProcessQueue.from_settings(settings)
    attempts: list[int | None] = []

    async def failing(message: FunctionsServiceBusMessage) -> None:
        attempts.append(message.delivery_count)
        raise ValueError("bad")

    queue.subscribe(settings.changes_queue, failing)
    await queue.publish([hint("room-a", "b-1")], queue=settings.changes_queue)
    await queue.drain()

    assert attempts == [1, 2]
    with pytest.raises(QueueError):
        await queue.publish_job("{}", queue=settings.changes_queue, message_id="no-session")


async def test_a_closed_queue_refuses_sends() -> None:
    queue = InProcessQueue()
    await queue.close()
    with pytest.raises(QueueError, match="closed"):
        await queue.publish([hint("room-a", "b-1")], queue="changes")
