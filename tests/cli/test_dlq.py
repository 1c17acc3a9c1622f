"""`calsync dlq list|replay` over the in-process queue (Service Bus cannot run here).

Dead letters are made the real way: a handler that fails until MAX_DELIVERY_COUNT, on
an InProcessQueue. The command gets InProcessDeadLetters through CliState (the same
seam that gives it ServiceBusDeadLetters in a deployment); replayed hints are then
delivered to the handler again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from azure.functions import ServiceBusMessage
from azure.servicebus.exceptions import ServiceBusConnectionError

from calsync.errors import QueueError
from calsync.model.booking import Side
from calsync.model.hint import ChangeHint, ChangeKind, HintReason
from calsync.operations.dlq import list_dead_letters, replay_dead_letters
from devstack.inprocess_queue import InProcessDeadLetters, InProcessQueue
from tests.cli.helpers import dead_letter_state, invoke

OBSERVED = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def hint(room: str, item_id: str) -> ChangeHint:
    return ChangeHint(source=Side.OUTLOOK, room=room, item_id=item_id, change_kind=ChangeKind.UPDATED,
                      observed_at=OBSERVED, version="v1")  # fmt: skip


@dataclass
class Consumer:
    """The changes queue's handler: fails while ``broken``, records what it processed."""

    broken: bool = True
    processed: list[ChangeHint] = field(default_factory=list)

    async def __call__(self, message: ServiceBusMessage) -> None:
        if self.broken:
            raise RuntimeError("Graph said no")
        self.processed.append(ChangeHint.from_json(message.get_body().decode()))


@dataclass
class DeadLetters:
    queue: InProcessQueue
    consumer: Consumer
    hints: list[ChangeHint]


@pytest.fixture
async def dead(cli_env) -> AsyncIterator[DeadLetters]:
    """Three hints of two rooms dead-lettered on "changes", and one reconcile job on "reconcile"."""
    queue = InProcessQueue(max_delivery_count=2, session_queues={"changes"})
    consumer = Consumer()
    queue.subscribe("changes", consumer)
    queue.subscribe("reconcile", consumer)
    hints = [hint("room-a", "AAMk/one+="), hint("room-a", "AAMk/two"), hint("room-b", "AAMk/three")]
    await queue.publish(hints, queue="changes")
    await queue.publish_job('{"room": "room-b"}', queue="reconcile", message_id="reconcile-room-b", kind="reconcile")
    await queue.drain()
    assert len(queue.dead_letters("changes")) == 3
    consumer.broken = False
    try:
        yield DeadLetters(queue, consumer, hints)
    finally:
        await queue.close()


async def test_dlq_list_shows_each_dead_letter_with_its_reason(dead: DeadLetters) -> None:
    state = dead_letter_state(InProcessDeadLetters(dead.queue))
    result = await invoke("dlq", "list", obj=state)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for h in dead.hints:
        assert h.message_id in out and f"outlook updated {h.item_id}" in out
    assert out.count("MaxDeliveryCountExceeded") == 3 and "RuntimeError: Graph said no" in out
    assert "3 dead letter(s) in queue changes." in out

    limited = await invoke("dlq", "list", "--limit", "2", obj=state)
    assert "2 dead letter(s) in queue changes (the limit: there may be more)." in limited.stdout

    jobs = await invoke("dlq", "list", "--queue", "reconcile", obj=state)
    assert "reconcile-room-b" in jobs.stdout and "reconcile" in jobs.stdout


async def test_dlq_replay_by_id_sends_the_hint_again_as_a_replay(dead: DeadLetters) -> None:
    first = dead.hints[0]
    result = await invoke(
        "dlq", "replay", "--id", first.message_id, obj=dead_letter_state(InProcessDeadLetters(dead.queue))
    )
    assert result.exit_code == 0, result.output
    assert first.message_id in result.stdout and "1 dead letter(s) replayed." in result.stdout
    await dead.queue.drain()
    [processed] = dead.consumer.processed
    assert processed.item_id == first.item_id and processed.reason is HintReason.REPLAY
    assert [d.message_id for d in dead.queue.dead_letters("changes")] == [h.message_id for h in dead.hints[1:]]


