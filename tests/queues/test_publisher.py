"""What the Service Bus publisher puts on the wire, checked without a Service Bus.

A real Service Bus cannot run here; the sender below is a stand-in for the network
call only: batches are azure-servicebus's own ServiceBusMessageBatch, so its size
limit decides when a batch is full.
"""

from __future__ import annotations

import datetime as dt

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.servicebus import ServiceBusMessage, ServiceBusMessageBatch
from azure.servicebus.exceptions import ServiceBusConnectionError

from calsync.errors import ConfigurationError, QueueError
from calsync.model.booking import Side
from calsync.model.hint import ChangeHint, ChangeKind, HintReason
from calsync.queues import (
    HintPublisher,
    OutgoingMessage,
    ServiceBusHintPublisher,
    hint_message,
    job_message,
    to_service_bus_message,
)
from calsync.queues.publisher import group_by_session
from calsync.settings import Settings, load_settings
from devstack.inprocess_queue import InProcessQueue

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def hint(room: str, item: str, n: int = 0) -> ChangeHint:
    return ChangeHint(
        source=Side.OUTLOOK,
        room=room,
        item_id=item,
        change_kind=ChangeKind.CREATED,
        reason=HintReason.RECONCILE,
        observed_at=T0 + dt.timedelta(seconds=n),
    )


def test_a_hint_becomes_a_service_bus_message_with_its_ids_and_properties() -> None:
    sent = hint("room-a", "AAMkAD/x+y=")

    message = to_service_bus_message(sent)

    assert isinstance(message, ServiceBusMessage)
    assert message.message_id == sent.message_id
    assert message.session_id == "room-a"
    assert message.content_type == "application/json"
    assert message.application_properties == {
        "kind": "hint",
        "source": "outlook",
        "room": "room-a",
        "reason": "reconcile",
    }
    assert ChangeHint.from_json(str(message)) == sent


def test_a_job_message_carries_its_kind_and_optional_session() -> None:
    message = to_service_bus_message(
        job_message('{"room": "room-a"}', message_id="reconcile-room-a-2026030209", kind="reconcile")
    )

    assert str(message) == '{"room": "room-a"}'
    assert message.message_id == "reconcile-room-a-2026030209"
    assert message.session_id is None
    assert message.application_properties == {"kind": "reconcile"}


def test_message_ids_longer_than_service_bus_allows_are_refused() -> None:
    with pytest.raises(ValueError, match="message_id"):
        OutgoingMessage(body="{}", message_id="x" * 129)
    with pytest.raises(ValueError, match="session_id"):
        OutgoingMessage(body="{}", message_id="x", session_id="")


def test_messages_are_grouped_by_session_keeping_their_order() -> None:
    messages = [hint_message(hint(room, f"b-{n}", n)) for n, room in enumerate(["a", "b", "a", "c", "b"])]

    groups = group_by_session(messages)

    assert [[m.session_id for m in group] for group in groups] == [["a", "a"], ["b", "b"], ["c"]]
    assert [m.message_id for m in groups[0]] == [messages[0].message_id, messages[2].message_id]


class RecordingBatch(ServiceBusMessageBatch):
    def __init__(self, max_size_in_bytes: int) -> None:
        super().__init__(max_size_in_bytes=max_size_in_bytes)
        self.added: list[ServiceBusMessage] = []

    def add_message(self, message: ServiceBusMessage) -> None:  # type: ignore[override]
        super().add_message(message)
        self.added.append(message)


class FakeSender:
    """Stands in for the network call of azure.servicebus.aio.ServiceBusSender."""

    def __init__(self, max_batch_bytes: int, fail: Exception | None = None) -> None:
        self.max_batch_bytes = max_batch_bytes
        self.fail = fail
        self.batches: list[list[ServiceBusMessage]] = []
        self.closed = False

    async def create_message_batch(self) -> RecordingBatch:
        return RecordingBatch(self.max_batch_bytes)

    async def send_messages(self, batch: RecordingBatch) -> None:
        if self.fail is not None:
            raise self.fail
        self.batches.append(list(batch.added))

    async def close(self) -> None:
        self.closed = True


class FakeClient:
    def __init__(self, max_batch_bytes: int = 262_144, fail: Exception | None = None) -> None:
        self.max_batch_bytes = max_batch_bytes
        self.fail = fail
        self.senders: list[tuple[str, FakeSender]] = []

    def get_queue_sender(self, queue: str) -> FakeSender:
        sender = FakeSender(self.max_batch_bytes, self.fail)
        self.senders.append((queue, sender))
        return sender

    async def close(self) -> None:
        pass


