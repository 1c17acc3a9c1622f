"""An in-process stand-in for Service Bus, for tests and the local run.

It keeps the semantics calsync relies on, and nothing more:

- named queues, each with at most one consumer: ``subscribe(queue, handler)``, where
  ``handler(message)`` receives a real ``azure.functions.servicebus.ServiceBusMessage``
  (body, message_id, session_id, delivery_count, enqueued_time_utc, sequence_number,
  content_type, application_properties), so the real function handler can be called;
- sessions: messages of one session are delivered one at a time and in send order;
  different sessions (and messages without a session) run concurrently, at most
  ``max_concurrent_sessions`` at once per queue. Queues named in ``session_queues``
  refuse messages without a session id, as a session-enabled Service Bus queue does.
  A session's slot is freed as soon as none of its messages waits. The Functions host
  keeps it longer: its session processor waits host.json's ``sessionIdleTimeout`` (10 s)
  for the session's next message before it closes the session and accepts another
  (https://learn.microsoft.com/dotnet/api/azure.messaging.servicebus.servicebussessionprocessoroptions.sessionidletimeout).
  So this queue never leaves a slot idle where the host would not; with many more
  sessions than slots (a backfill's 200 rooms, 16 slots per instance) the host can;
- peek-lock settlement as the Functions host does it: the handler returning completes
  the message; raising abandons it. A queue subscribed with ``auto_complete=False`` (as
  the host binds a trigger with autoCompleteMessages off) calls ``handler(message,
  actions)`` with the SDK message and settlement actions of devstack.inprocess_settlement:
  complete, abandon, or deadletter at once with the handler's reason and description (a
  message left unsettled is abandoned, as when its lock expires) (DeliveryCount + 1, redelivered first in its session,
  after an optional exponential backoff); after ``max_delivery_count`` deliveries it is
  dead-lettered with DeadLetterReason "MaxDeliveryCountExceeded" and a
  DeadLetterErrorDescription naming the last exception's type and message;
- duplicate detection: a MessageId accepted by a queue within ``duplicate_window`` (by
  ``clock``) is dropped and counted, as Service Bus duplicate detection does (it can
  be turned off, to deliver one hint several times on purpose);
- ``await drain()`` returns when the queues are empty and idle, or raises QueueError;
- ``stats()`` counts sent, delivered, completed, abandoned, dead-lettered, duplicates.

It also implements HintPublisher, so HTTP handlers can enqueue into it. Dead letters
are listed and replayed through calsync.queues.dead_letters.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import inspect
import itertools
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from azure.functions import meta
from azure.functions.servicebus import ServiceBusMessage as FunctionsServiceBusMessage

from calsync.errors import QueueError
from calsync.queues.dead_letters import MAX_DELIVERY_COUNT_EXCEEDED, DeadLetter, replay_message
from calsync.queues.publisher import OutgoingMessage, PublisherBase
from calsync.settings import Settings
from devstack.inprocess_settlement import InProcessMessageActions, Settled, received_message

log = logging.getLogger(__name__)

Handler = Callable[[FunctionsServiceBusMessage], Awaitable[None] | None]
Clock = Callable[[], dt.datetime]

MAX_ERROR_DESCRIPTION = 1024


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ManualClock:
    """A clock tests move by hand: ``clock()`` reads it, ``clock.advance(seconds)`` moves it."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class QueueStats:
    """What happened on a queue (or on all queues, summed)."""

    sent: int = 0  # accepted by send (duplicates not included)
    delivered: int = 0  # handler invocations, redeliveries included
    completed: int = 0
    abandoned: int = 0  # handler raised; includes the final attempt before dead-lettering
    dead_lettered: int = 0
    duplicates_dropped: int = 0

    def __add__(self, other: QueueStats) -> QueueStats:
        return QueueStats(
            *(getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__),
        )


@dataclass
class _Envelope:
    message: OutgoingMessage
    sequence_number: int
    enqueued_time_utc: dt.datetime
    delivery_count: int = 0
    last_error: str | None = None


@dataclass
class _Queue:
    name: str
    requires_session: bool
    lanes: dict[str, deque[_Envelope]] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)
    handler: Handler | None = None
    auto_complete: bool = True
    semaphore: asyncio.Semaphore | None = None
    seen_ids: set[str] = field(default_factory=set)
    seen_order: deque[tuple[dt.datetime, str]] = field(default_factory=deque)  # acceptance order, for expiry
    dead: list[DeadLetter] = field(default_factory=list)
    stats: QueueStats = field(default_factory=QueueStats)

    def pending(self) -> int:
        return sum(len(lane) for lane in self.lanes.values())