async def test_dlq_replay_all_respects_the_limit_and_says_more_remain(dead: DeadLetters) -> None:
    state = dead_letter_state(InProcessDeadLetters(dead.queue))
    result = await invoke("dlq", "replay", "--all", "--limit", "2", obj=state)
    assert result.exit_code == 0, result.output
    assert "2 dead letter(s) replayed (the limit: more may remain, run it again)." in result.stdout
    rest = await invoke("dlq", "replay", "--all", obj=state)
    assert "1 dead letter(s) replayed." in rest.stdout
    await dead.queue.drain()
    assert sorted(h.item_id for h in dead.consumer.processed) == sorted(h.item_id for h in dead.hints)
    assert dead.queue.dead_letters("changes") == []
    nothing = await invoke("dlq", "replay", "--all", obj=state)
    assert nothing.exit_code == 0 and "Nothing replayed to queue changes." in nothing.stdout
    assert "No dead letters in queue changes." in (await invoke("dlq", "list", obj=state)).stdout


async def test_dlq_list_and_replay_one_room(dead: DeadLetters) -> None:
    state = dead_letter_state(InProcessDeadLetters(dead.queue))
    listed = await invoke("dlq", "list", "--room", "room-a", obj=state)
    assert "2 dead letter(s) of room room-a in queue changes." in listed.stdout
    assert dead.hints[2].message_id not in listed.stdout
    result = await invoke("dlq", "replay", "--room", "room-a", obj=state)
    assert result.exit_code == 0, result.output
    assert "2 dead letter(s) replayed." in result.stdout
    await dead.queue.drain()
    assert sorted(h.item_id for h in dead.consumer.processed) == sorted(h.item_id for h in dead.hints[:2])
    assert [d.session_id for d in dead.queue.dead_letters("changes")] == ["room-b"]
    none_left = await invoke("dlq", "list", "-r", "room-a", obj=state)
    assert "No dead letters of room room-a in queue changes." in none_left.stdout


async def test_dlq_replay_reports_ids_that_are_not_dead_letters(dead: DeadLetters) -> None:
    present = dead.hints[2].message_id
    state = dead_letter_state(InProcessDeadLetters(dead.queue))
    result = await invoke("dlq", "replay", "--id", "no-such-id", "--id", present, obj=state)
    assert result.exit_code == 1
    assert "1 dead letter(s) replayed." in result.stdout
    assert result.stderr.strip() == "error: not dead letters of queue changes: no-such-id"
    assert len(dead.queue.dead_letters("changes")) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay"], "error: say which dead letters to replay: --id MESSAGE_ID (repeatable), --room ROOM or --all"),
        (["replay", "--all", "--id", "x"], "error: say which dead letters to replay"),
        (["replay", "--room", "room-a", "--all"], "error: say which dead letters to replay"),
        (["list", "--queue", "chnages"], "error: unknown queue 'chnages'; calsync's queues are changes, reconcile"),
        (["replay", "--all", "-q", "nope"], "error: unknown queue 'nope'"),
    ],
)
async def test_dlq_usage_errors_are_one_line_and_exit_2(dead: DeadLetters, args: list[str], message: str) -> None:
    result = await invoke("dlq", *args, obj=dead_letter_state(InProcessDeadLetters(dead.queue)))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(message)
    assert len(dead.queue.dead_letters("changes")) == 3  # nothing touched


async def test_dlq_without_a_service_bus_namespace_names_the_setting(cli_env) -> None:
    result = await invoke("dlq", "list")  # the default backend: Service Bus
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: ServiceBusConnection__fullyQualifiedNamespace is not set; it names the Service Bus namespace"
    )


class RefusingBroker:
    """Service Bus cannot run here: a DeadLetterQueue that fails as azure-servicebus does when unreachable."""

    async def list(self, queue: str, *, limit: int = 100) -> list:
        raise ServiceBusConnectionError(message="Failed to initiate the connection: Connection refused")

    async def replay(self, queue: str, *, message_ids=None, limit: int = 100) -> list:
        raise ServiceBusConnectionError(message="Failed to initiate the connection: Connection refused")


async def test_broker_failures_become_queue_errors_that_say_what_was_done() -> None:
    with pytest.raises(
        QueueError, match=r"while listing the dead letters of queue 'changes': ServiceBusConnectionError"
    ):
        await list_dead_letters(RefusingBroker(), "changes", limit=10)
    with pytest.raises(QueueError, match="while replaying the dead letters"):
        await replay_dead_letters(RefusingBroker(), "changes", replay_all=True)


async def test_broker_failure_in_the_command_is_one_line_and_exit_1(cli_env) -> None:
    result = await invoke("dlq", "list", obj=dead_letter_state(RefusingBroker()))
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: Service Bus failed while listing the dead letters of queue 'changes'")
