"""Putting messages on a queue: the HintPublisher protocol and its Service Bus implementation.

Everything calsync enqueues is an ``OutgoingMessage``: a JSON body plus the broker
fields that matter (MessageId for duplicate detection, SessionId for per-room
ordering, application properties for operators). ``hint_message`` and
``job_message`` build them; ``to_service_bus_message`` turns one into the
azure-servicebus message, a pure function that tests check field by field.

``ServiceBusHintPublisher`` sends them with one async ServiceBusClient per process
(identity-based: the namespace from ``ServiceBusConnection__fullyQualifiedNamespace``
and DefaultAzureCredential, using AZURE_CLIENT_ID's user-assigned identity), one
sender per queue reused and guarded by a lock (a sender is not safe for concurrent
use), batches grouped by session. Failures surface as QueueError (retryable, 503).
The in-process queue (devstack.inprocess_queue) implements the same protocol.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from azure.core.exceptions import AzureError
from azure.servicebus import ServiceBusMessage
from azure.servicebus.exceptions import MessageSizeExceededError

from calsync.errors import ConfigurationError, QueueError
from calsync.model.hint import ChangeHint
from calsync.settings import Settings

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"
MAX_MESSAGE_ID_LENGTH = 128
"""Service Bus limits MessageId and SessionId to 128 characters."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to enqueue, independent of the broker that carries it."""

    body: str
    message_id: str
    session_id: str | None = None
    content_type: str = JSON_CONTENT_TYPE
    application_properties: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.message_id or len(self.message_id) > MAX_MESSAGE_ID_LENGTH:
            raise ValueError(f"message_id must have 1 to {MAX_MESSAGE_ID_LENGTH} characters")
        if self.session_id is not None and not 0 < len(self.session_id) <= MAX_MESSAGE_ID_LENGTH:
            raise ValueError(f"session_id must have 1 to {MAX_MESSAGE_ID_LENGTH} characters")


def hint_message(hint: ChangeHint) -> OutgoingMessage:
    """The message that carries a ChangeHint: its deterministic MessageId, the room as session."""
    return OutgoingMessage(
        body=hint.to_json(),
        message_id=hint.message_id,
        session_id=hint.session_id,
        application_properties={
            "kind": "hint",
            "source": hint.source.value,
            "room": hint.room,
            "reason": hint.reason.value,
        },
    )


def job_message(
    body: str,
    *,
    message_id: str,
    session_id: str | None = None,
    kind: str = "job",
    properties: dict[str, str] | None = None,
) -> OutgoingMessage:
    """A message for a non-hint job (e.g. a per-room reconcile): the caller picks a stable MessageId."""
    return OutgoingMessage(
        body=body,
        message_id=message_id,
        session_id=session_id,
        application_properties={**(properties or {}), "kind": kind},
    )


def to_service_bus_message(message: OutgoingMessage | ChangeHint) -> ServiceBusMessage:
    """The azure-servicebus message for ``message`` (a ChangeHint is wrapped with hint_message first)."""
    if isinstance(message, ChangeHint):
        message = hint_message(message)
    return ServiceBusMessage(
        message.body,
        message_id=message.message_id,
        session_id=message.session_id,
        content_type=message.content_type,
        application_properties=dict(message.application_properties),
    )


@runtime_checkable
class HintPublisher(Protocol):
    """Enqueues messages for the queue functions. Raises QueueError when the queue refuses them.

    ``publish`` returns once every hint is accepted by the queue (or dropped there as a
    duplicate of a MessageId seen within the duplicate-detection window).
    """

    async def publish(self, hints: Sequence[ChangeHint], *, queue: str) -> None:
        """Enqueue ChangeHints: MessageId = hint.message_id, SessionId = hint.room."""
        ...

    async def publish_job(
        self,
        body: str,
        *,
        queue: str,
        message_id: str,
        session_id: str | None = None,
        kind: str = "job",
    ) -> None:
        """Enqueue one non-hint job (JSON ``body``), e.g. a room's reconcile on the "reconcile" queue."""
        ...

    async def send(self, messages: Sequence[OutgoingMessage], *, queue: str) -> None:
        """Enqueue prepared messages as they are (used by publish, publish_job and dead-letter replay)."""
        ...


class PublisherBase:
    """publish and publish_job expressed through ``send``; implementations provide ``send``."""

    async def send(self, messages: Sequence[OutgoingMessage], *, queue: str) -> None:
        raise NotImplementedError

    async def publish(self, hints: Sequence[ChangeHint], *, queue: str) -> None:
        await self.send([hint_message(hint) for hint in hints], queue=queue)

    async def publish_job(
        self,
        body: str,
        *,
        queue: str,
        message_id: str,
        session_id: str | None = None,
        kind: str = "job",
    ) -> None:
        await self.send([job_message(body, message_id=message_id, session_id=session_id, kind=kind)], queue=queue)


