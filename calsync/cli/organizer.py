"""`calsync rooms check` and `calsync rooms migrate-organizer` (registered on the rooms app in cli/rooms.py)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from calsync.cli.common import load, run, stdout
from calsync.operations.organizer import check_rooms, migrate_room


def check(
    ctx: typer.Context,
    rooms: Annotated[list[str] | None, typer.Argument(help="Room keys (default: every room in ROOMS).")] = None,
) -> None:
    """Report per room its organiser mode and what its calendar shows of its calendar-processing settings."""
    settings = load(ctx)
    table = Table(title="Rooms", title_justify="left")
    for column in ("room", "mode", "service mailbox", "observed"):
        table.add_column(column)
    for found in run(check_rooms(settings, rooms or [])):
        table.add_row(found.room, found.mode, found.service_mailbox or "—", "\n".join(found.findings))
    stdout().print(table)


def migrate(
    ctx: typer.Context,
    room: Annotated[str, typer.Argument(help="The room key (as in ROOMS), already set to service-mailbox mode.")],
    apply: Annotated[bool, typer.Option("--apply", help="Write (without it: a dry run listing what would move).")] = False,
) -> None:
    """Move a room's existing booking copies from room-organised events to service-mailbox meetings."""
    settings = load(ctx)
    steps = run(migrate_room(settings, room, apply=apply))
    table = Table(title=("Migrated" if apply else "Dry run: would migrate") + f" ({len(steps)})", title_justify="left")
    for column in ("booking", "room event", "outcome"):
        table.add_column(column)
    for step in steps:
        table.add_row(step.booking_id, step.room_event_id or "—", step.outcome)
    stdout().print(table)
    if not apply and steps:
        stdout().print(f"Run again with --apply to migrate: calsync rooms migrate-organizer {room} --apply")
