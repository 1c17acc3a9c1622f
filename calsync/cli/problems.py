"""`calsync problems [ROOM]`: items that cannot sync until someone changes them (calsync.store.problems).

Each row: room, the side the item came from and its id, the error and its (redacted)
message, when it was first and last seen, how many hints failed, whether the organiser
was told, and the dead-lettered hint's MessageId (`calsync dlq replay --id` it once the
cause is fixed). A problem disappears by itself when the item next syncs.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from calsync.cli.common import load, run, stdout, when
from calsync.settings import Settings
from calsync.store.problems import ProblemStore, SyncProblem
from calsync.wiring import open_tables


async def _list(settings: Settings, room: str | None) -> list[SyncProblem]:
    async with open_tables(settings) as tables:
        return await ProblemStore(tables).list(room)


def problems(ctx: typer.Context,
             room: Annotated[str | None, typer.Argument(help="Only this room's problems.")] = None) -> None:  # fmt: skip
    """Items that cannot sync (validation, unsupported recurrence, permissions), newest first."""
    settings = load(ctx)
    found = run(_list(settings, room))
    of_room = f" in room {room}" if room else ""
    if not found:
        stdout().print(f"No sync problems{of_room}.", style="green", markup=False)
        return
    stdout().print(render(found))
    stdout().print(f"{len(found)} sync problem(s){of_room}.", markup=False)


def render(found: list[SyncProblem]) -> Table:
    table = Table(title="Sync problems", title_justify="left")
    table.add_column("room")
    table.add_column("item", overflow="fold")
    table.add_column("error")
    table.add_column("first seen")
    table.add_column("last seen")
    table.add_column("count", justify="right")
    table.add_column("organiser told")
    table.add_column("dead letter", overflow="fold")
    for problem in found:
        error = Text(problem.error_type, style="red")
        error.append(f"\n{problem.message}", style="")
        table.add_row(problem.room, f"{problem.side.value} {problem.item_id}", error, when(problem.first_seen),
                      when(problem.last_seen), str(problem.count), "yes" if problem.organiser_told else "no",
                      problem.message_id or "—")  # fmt: skip
    return table