async def test_publish_sends_one_batch_per_session_and_reuses_the_sender() -> None:
    client = FakeClient()
    publisher = ServiceBusHintPublisher("calsync.servicebus.windows.net", client=client)
    hints = [hint(room, f"b-{n}", n) for n, room in enumerate(["room-a", "room-b", "room-a"])]

    await publisher.publish(hints, queue="changes")
    await publisher.publish([hint("room-c", "b-9", 9)], queue="changes")

    [(queue, sender)] = client.senders
    assert queue == "changes"
    assert [[m.message_id for m in batch] for batch in sender.batches] == [
        [hints[0].message_id, hints[2].message_id],
        [hints[1].message_id],
        [hint("room-c", "b-9", 9).message_id],
    ]
    assert all(len({m.session_id for m in batch}) == 1 for batch in sender.batches)


async def test_a_full_batch_is_sent_and_a_new_one_started_without_losing_order() -> None:
    size = len(str(to_service_bus_message(hint("room-a", "b-0"))))
    client = FakeClient(max_batch_bytes=size * 3)  # room for about two messages per batch
    publisher = ServiceBusHintPublisher("calsync.servicebus.windows.net", client=client)
    hints = [hint("room-a", f"b-{n}", n) for n in range(7)]

    await publisher.publish(hints, queue="changes")

    [(_, sender)] = client.senders
    assert len(sender.batches) > 1
    assert [m.message_id for batch in sender.batches for m in batch] == [h.message_id for h in hints]


async def test_a_refused_send_raises_a_retryable_queue_error_and_reopens_the_sender() -> None:
    client = FakeClient(fail=ServiceBusConnectionError(message="connection reset"))
    publisher = ServiceBusHintPublisher("calsync.servicebus.windows.net", client=client)

    with pytest.raises(QueueError, match="'changes'") as raised:
        await publisher.publish([hint("room-a", "b-1")], queue="changes")

    assert raised.value.retryable and raised.value.http_status == 503
    assert client.senders[0][1].closed
    client.fail = None
    await publisher.publish([hint("room-a", "b-1")], queue="changes")
    assert len(client.senders) == 2 and len(client.senders[1][1].batches) == 1


async def test_a_credential_failure_is_a_queue_error_too() -> None:
    client = FakeClient(fail=ClientAuthenticationError("no managed identity endpoint"))
    publisher = ServiceBusHintPublisher("calsync.servicebus.windows.net", client=client)

    with pytest.raises(QueueError, match="ClientAuthenticationError"):
        await publisher.publish([hint("room-a", "b-1")], queue="changes")


async def test_publish_job_sends_one_message_with_the_given_ids() -> None:
    client = FakeClient()
    publisher = ServiceBusHintPublisher("calsync.servicebus.windows.net", client=client)

    await publisher.publish_job(
        '{"room": "room-a"}', queue="reconcile", message_id="reconcile-room-a", session_id="room-a", kind="reconcile"
    )

    [(queue, sender)] = client.senders
    [[message]] = sender.batches
    assert queue == "reconcile"
    assert (message.message_id, message.session_id) == ("reconcile-room-a", "room-a")
    assert message.application_properties == {"kind": "reconcile"}


def test_from_settings_needs_the_namespace() -> None:
    with pytest.raises(ConfigurationError, match="ServiceBusConnection__fullyQualifiedNamespace"):
        ServiceBusHintPublisher.from_settings(Settings(tables_connection_string="UseDevelopmentStorage=true"))

    publisher = ServiceBusHintPublisher.from_settings(
        Settings(
            tables_connection_string="UseDevelopmentStorage=true",
            ServiceBusConnection__fullyQualifiedNamespace="calsync.servicebus.windows.net",
        )
    )
    assert publisher.fully_qualified_namespace == "calsync.servicebus.windows.net"


def test_both_backends_are_hint_publishers() -> None:
    assert isinstance(ServiceBusHintPublisher("ns.servicebus.windows.net", client=FakeClient()), HintPublisher)
    assert isinstance(InProcessQueue(), HintPublisher)


async def test_the_client_is_built_on_first_use_for_the_namespace_and_closed_with_the_publisher() -> None:
    publisher = ServiceBusHintPublisher(
        "calsync.servicebus.windows.net", client_id="00000000-0000-0000-0000-000000000001"
    )

    client = publisher.client

    assert client is publisher.client
    assert client.fully_qualified_namespace == "calsync.servicebus.windows.net"
    await publisher.close()
    assert publisher.client is not client  # a closed publisher opens a fresh client on next use
    await publisher.close()


def test_emulator_connection_string_wins_over_the_identity_based_namespace() -> None:
    emulator = ("Endpoint=sb://localhost;SharedAccessKeyName=RootManageSharedAccessKey;"
                "SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;")  # fmt: skip
    settings = load_settings(tables_connection_string="UseDevelopmentStorage=true", graph_auth_mode="none",
                             ServiceBusConnection=emulator)  # fmt: skip
    publisher = ServiceBusHintPublisher.from_settings(settings)
    assert publisher.client.fully_qualified_namespace == "localhost"
