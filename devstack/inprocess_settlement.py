"""Manual settlement for the in-process queue, as the Functions host offers it to ``sync_change``.

A function bound with autoCompleteMessages off gets, from the Python worker, the message
as azure-servicebus's ``ServiceBusReceivedMessage`` (decoded by
azurefunctions-extensions-bindings-servicebus from the AMQP bytes the host sends) and a
``ServiceBusMessageActions`` that settles it over the host's gRPC channel.
``received_message`` builds the same SDK message through the extension's own converter,
from an AMQP message encoded here, so the real handler runs on the real type;
``InProcessMessageActions`` has the extension's settlement methods (synchronous, as
there) and records the one settlement of each lock token for the queue to apply.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from azurefunctions.extensions.base import Datum
from azurefunctions.extensions.bindings.servicebus import ServiceBusConverter
from uamqp import Message
from uamqp.message import MessageHeader, MessageProperties

from calsync.queues.publisher import OutgoingMessage

LOCK_TOKEN_MARKER = b"x-opt-lock-token"


@dataclass(frozen=True)
class _ModelBindingData:
    """What the worker hands the converter: the host's model_binding_data for one message."""

    content: bytes
    version: str = "1.0"
    source: str = "AzureServiceBusReceivedMessage"
    content_type: str = "application/octet-stream"


def received_message(message: OutgoingMessage, *, lock_token: uuid.UUID, delivery_count: int, sequence_number: int,
                     enqueued_time_utc: dt.datetime) -> Any:  # fmt: skip
    """The azure.servicebus ServiceBusReceivedMessage the worker would pass for ``message``."""
    header = MessageHeader()
    header.delivery_count = delivery_count
    properties = MessageProperties(message_id=message.message_id, content_type=message.content_type,
                                   group_id=message.session_id)  # fmt: skip
    annotations = {b"x-opt-sequence-number": sequence_number,
                   b"x-opt-enqueued-time": int(enqueued_time_utc.timestamp() * 1000)}  # fmt: skip
    amqp = Message(body=message.body.encode("utf-8"), properties=properties, header=header,
                   application_properties=dict(message.application_properties), annotations=annotations)  # fmt: skip
    content = lock_token.bytes_le + LOCK_TOKEN_MARKER + amqp.encode_message()
    datum = Datum(type="model_binding_data", value=_ModelBindingData(content))
    return ServiceBusConverter.decode(datum, trigger_metadata={}, pytype=None)


@dataclass(frozen=True)
class Settled:
    """How the handler settled a message: complete, abandon or deadletter (with reason and description)."""

    action: str
    reason: str | None = None
    description: str | None = None


class SettlementError(Exception):
    """Settling a message twice, or one this delivery does not hold (the extension raises its own kind)."""


class InProcessMessageActions:
    """The extension's ServiceBusMessageActions for one delivery: complete, abandon, deadletter."""

    def __init__(self, lock_token: uuid.UUID) -> None:
        self._lock_token = lock_token
        self.settled: Settled | None = None

    def _settle(self, message: Any, settled: Settled) -> None:
        if str(message.lock_token) != str(self._lock_token):
            raise SettlementError(f"lock token {message.lock_token} is not held by this delivery")
        if self.settled is not None:
            raise SettlementError(f"message {message.message_id} is already settled ({self.settled.action})")
        self.settled = settled

    def complete(self, message: Any) -> None:
        self._settle(message, Settled("complete"))

    def abandon(self, message: Any) -> None:
        self._settle(message, Settled("abandon"))

    def deadletter(self, message: Any, deadletter_reason: str | None = None,
                   deadletter_error_description: str | None = None) -> None:  # fmt: skip
        self._settle(message, Settled("deadletter", deadletter_reason, deadletter_error_description))
