"""`calsync dlq list|replay`: dead letters of calsync's queues (Service Bus by default).

The commands build the DeadLetterQueue with ``CliState.dead_letters(settings)`` (Service
Bus in a deployment; tests hand in an InProcessDeadLetters), then call
calsync.operations.dlq and render the result.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from calsync.cli.common import ExitCode, fail, load, operator_errors, run, state, stdout, when
from calsync.operations.dlq import (
    ReplayOutcome,
    check_selection,
    list_dead_letters,
    replay_dead_letters,
    resolve_queue,
)
from calsync.queues.dead_letters import DeadLetter, DeadLetterQueue
from calsync.queues.publisher import OutgoingMessage

DeadLetterBackendContext = AbstractAsyncContextManager[DeadLetterQueue]

app = typer.Typer(name="dlq", help="Dead letters: hints (and jobs) that kept failing, with the reason.",
                  no_args_is_help=True)  # fmt: skip

QueueOption = Annotated[
    str | None, typer.Option("--queue", "-q", help="The queue: changes (default) or reconcile, as configured.")
]
RoomOption = Annotated[str | None, typer.Option("--room", "-r", help="Only this room's dead letters.")]
LimitOption = Annotated[
    int, typer.Option("--limit", "-n", min=1, max=5000, help="At most this many (replay: with --all).")
]


@app.command("list")
def list_(ctx: typer.Context, queue: QueueOption = None, room: RoomOption = None, limit: LimitOption = 100) -> None:
    """Show the dead letters of a queue (oldest first) without touching them."""
    settings = load(ctx)
    with operator_errors():
        name = resolve_queue(settings, queue)
    letters = run(_list(state(ctx).dead_letters(settings), name, limit, room))
    of_room = f" of room {room}" if room else ""
    if not letters:
        stdout().print(f"No dead letters{of_room} in queue {name}.", style="green", markup=False)
        return
    stdout().print(render_letters(letters))
    more = " (the limit: there may be more)" if len(letters) >= limit else ""
    stdout().print(f"{len(letters)} dead letter(s){of_room} in queue {name}{more}.", markup=False)


@app.command("replay")
def replay(
    ctx: typer.Context,
    queue: QueueOption = None,
    message_ids: Annotated[
        list[str] | None, typer.Option("--id", help="MessageId of a dead letter to replay (repeatable).")
    ] = None,
    room: RoomOption = None,
    replay_all: Annotated[bool, typer.Option("--all", help="Replay every dead letter (up to --limit).")] = False,
    limit: LimitOption = 100,
) -> None:
    """Put dead letters back on their queue as new messages (a hint is re-read, so replays are safe).

    Choose them with --id (repeatable), --room or --all.
    """
    settings = load(ctx)
    ids = message_ids or []
    with operator_errors():  # before connecting: a usage error costs no broker round trip
        name = resolve_queue(settings, queue)
        check_selection(ids, room, replay_all)
    backend = state(ctx).dead_letters(settings)
    outcome = run(_replay(backend, name, message_ids=ids, room=room, replay_all=replay_all, limit=limit))
    render_replay(outcome, name)
    if outcome.missing:
        fail(f"not dead letters of queue {name}: {', '.join(outcome.missing)}", ExitCode.FAILED)


async def _list(backend: DeadLetterBackendContext, queue: str, limit: int, room: str | None) -> list[DeadLetter]:
    async with backend as dlq:
        return await list_dead_letters(dlq, queue, limit=limit, room=room)


async def _replay(backend: DeadLetterBackendContext, queue: str, **selection: Any) -> ReplayOutcome:
    async with backend as dlq:
        return await replay_dead_letters(dlq, queue, **selection)


def _what(letter: DeadLetter) -> str:
    hint = letter.hint()
    if hint is not None:
        return f"{hint.source.value} {hint.change_kind.value} {hint.item_id}"
    return letter.application_properties.get("kind", "message")


def render_letters(letters: list[DeadLetter]) -> Table:
    table = Table(title="Dead letters", title_justify="left")
    table.add_column("MessageId", overflow="fold")
    table.add_column("room")
    table.add_column("what", overflow="fold")
    table.add_column("deliveries", justify="right")
    table.add_column("reason")
    table.add_column("enqueued")
    for letter in letters:
        reason = Text(letter.reason or "—", style="red")
        if letter.description:
            reason.append(f"\n{letter.description}", style="")
        table.add_row(letter.message_id, letter.session_id or "—", _what(letter), str(letter.delivery_count), reason,
                      when(letter.enqueued_time_utc))  # fmt: skip
    return table


def render_replay(outcome: ReplayOutcome, queue: str) -> None:
    console = stdout()
    if not outcome.sent:
        console.print(f"Nothing replayed to queue {queue}.", style="yellow", markup=False)
        return
    table = Table(title=f"Replayed to queue {queue}", title_justify="left")
    table.add_column("dead letter", overflow="fold")
    table.add_column("new MessageId", overflow="fold")
    table.add_column("room")
    for message in outcome.sent:
        table.add_row(_replay_of(message), message.message_id, message.session_id or "—")
    console.print(table)
    more = " (the limit: more may remain, run it again)" if outcome.limit_reached else ""
    console.print(f"{len(outcome.sent)} dead letter(s) replayed{more}.", style="green", markup=False)


def _replay_of(message: OutgoingMessage) -> str:
    return message.application_properties.get("replay_of", "—")
