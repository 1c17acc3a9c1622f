"""Dead letters can be listed and replayed, and a replay is processed like a new message."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from azure.functions.servicebus import ServiceBusMessage as FunctionsServiceBusMessage

from calsync.model.booking import Side
from calsync.model.hint import ChangeHint, ChangeKind, HintReason
from calsync.queues import DeadLetter, replay_message
from calsync.queues.dead_letters import dead_letter_from_received
from devstack.inprocess_queue import InProcessDeadLetters, InProcessQueue, ManualClock

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def hint(room: str, item: str, *, version: str | None = "etag-1") -> ChangeHint:
    return ChangeHint(
        source=Side.OUTLOOK, room=room, item_id=item, change_kind=ChangeKind.UPDATED, observed_at=T0, version=version
    )


class Switchable:
    """A handler that fails until it is repaired, recording what it processed."""

    def __init__(self) -> None:
        self.broken = True
        self.processed: list[FunctionsServiceBusMessage] = []

    async def __call__(self, message: FunctionsServiceBusMessage) -> None:
        if self.broken:
            raise ConnectionError("graph unreachable")
        self.processed.append(message)


async def dead_lettered_queue(*hints: ChangeHint) -> tuple[InProcessQueue, Switchable, ManualClock]:
    clock = ManualClock(T0 + dt.timedelta(minutes=1))
    queue = InProcessQueue(max_delivery_count=2, clock=clock)
    handler = Switchable()
    queue.subscribe("changes", handler)
    await queue.publish(list(hints), queue="changes")
    await queue.drain()
    return queue, handler, clock


async def test_list_shows_dead_letters_with_reason_and_leaves_them_in_place() -> None:
    sent = hint("room-a", "AAMk/1+=")
    queue, _, _ = await dead_lettered_queue(sent)
    letters = InProcessDeadLetters(queue)

    listed = await letters.list("changes")
    again = await letters.list("changes")

    assert listed == again
    [letter] = listed
    assert (letter.queue, letter.message_id, letter.session_id) == ("changes", sent.message_id, "room-a")
    assert letter.reason == "MaxDeliveryCountExceeded"
    assert letter.description == "ConnectionError: graph unreachable"
    assert letter.delivery_count == 2
    assert letter.hint() == sent


async def test_replay_puts_the_hint_back_and_it_is_processed_as_a_replay() -> None:
    sent = hint("room-a", "b-1")
    queue, handler, clock = await dead_lettered_queue(sent)
    handler.broken = False

    [replayed] = await InProcessDeadLetters(queue).replay("changes")
    await queue.drain()

    [processed] = handler.processed
    processed_hint = ChangeHint.from_json(processed.get_body())
    assert (processed_hint.source, processed_hint.room, processed_hint.item_id) == (sent.source, "room-a", "b-1")
    assert processed_hint.reason is HintReason.REPLAY
    assert processed_hint.observed_at == clock()
    assert processed.message_id == processed_hint.message_id == replayed.message_id != sent.message_id
    assert processed.session_id == "room-a"
    assert processed.delivery_count == 1
    assert processed.application_properties["reason"] == "replay"
    assert processed.application_properties["replay_of"] == sent.message_id
    assert queue.dead_letters("changes") == []
    assert queue.stats("changes").duplicates_dropped == 0


async def test_replay_of_chosen_message_ids_leaves_the_others_dead_lettered() -> None:
    first, second = hint("room-a", "b-1"), hint("room-b", "b-2")
    queue, handler, _ = await dead_lettered_queue(first, second)
    handler.broken = False

    await InProcessDeadLetters(queue).replay("changes", message_ids=[second.message_id])
    await queue.drain()

    assert [ChangeHint.from_json(m.get_body()).item_id for m in handler.processed] == ["b-2"]
    assert [letter.message_id for letter in queue.dead_letters("changes")] == [first.message_id]


async def test_a_replay_that_fails_again_returns_to_the_dead_letters() -> None:
    sent = hint("room-a", "b-1")
    queue, _, clock = await dead_lettered_queue(sent)

    clock.advance(1)
    await InProcessDeadLetters(queue).replay("changes")
    await queue.drain()

    [letter] = queue.dead_letters("changes")
    assert letter.hint() is not None and letter.hint().reason is HintReason.REPLAY
    assert queue.stats("changes").dead_lettered == 2


async def test_a_dead_lettered_job_is_replayed_with_its_body_and_a_new_message_id() -> None:
    clock = ManualClock(T0)
    queue = InProcessQueue(max_delivery_count=1, clock=clock)
    handler = Switchable()
    queue.subscribe("reconcile", handler)
    await queue.publish_job('{"room": "room-a"}', queue="reconcile", message_id="reconcile-room-a-1", kind="reconcile")
    await queue.drain()
    handler.broken = False

    await InProcessDeadLetters(queue).replay("reconcile")
    await queue.drain()

    [processed] = handler.processed
    assert processed.get_body() == b'{"room": "room-a"}'
    assert processed.message_id != "reconcile-room-a-1"
    assert processed.application_properties == {
        "kind": "reconcile",
        "reason": "replay",
        "replay_of": "reconcile-room-a-1",
    }


def test_a_replayed_hint_gets_a_new_message_id_even_when_it_had_a_version() -> None:
    sent = hint("room-a", "b-1", version="etag-9")
    letter = DeadLetter(
        queue="changes",
        message_id=sent.message_id,
        session_id="room-a",
        sequence_number=1,
        delivery_count=10,
        reason="MaxDeliveryCountExceeded",
        description="x",
        enqueued_time_utc=T0,
        body=sent.to_json(),
    )

    first = replay_message(letter, now=T0 + dt.timedelta(hours=1))
    second = replay_message(letter, now=T0 + dt.timedelta(hours=2))

    assert len({sent.message_id, first.message_id, second.message_id}) == 3
    assert first.session_id == "room-a"


def test_a_received_service_bus_dead_letter_is_read_without_broker_properties() -> None:
    # The fields azure-servicebus's ServiceBusReceivedMessage exposes; keys and strings arrive as bytes.
    sent = hint("room-a", "b-1")
    received = SimpleNamespace(
        body=iter([sent.to_json().encode()[:10], sent.to_json().encode()[10:]]),
        application_properties={
            b"source": b"outlook",
            b"room": b"room-a",
            b"DeadLetterReason": b"MaxDeliveryCountExceeded",
            b"DeadLetterErrorDescription": b"Message could not be consumed after 10 delivery attempts.",
        },
        message_id=sent.message_id,
        session_id="room-a",
        sequence_number=42,
        delivery_count=10,
        dead_letter_reason="MaxDeliveryCountExceeded",
        dead_letter_error_description="Message could not be consumed after 10 delivery attempts.",
        enqueued_time_utc=T0,
        content_type="application/json",
    )

    letter = dead_letter_from_received(received, "changes")

    assert letter.hint() == sent
    assert letter.application_properties == {"source": "outlook", "room": "room-a"}
    assert (letter.reason, letter.sequence_number, letter.session_id) == ("MaxDeliveryCountExceeded", 42, "room-a")


class FakeDeadLetterReceiver:
    """Stands in for the network side of a ServiceBusReceiver on a dead-letter sub-queue (peek-lock)."""

    def __init__(self, messages: list[SimpleNamespace]) -> None:
        self.available = list(messages)
        self.completed: list[int] = []
        self.abandoned: list[int] = []

    async def __aenter__(self) -> FakeDeadLetterReceiver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    async def peek_messages(self, max_message_count: int, *, sequence_number: int) -> list[SimpleNamespace]:
        later = [m for m in self.available if m.sequence_number >= sequence_number]
        return later[: min(max_message_count, 2)]  # Service Bus may return fewer than asked

    async def receive_messages(self, max_message_count: int, max_wait_time: float) -> list[SimpleNamespace]:
        batch, self.available = self.available[:max_message_count], self.available[max_message_count:]
        return batch  # received messages stay locked: not received again until abandoned

    async def complete_message(self, message: SimpleNamespace) -> None:
        self.completed.append(message.sequence_number)

    async def abandon_message(self, message: SimpleNamespace) -> None:
        self.abandoned.append(message.sequence_number)


class FakeServiceBus:
    def __init__(self, messages: list[SimpleNamespace]) -> None:
        self.receiver = FakeDeadLetterReceiver(messages)
        self.receiver_options: list[dict[str, object]] = []
        self.sent: list[tuple[str, object]] = []

    def get_queue_receiver(self, queue: str, **options: object) -> FakeDeadLetterReceiver:
        self.receiver_options.append({"queue": queue, **options})
        return self.receiver

    async def send(self, messages: list[object], *, queue: str) -> None:
        self.sent.extend((queue, m) for m in messages)


def received_dead_letter(sent: ChangeHint, sequence_number: int) -> SimpleNamespace:
    return SimpleNamespace(
        body=[sent.to_json().encode()],
        application_properties={b"room": sent.room.encode(), b"DeadLetterReason": b"MaxDeliveryCountExceeded"},
        message_id=sent.message_id,
        session_id=sent.room,
        sequence_number=sequence_number,
        delivery_count=10,
        dead_letter_reason="MaxDeliveryCountExceeded",
        dead_letter_error_description="Message could not be consumed after 10 delivery attempts.",
        enqueued_time_utc=T0,
        content_type="application/json",
    )


def service_bus_dead_letters(bus: FakeServiceBus):
    from calsync.queues import ServiceBusDeadLetters

    publisher = SimpleNamespace(client=bus, send=bus.send)
    return ServiceBusDeadLetters(publisher, clock=lambda: T0 + dt.timedelta(hours=1))  # type: ignore[arg-type]


async def test_service_bus_list_peeks_the_dead_letter_sub_queue_page_by_page_without_a_session() -> None:
    hints = [hint(f"room-{n}", f"b-{n}") for n in range(5)]
    bus = FakeServiceBus([received_dead_letter(h, 10 + n) for n, h in enumerate(hints)])

    listed = await service_bus_dead_letters(bus).list("changes", limit=4)

    assert [letter.message_id for letter in listed] == [h.message_id for h in hints[:4]]
    assert bus.receiver_options[0]["sub_queue"] == "deadletter"
    assert "session_id" not in bus.receiver_options[0]
    assert bus.receiver.completed == bus.receiver.abandoned == []


async def test_service_bus_replay_resends_and_completes_the_chosen_and_abandons_the_rest() -> None:
    hints = [hint(f"room-{n}", f"b-{n}") for n in range(3)]
    bus = FakeServiceBus([received_dead_letter(h, 10 + n) for n, h in enumerate(hints)])

    sent = await service_bus_dead_letters(bus).replay("changes", message_ids=[hints[1].message_id])

    [(queue, message)] = bus.sent
    assert queue == "changes" and message == sent[0]
    replayed = ChangeHint.from_json(message.body)
    assert (replayed.item_id, replayed.reason, message.session_id) == ("b-1", HintReason.REPLAY, "room-1")
    assert bus.receiver.completed == [11]
    assert sorted(bus.receiver.abandoned) == [10, 12]