def group_by_session(messages: Sequence[OutgoingMessage]) -> list[list[OutgoingMessage]]:
    """Messages grouped by session id in first-seen order, order kept within each group.

    One batch holds one session, so batches also suit partitioned entities, where all
    messages of a batch must share a session (partition key).
    """
    groups: dict[str | None, list[OutgoingMessage]] = {}
    for message in messages:
        groups.setdefault(message.session_id, []).append(message)
    return list(groups.values())


class ServiceBusHintPublisher(PublisherBase):
    """HintPublisher on Azure Service Bus with an identity-based connection.

    Keep one instance per process (``ServiceBusHintPublisher.from_settings`` once, at
    module level, or ``shared_service_bus_publisher``): the AMQP connection and the
    per-queue senders are opened on first use and reused. ``close()`` releases them.
    """

    def __init__(
        self,
        fully_qualified_namespace: str,
        *,
        credential: Any = None,
        client_id: str | None = None,
        client: Any = None,
        connection_string: str | None = None,
    ) -> None:
        """``credential`` defaults to DefaultAzureCredential for ``client_id``'s managed identity;
        ``client`` (an azure.servicebus.aio.ServiceBusClient) replaces the one built from them."""
        self.fully_qualified_namespace = fully_qualified_namespace
        self._credential = credential
        self._owns_credential = False
        self._client_id = client_id
        self._client: Any = client
        self._connection_string = connection_string
        self._senders: dict[str, Any] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceBusHintPublisher:
        if settings.servicebus_connection_string is not None:
            # the Service Bus emulator (local runs with Functions Core Tools) accepts only its SAS string
            connection = settings.servicebus_connection_string.get_secret_value()
            return cls(settings.servicebus_namespace or "emulator", connection_string=connection)
        if not settings.servicebus_namespace:
            raise ConfigurationError(
                "ServiceBusConnection__fullyQualifiedNamespace is not set; it names the Service Bus namespace"
            )
        return cls(settings.servicebus_namespace, client_id=settings.azure_client_id)

    @property
    def client(self) -> Any:
        """The process's azure.servicebus.aio.ServiceBusClient, created on first use."""
        if self._client is None:
            from azure.identity.aio import DefaultAzureCredential
            from azure.servicebus.aio import ServiceBusClient

            if self._connection_string is not None:
                self._client = ServiceBusClient.from_connection_string(self._connection_string)
                return self._client
            if self._credential is None:
                self._credential = DefaultAzureCredential(managed_identity_client_id=self._client_id)
                self._owns_credential = True
            self._client = ServiceBusClient(self.fully_qualified_namespace, self._credential)
        return self._client

    async def send(self, messages: Sequence[OutgoingMessage], *, queue: str) -> None:
        if not messages:
            return
        lock = self._locks.setdefault(queue, asyncio.Lock())
        async with lock:
            sender = self._senders.get(queue)
            if sender is None:
                sender = self._senders[queue] = self.client.get_queue_sender(queue)
            try:
                for group in group_by_session(messages):
                    await self._send_batched(sender, group)
            except AzureError as exc:  # ServiceBusError, and credential failures (ClientAuthenticationError)
                # Drop the sender: its link may be broken; the next send opens a fresh one. Groups
                # already sent are sent again on retry; their deterministic MessageIds make the
                # queue's duplicate detection drop them.
                self._senders.pop(queue, None)
                await _close_quietly(sender)
                raise QueueError(
                    f"Service Bus refused messages for queue {queue!r}: {type(exc).__name__}",
                    queue=queue,
                    count=len(messages),
                ) from exc
        log.debug("sent %d message(s) to queue %s", len(messages), queue)

    @staticmethod
    async def _send_batched(sender: Any, messages: Sequence[OutgoingMessage]) -> None:
        batch = await sender.create_message_batch()
        for message in messages:
            sb_message = to_service_bus_message(message)
            try:
                batch.add_message(sb_message)
            except MessageSizeExceededError:
                if len(batch) == 0:
                    raise  # one message alone is too large
                await sender.send_messages(batch)
                batch = await sender.create_message_batch()
                batch.add_message(sb_message)
        if len(batch):
            await sender.send_messages(batch)

    async def close(self) -> None:
        senders, self._senders = list(self._senders.values()), {}
        for sender in senders:
            await _close_quietly(sender)
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._owns_credential:
            await self._credential.close()
            self._credential, self._owns_credential = None, False


async def _close_quietly(handler: Any) -> None:
    try:
        await handler.close()
    except Exception:  # closing a broken link must not hide the original error
        log.debug("closing a Service Bus handler failed", exc_info=True)


_shared: dict[tuple[str, str | None], ServiceBusHintPublisher] = {}


def shared_service_bus_publisher(settings: Settings) -> ServiceBusHintPublisher:
    """The one ServiceBusHintPublisher of this process for these settings' namespace and identity."""
    key = (settings.servicebus_namespace or "", settings.azure_client_id)
    publisher = _shared.get(key)
    if publisher is None:
        publisher = _shared[key] = ServiceBusHintPublisher.from_settings(settings)
    return publisher
