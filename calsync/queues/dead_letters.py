"""Dead letters: list them and replay them, on Service Bus and on the in-process queue alike.

A message that kept failing sits in its queue's dead-letter sub-queue with the reason.
``DeadLetterQueue`` is the small interface an operator command uses:

- ``list(queue)`` shows them without touching them (Service Bus: peek);
- ``replay(queue, message_ids=...)`` puts them back on the main queue as new messages
  and removes them from the dead-letter sub-queue (Service Bus: receive, send, complete;
  messages not chosen are abandoned, so they stay).

A replayed ChangeHint is re-published with ``reason=replay``, ``observed_at=now`` and no
version, so its deterministic MessageId is new and duplicate detection does not swallow
it; the engine re-reads the item anyway. Any other message (a reconcile job) keeps its
body and gets a new MessageId. Both carry the application property ``replay_of``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError as PydanticValidationError

from calsync.model.hint import ChangeHint, HintReason
from calsync.queues.publisher import OutgoingMessage, hint_message

if TYPE_CHECKING:
    from calsync.queues.publisher import ServiceBusHintPublisher

log = logging.getLogger(__name__)

MAX_DELIVERY_COUNT_EXCEEDED = "MaxDeliveryCountExceeded"
"""The DeadLetterReason Service Bus writes when a message ran out of deliveries."""

BROKER_PROPERTIES = frozenset({"DeadLetterReason", "DeadLetterErrorDescription"})
"""Application properties Service Bus adds on dead-lettering; a replay does not copy them."""


@dataclass(frozen=True)
class DeadLetter:
    """One message in a dead-letter sub-queue, with why it is there."""

    queue: str
    message_id: str
    session_id: str | None
    sequence_number: int
    delivery_count: int
    reason: str | None
    description: str | None
    enqueued_time_utc: dt.datetime | None
    body: str
    content_type: str | None = None
    application_properties: dict[str, str] = field(default_factory=dict)

    def hint(self) -> ChangeHint | None:
        """The ChangeHint this message carries, or None for other messages (jobs, garbage)."""
        try:
            return ChangeHint.from_json(self.body)
        except PydanticValidationError:
            return None


def replay_message(letter: DeadLetter, *, now: dt.datetime) -> OutgoingMessage:
    """The new message that replays ``letter``: a fresh MessageId, marked as a replay."""
    hint = letter.hint()
    if hint is not None:
        replayed = hint.model_copy(update={"reason": HintReason.REPLAY, "observed_at": now, "version": None})
        message = hint_message(replayed)
        return replace(
            message, application_properties={**message.application_properties, "replay_of": letter.message_id}
        )
    digest = hashlib.sha256(f"{letter.message_id}\x1f{now.isoformat()}".encode()).hexdigest()[:40]
    return OutgoingMessage(
        body=letter.body,
        message_id=f"replay-{digest}",
        session_id=letter.session_id,
        content_type=letter.content_type or "application/json",
        application_properties={
            **{k: v for k, v in letter.application_properties.items() if k not in BROKER_PROPERTIES},
            "reason": HintReason.REPLAY.value,
            "replay_of": letter.message_id,
        },
    )


class DeadLetterQueue(Protocol):
    """Lists and replays one backend's dead letters."""

    async def list(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        """Up to ``limit`` dead letters of ``queue``, oldest first; nothing is changed."""
        ...

    async def replay(
        self, queue: str, *, message_ids: Collection[str] | None = None, limit: int = 100
    ) -> list[OutgoingMessage]:
        """Re-send dead letters of ``queue`` (all, or those with these MessageIds), at most ``limit``.

        Each is sent to ``queue`` before it leaves the dead-letter sub-queue, so a crash
        in between replays it twice at worst (hints are idempotent). Returns what was sent.
        Raises QueueError when the queue refuses the new messages.
        """
        ...


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ServiceBusDeadLetters:
    """DeadLetterQueue on Service Bus: the queue's DEAD_LETTER sub-queue, read without a session.

    The dead-letter sub-queue of a session-enabled queue is not sessionful, so an
    ordinary receiver reads it; the session id travels on each message and is kept.
    """

    def __init__(
        self,
        publisher: ServiceBusHintPublisher,
        *,
        max_wait_time: float = 5.0,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self._publisher = publisher
        self._max_wait_time = max_wait_time
        self._clock = clock

    def _receiver(self, queue: str) -> Any:
        from azure.servicebus import ServiceBusSubQueue

        return self._publisher.client.get_queue_receiver(
            queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=self._max_wait_time
        )

    async def list(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        async with self._receiver(queue) as receiver:
            next_sequence = 1
            while len(letters) < limit:
                page = await receiver.peek_messages(min(limit - len(letters), 100), sequence_number=next_sequence)
                if not page:
                    break
                letters.extend(dead_letter_from_received(message, queue) for message in page)
                next_sequence = page[-1].sequence_number + 1
        return letters[:limit]

    async def replay(
        self, queue: str, *, message_ids: Collection[str] | None = None, limit: int = 100
    ) -> list[OutgoingMessage]:
        wanted = None if message_ids is None else set(message_ids)
        sent: list[OutgoingMessage] = []
        held: list[Any] = []  # not chosen: kept locked until the end so they are not received again
        async with self._receiver(queue) as receiver:
            try:
                while len(sent) < limit:
                    batch = await receiver.receive_messages(max_message_count=50, max_wait_time=self._max_wait_time)
                    if not batch:
                        break
                    for received in batch:
                        letter = dead_letter_from_received(received, queue)
                        if len(sent) >= limit or (wanted is not None and letter.message_id not in wanted):
                            held.append(received)
                            continue
                        message = replay_message(letter, now=self._clock())
                        await self._publisher.send([message], queue=queue)
                        await receiver.complete_message(received)
                        sent.append(message)
            finally:
                for received in held:
                    await receiver.abandon_message(received)
        log.info("replayed %d dead letter(s) of queue %s", len(sent), queue)
        return sent


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes | bytearray) else str(value)


def dead_letter_from_received(message: Any, queue: str) -> DeadLetter:
    """A DeadLetter from an azure.servicebus ServiceBusReceivedMessage (keys and strings arrive as bytes)."""
    raw = message.body
    body = bytes(raw) if isinstance(raw, bytes | bytearray) else b"".join(raw)
    properties = {
        _text(key): _text(value)
        for key, value in (message.application_properties or {}).items()
        if _text(key) not in BROKER_PROPERTIES
    }
    return DeadLetter(
        queue=queue,
        message_id=message.message_id,
        session_id=message.session_id,
        sequence_number=message.sequence_number,
        delivery_count=message.delivery_count or 0,
        reason=message.dead_letter_reason,
        description=message.dead_letter_error_description,
        enqueued_time_utc=message.enqueued_time_utc,
        body=body.decode("utf-8"),
        content_type=message.content_type,
        application_properties=properties,
    )
