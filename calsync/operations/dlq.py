"""`calsync dlq list|replay`: what the operator commands do with a DeadLetterQueue.

The functions take any calsync.queues.dead_letters.DeadLetterQueue, so tests run them
on InProcessDeadLetters; the command builds the Service Bus one with
``service_bus_dead_letters(settings)``. Broker failures (azure-servicebus and
credential errors) become QueueError with one line saying what was being done.

Replay chooses every dead letter (at most ``limit``), those of one room (its session), or
the given MessageIds; ids not in the dead-letter sub-queue are reported back, not guessed at.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from azure.core.exceptions import AzureError

from calsync.errors import QueueError, ValidationError
from calsync.queues.dead_letters import DeadLetter, DeadLetterQueue, ServiceBusDeadLetters
from calsync.queues.publisher import OutgoingMessage, shared_service_bus_publisher
from calsync.settings import Settings

ID_SEARCH_LIMIT = 5000
"""How many dead letters are peeked to find the MessageIds an operator names."""


@contextlib.asynccontextmanager
async def service_bus_dead_letters(settings: Settings) -> AsyncIterator[DeadLetterQueue]:
    """The deployment's dead letters on Service Bus; the connection is closed afterwards.

    Raises ConfigurationError when ServiceBusConnection__fullyQualifiedNamespace is not set.
    """
    publisher = shared_service_bus_publisher(settings)
    try:
        yield ServiceBusDeadLetters(publisher)
    finally:
        await publisher.close()


def resolve_queue(settings: Settings, queue: str | None) -> str:
    """The queue an operator means: the changes queue by default, else one of calsync's queues."""
    known = [settings.changes_queue, settings.reconcile_queue]
    if queue is None:
        return settings.changes_queue
    if queue not in known:
        raise ValidationError(f"unknown queue {queue!r}; calsync's queues are {', '.join(known)}", queue=queue)
    return queue


@contextlib.asynccontextmanager
async def _broker(doing: str, queue: str) -> AsyncIterator[None]:
    try:
        yield
    except AzureError as exc:  # ServiceBusError and ClientAuthenticationError alike
        raise QueueError(f"Service Bus failed while {doing} of queue {queue!r}: {type(exc).__name__}: {exc}",
                         queue=queue) from exc  # fmt: skip


def room_of(letter: DeadLetter) -> str | None:
    """The room a dead letter belongs to: its session (a hint's room), else what its body or properties say."""
    if letter.session_id:
        return letter.session_id
    hint = letter.hint()
    return hint.room if hint is not None else letter.application_properties.get("room")


async def list_dead_letters(
    dlq: DeadLetterQueue, queue: str, *, limit: int, room: str | None = None
) -> list[DeadLetter]:
    """Up to ``limit`` dead letters of ``queue`` (of one ``room``, if given), oldest first, untouched.

    Raises QueueError.
    """
    async with _broker("listing the dead letters", queue):
        letters = await dlq.list(queue, limit=limit if room is None else ID_SEARCH_LIMIT)
    return [letter for letter in letters if room is None or room_of(letter) == room][:limit]


def check_selection(message_ids: Sequence[str], room: str | None, replay_all: bool) -> None:
    """Raise ValidationError unless exactly one of MessageIds, a room and "all" is chosen."""
    if sum((bool(message_ids), room is not None, replay_all)) != 1:
        raise ValidationError(
            "say which dead letters to replay: --id MESSAGE_ID (repeatable), --room ROOM or --all (one of them)"
        )


@dataclass(frozen=True)
class ReplayOutcome:
    sent: list[OutgoingMessage]
    missing: list[str]  # requested MessageIds that are not dead letters of the queue
    limit_reached: bool  # replaying "all" stopped at the limit: more may remain


async def replay_dead_letters(
    dlq: DeadLetterQueue,
    queue: str,
    *,
    message_ids: Sequence[str] = (),
    room: str | None = None,
    replay_all: bool = False,
    limit: int = 100,
) -> ReplayOutcome:
    """Replay dead letters of ``queue``: all (``replay_all``, at most ``limit``), those of one ``room``,
    or those with ``message_ids``.

    Raises ValidationError unless exactly one of the three is asked for, QueueError.
    """
    check_selection(message_ids, room, replay_all)
    if replay_all:
        async with _broker("replaying the dead letters", queue):
            sent = await dlq.replay(queue, limit=limit)
        return ReplayOutcome(sent, [], limit_reached=len(sent) >= limit)
    wanted = list(dict.fromkeys(message_ids))
    async with _broker("listing the dead letters", queue):
        letters = await dlq.list(queue, limit=ID_SEARCH_LIMIT)
    if room is not None:
        found = [letter for letter in letters if room_of(letter) == room]
    else:
        found = [letter for letter in letters if letter.message_id in set(wanted)]
    present = {letter.message_id for letter in found}
    missing = [message_id for message_id in wanted if message_id not in present]
    sent: list[OutgoingMessage] = []
    if found:
        async with _broker("replaying the dead letters", queue):
            sent = await dlq.replay(queue, message_ids=present, limit=len(found))
    return ReplayOutcome(sent, missing, limit_reached=False)
