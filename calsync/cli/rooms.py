"""`calsync rooms ...`: propose ROOMS from both sides, list room holds, release a held room."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from calsync.cli import organizer
from calsync.cli.common import load, run, stdout, when
from calsync.operations.rooms import RoomProposal, confirm_hold, discard_hold, fetch_proposal, list_holds
from calsync.store.records import RoomHold

app = typer.Typer(name="rooms", help="The synchronised rooms: propose ROOMS, see and release room holds.",
                  no_args_is_help=True)  # fmt: skip


@app.command("propose")
def propose(
    ctx: typer.Context,
    json_only: Annotated[bool, typer.Option("--json", help="Print only the ROOMS JSON (for scripts).")] = False,
) -> None:
    """Match Graph's room mailboxes with the booking system's rooms by e-mail and print ROOMS."""
    settings = load(ctx)
    proposal = run(fetch_proposal(settings))
    if json_only:
        typer.echo(proposal.rooms_json())
        return
    render_proposal(proposal)


def render_proposal(proposal: RoomProposal) -> None:
    console = stdout()
    if proposal.matches:
        table = Table(title="Matched by e-mail", title_justify="left")
        for column in ("key", "mailbox", "Graph name", "booking room id", "booking name"):
            table.add_column(column)
        for match in proposal.matches:
            key = Text(match.key) + (Text(" (configured)", style="dim") if match.configured else Text(""))
            table.add_row(key, match.mailbox, match.display_name or "—", match.booking_room_id, match.booking_name)
        console.print(table)
    else:
        console.print("No room matched: no e-mail address appears on both sides.", style="yellow")
    if proposal.unmatched:
        table = Table(title="Unmatched", title_justify="left")
        for column in ("side", "e-mail", "name", "booking room id", "why"):
            table.add_column(column)
        for room in proposal.unmatched:
            table.add_row(room.side, room.email or "—", room.name or "—", room.booking_room_id or "—",
                          Text(room.why, style="yellow"))  # fmt: skip
        console.print(table)
    console.print("ROOMS (paste into the app setting; keys name the rooms' partitions, keep them once used):")
    typer.echo(proposal.rooms_json())  # plain: rich would wrap the line


@app.command("holds")
def holds(ctx: typer.Context) -> None:
    """List the rooms the mass-deletion guard stopped (and holds already confirmed)."""
    settings = load(ctx)
    found = run(list_holds(settings))
    if not found:
        stdout().print("No room holds: every room syncs.", style="green")
        return
    stdout().print(render_holds(found))


def render_holds(found: list[RoomHold]) -> Table:
    table = Table(title="Room holds", title_justify="left")
    for column in ("room", "state", "side", "gone / mapped", "since", "reason"):
        table.add_column(column)
    for hold in found:
        state = Text("confirmed (guard off)", style="yellow") if hold.confirmed else Text("stopped", style="bold red")
        table.add_row(
            hold.room, state, hold.side.value, f"{hold.missing} / {hold.mapped}", when(hold.since), hold.reason
        )
    return table


@app.command("release")
def release(
    ctx: typer.Context,
    room: Annotated[str, typer.Argument(help="The room key (as in ROOMS).")],
    discard: Annotated[
        bool,
        typer.Option(
            "--discard",
            help="Remove the hold without confirming deletions (the wipe was undone), or re-arm the guard "
            "after confirmed deletions went through.",
        ),
    ] = False,
) -> None:
    """Let a room stopped by the mass-deletion guard sync again: confirm its deletions (or --discard the hold)."""
    settings = load(ctx)
    console = stdout()
    if discard:
        answer = run(discard_hold(settings, room))
        if answer.hold.confirmed:
            console.print(f"Confirmed hold on room {room} removed: the mass-deletion guard watches the room again.",
                          style="green", markup=False)  # fmt: skip
            return
        console.print(f"Hold on room {room} discarded: no deletion was confirmed and the guard watches the room "
                      "again.", style="green", markup=False)  # fmt: skip
    else:
        answer = run(confirm_hold(settings, room))
        hold = answer.hold
        if answer.changed:
            console.print(f"Room {room} released: the {hold.missing} deletion(s) from {hold.side.value} go through on "
                          "the next sync.", style="green", markup=False)  # fmt: skip
        else:
            console.print(f"Room {room} was already released (deletions confirmed).", markup=False)
        console.print(f"The guard is off for room {room} for {answer.guard_off_for.total_seconds() / 3600:.0f} h, then "
                      f"re-arms by itself; re-arm it sooner with `calsync rooms release {room} --discard`.",
                      markup=False)  # fmt: skip
    console.print(f"Hints that failed while the room was held are dead letters: replay them with "
                  f"`calsync dlq replay --room {room}`.", markup=False)  # fmt: skip


# issue #14: organiser mode and the rooms' calendar-processing settings (calsync.cli.organizer)
app.command("check")(organizer.check)
app.command("migrate-organizer")(organizer.migrate)