class InProcessQueue(PublisherBase):
    """Service Bus queues inside this process, driven by the running event loop (use it from one loop).

    ``duplicate_detection=False`` turns duplicate detection off, as on a queue created
    without it (useful to deliver the same hint several times on purpose).
    """

    def __init__(
        self,
        *,
        max_delivery_count: int = 10,
        max_concurrent_sessions: int = 8,
        duplicate_window: dt.timedelta = dt.timedelta(minutes=10),
        duplicate_detection: bool = True,
        retry_backoff_seconds: float = 0.0,
        max_retry_backoff_seconds: float = 1.0,
        session_queues: Collection[str] = (),
        clock: Clock = utc_now,
    ) -> None:
        if max_delivery_count < 1 or max_concurrent_sessions < 1:
            raise ValueError("max_delivery_count and max_concurrent_sessions must be at least 1")
        self.max_delivery_count = max_delivery_count
        self.max_concurrent_sessions = max_concurrent_sessions
        self.duplicate_window = duplicate_window
        self.duplicate_detection = duplicate_detection
        self.retry_backoff_seconds = retry_backoff_seconds
        self.max_retry_backoff_seconds = max_retry_backoff_seconds
        self.session_queues = frozenset(session_queues)
        self.clock = clock
        self._queues: dict[str, _Queue] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sequence = itertools.count(1)
        self._closed = False
        self._changed: asyncio.Event | None = None  # set when a lane finishes or a message arrives (drain waits on it)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> InProcessQueue:
        """Like the deployed queues: max deliveries from settings, the changes queue sessionful."""
        options: dict[str, Any] = {
            "max_delivery_count": settings.max_delivery_count,
            "session_queues": {settings.changes_queue},
        }
        options.update(overrides)
        return cls(**options)

    # --- consumers ----------------------------------------------------------------------------

    def wrap_handlers(self, wrapper: Callable[[Handler], Handler]) -> None:
        """Replace every subscribed handler by ``wrapper(handler)`` (benchmarks time the handlers this way)."""
        for state in self._queues.values():
            if state.handler is not None:
                state.handler = wrapper(state.handler)

    def subscribe(self, queue: str, handler: Handler | Callable[..., Any], *, auto_complete: bool = True) -> None:
        """Deliver the messages of ``queue`` to ``handler`` (one consumer per queue).

        ``handler`` may be async or plain; a plain one runs on the event loop thread.
        With ``auto_complete=False`` it is called as ``handler(message, actions)`` and
        settles each message itself (see the module docstring).
        Messages already waiting are delivered from now on.
        """
        state = self._queue(queue)
        if state.handler is not None:
            raise ValueError(f"queue {queue!r} already has a handler")
        state.handler = handler
        state.auto_complete = auto_complete
        for lane in list(state.lanes):
            self._wake(state, lane)

    # --- producers ----------------------------------------------------------------------------

    async def send(self, messages: Sequence[OutgoingMessage], *, queue: str) -> None:
        """Enqueue messages in order; a MessageId seen within the duplicate window is dropped."""
        if self._closed:
            raise QueueError("the in-process queue is closed", queue=queue)
        state = self._queue(queue)
        if state.requires_session:
            missing = [m.message_id for m in messages if m.session_id is None]
            if missing:
                error = QueueError(
                    f"queue {queue!r} requires a session id; message(s) {', '.join(missing)} have none",
                    queue=queue,
                )
                error.retryable = False  # a caller's bug: resending the same message cannot help
                raise error
        now = self.clock()
        self._forget_old_ids(state, now)
        for message in messages:
            if self.duplicate_detection:
                if message.message_id in state.seen_ids:
                    state.stats.duplicates_dropped += 1
                    log.debug("queue %s dropped duplicate message %s", queue, message.message_id)
                    continue
                state.seen_ids.add(message.message_id)
                state.seen_order.append((now, message.message_id))
            envelope = _Envelope(message, next(self._sequence), now)
            lane = message.session_id if message.session_id is not None else f"\0{envelope.sequence_number}"
            state.lanes.setdefault(lane, deque()).append(envelope)
            state.stats.sent += 1
            self._wake(state, lane)
        self._signal()

    # --- observation --------------------------------------------------------------------------

    def stats(self, queue: str | None = None) -> QueueStats:
        """A snapshot of one queue's counters, or of all queues summed."""
        if queue is not None:
            return replace(self._queue(queue).stats)
        return sum((replace(q.stats) for q in self._queues.values()), QueueStats())

    def pending(self, queue: str) -> int:
        """Messages waiting in ``queue``, not counting the ones handlers hold right now."""
        return self._queue(queue).pending()

    def dead_letters(self, queue: str) -> list[DeadLetter]:
        """The dead-letter sub-queue of ``queue``, oldest first."""
        return list(self._queue(queue).dead)

    def take_dead_letters(self, queue: str, sequence_numbers: Collection[int]) -> list[DeadLetter]:
        """Remove and return these dead letters of ``queue`` (unknown numbers are ignored)."""
        state = self._queue(queue)
        wanted = set(sequence_numbers)
        taken = [d for d in state.dead if d.sequence_number in wanted]
        state.dead = [d for d in state.dead if d.sequence_number not in wanted]
        return taken

    async def drain(self, *, timeout: float = 10.0, queues: Collection[str] | None = None) -> None:  # noqa: ASYNC109 - the error names what is pending
        """Wait until the queues (all by default) hold no message and no handler is running.

        Raises QueueError at once for a queue that holds messages but has no handler, and
        after ``timeout`` seconds naming what is still pending or in flight.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            names = list(self._queues) if queues is None else list(queues)  # handlers may open new queues
            busy = []
            for name in names:
                state = self._queue(name)
                if state.handler is None and state.pending():
                    raise QueueError(
                        f"queue {name!r} holds {state.pending()} message(s) but has no handler; "
                        "subscribe one or drain other queues",
                        queue=name,
                    )
                if state.pending() or state.active:
                    busy.append(f"{name}: {state.pending()} waiting, {len(state.active)} session(s) in flight")
            if not busy:
                return
            if loop.time() >= deadline:
                raise QueueError(f"queues did not drain within {timeout} s ({'; '.join(busy)})", busy=busy)
            # Wait for a lane to finish (or a message to arrive) instead of polling: the worker's CPU
            # figures in bench/ would otherwise hold this loop's wake-ups.
            if self._changed is None:
                self._changed = asyncio.Event()
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=max(0.0, deadline - loop.time()))

    async def close(self) -> None:
        """Stop delivering: cancel running handlers and refuse further sends."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- delivery -----------------------------------------------------------------------------

    def _queue(self, name: str) -> _Queue:
        state = self._queues.get(name)
        if state is None:
            state = self._queues[name] = _Queue(name, requires_session=name in self.session_queues)
        return state

    def _forget_old_ids(self, state: _Queue, now: dt.datetime) -> None:
        horizon = now - self.duplicate_window
        while state.seen_order and state.seen_order[0][0] <= horizon:
            _, message_id = state.seen_order.popleft()
            state.seen_ids.discard(message_id)

    def _wake(self, state: _Queue, lane: str) -> None:
        if state.handler is None or lane in state.active or self._closed:
            return
        state.active.add(lane)
        task = asyncio.get_running_loop().create_task(self._run_lane(state, lane), name=f"{state.name}/{lane}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_lane(self, state: _Queue, lane: str) -> None:
        """Deliver one session's messages one at a time until it is empty (holding a session slot)."""
        if state.semaphore is None:
            state.semaphore = asyncio.Semaphore(self.max_concurrent_sessions)
        try:
            async with state.semaphore:
                messages = state.lanes[lane]
                while messages:
                    await self._deliver(state, messages)
        finally:
            # Sends to an active lane only append; this loop saw it empty, so nothing is stranded.
            state.active.discard(lane)
            if not state.lanes.get(lane):
                state.lanes.pop(lane, None)
            self._signal()

    def _signal(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def _deliver(self, state: _Queue, messages: deque[_Envelope]) -> None:
        """Deliver the session's first message; it is locked (out of the lane) while the handler runs."""
        envelope = messages.popleft()
        envelope.delivery_count += 1
        state.stats.delivered += 1
        assert state.handler is not None
        actions: InProcessMessageActions | None = None
        settled: Settled | None = None
        envelope.last_error = None
        try:
            if state.auto_complete:
                result = state.handler(self._functions_message(envelope))
            else:
                lock_token = uuid.uuid4()
                actions = InProcessMessageActions(lock_token)
                message = received_message(envelope.message, lock_token=lock_token,
                                           delivery_count=envelope.delivery_count - 1,
                                           sequence_number=envelope.sequence_number,
                                           enqueued_time_utc=envelope.enqueued_time_utc)  # fmt: skip
                result = state.handler(message, actions)  # type: ignore[call-arg]
            if inspect.isawaitable(result):
                await result
            settled = actions.settled if actions is not None else Settled("complete")
        except Exception as exc:
            envelope.last_error = _describe(exc)
            log.warning(
                "queue %s: handler failed on message %s (session %s, delivery %d): %s",
                state.name,
                envelope.message.message_id,
                envelope.message.session_id,
                envelope.delivery_count,
                type(exc).__name__,
            )
        except BaseException:
            messages.appendleft(envelope)  # cancelled: the lock is lost, the message stays
            raise
        if settled is not None and settled.action == "complete":
            state.stats.completed += 1
            return
        if settled is not None and settled.action == "deadletter":
            self._dead_letter(state, envelope, reason=settled.reason, description=settled.description)
            return
        # abandoned: explicitly, by raising, or left unsettled (its lock expires)
        if envelope.last_error is None:
            envelope.last_error = "abandoned by the handler" if settled else "left unsettled; its lock expired"
        state.stats.abandoned += 1
        if envelope.delivery_count >= self.max_delivery_count:
            self._dead_letter(state, envelope)
            return
        # Abandoned: back at the head of its session, so later messages still wait for it.
        if self.retry_backoff_seconds > 0:
            delay = self.retry_backoff_seconds * 2 ** (envelope.delivery_count - 1)
            await asyncio.sleep(min(delay, self.max_retry_backoff_seconds))
        messages.appendleft(envelope)

    def _dead_letter(self, state: _Queue, envelope: _Envelope, *, reason: str | None = MAX_DELIVERY_COUNT_EXCEEDED,
                     description: str | None = None) -> None:  # fmt: skip
        """Move to the dead-letter sub-queue: by the handler (its reason), or after max deliveries."""
        state.stats.dead_lettered += 1
        message = envelope.message
        description = description if reason != MAX_DELIVERY_COUNT_EXCEEDED else envelope.last_error
        state.dead.append(
            DeadLetter(
                queue=state.name,
                message_id=message.message_id,
                session_id=message.session_id,
                sequence_number=envelope.sequence_number,
                delivery_count=envelope.delivery_count,
                reason=reason,
                description=description,
                enqueued_time_utc=envelope.enqueued_time_utc,
                body=message.body,
                content_type=message.content_type,
                application_properties=dict(message.application_properties),
            )
        )
        log.error(
            "queue %s: message %s (session %s) dead-lettered after %d deliveries: %s: %s",
            state.name,
            message.message_id,
            message.session_id,
            envelope.delivery_count,
            reason,
            description,
        )

    def _functions_message(self, envelope: _Envelope) -> FunctionsServiceBusMessage:
        """The message as the Functions Python worker would hand it to the function."""
        message = envelope.message
        now = self.clock()
        enqueued = envelope.enqueued_time_utc.isoformat()
        lock_token = str(uuid.uuid4())
        metadata = {
            "MessageId": meta.Datum(message.message_id, "string"),
            "DeliveryCount": meta.Datum(envelope.delivery_count, "int"),
            "SequenceNumber": meta.Datum(envelope.sequence_number, "int"),
            "EnqueuedTimeUtc": meta.Datum(enqueued, "string"),
            "ContentType": meta.Datum(message.content_type, "string"),
            "LockToken": meta.Datum(lock_token, "string"),
            "ApplicationProperties": meta.Datum(json.dumps(message.application_properties), "json"),
            "UserProperties": meta.Datum(json.dumps(message.application_properties), "json"),
        }
        if message.session_id is not None:
            metadata["SessionId"] = meta.Datum(message.session_id, "string")
        return FunctionsServiceBusMessage(
            body=message.body.encode("utf-8"),
            trigger_metadata=metadata,
            application_properties=dict(message.application_properties),
            user_properties=dict(message.application_properties),
            content_type=message.content_type,
            delivery_count=envelope.delivery_count,
            enqueued_sequence_number=envelope.sequence_number,
            enqueued_time_utc=envelope.enqueued_time_utc,
            locked_until=now + dt.timedelta(minutes=1),
            lock_token=lock_token,
            message_id=message.message_id,
            sequence_number=envelope.sequence_number,
            session_id=message.session_id,
        )


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_DESCRIPTION else text[: MAX_ERROR_DESCRIPTION - 1] + "…"


class InProcessDeadLetters:
    """DeadLetterQueue over an InProcessQueue; replayed messages are delivered like new ones."""

    def __init__(self, queue: InProcessQueue) -> None:
        self._queue = queue

    async def list(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        return self._queue.dead_letters(queue)[:limit]

    async def replay(
        self, queue: str, *, message_ids: Collection[str] | None = None, limit: int = 100
    ) -> list[OutgoingMessage]:
        wanted = None if message_ids is None else set(message_ids)
        chosen = [d for d in self._queue.dead_letters(queue) if wanted is None or d.message_id in wanted][:limit]
        now = self._queue.clock()
        messages = [replay_message(letter, now=now) for letter in chosen]
        await self._queue.send(messages, queue=queue)
        self._queue.take_dead_letters(queue, [letter.sequence_number for letter in chosen])
        log.info("replayed %d dead letter(s) of queue %s", len(messages), queue)
        return messages
