"""`calsync rooms ...`: the rooms registry (import, propose, list, show, set, remove, pause, resume), room holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from calsync.cli import organizer
from calsync.cli.common import load, run, stdout, when
from calsync.operations.room_registry import (
    ImportResult,
    apply_proposal,
    import_rooms,
    list_rooms,
    pause_room,
    remove_room,
    resume_room,
    set_room,
    show_room,
)
from calsync.operations.rooms import RoomProposal, confirm_hold, discard_hold, fetch_proposal, list_holds
from calsync.rooms.state import RoomState
from calsync.store.records import RoomHold
from calsync.store.rooms import RoomRecord

STATE_STYLES = {RoomState.PENDING: "yellow", RoomState.ONBOARDING: "cyan", RoomState.LIVE: "green",
                RoomState.PAUSED: "red"}  # fmt: skip

app = typer.Typer(name="rooms", help="The rooms registry (import, propose, list, show, set, remove, pause, resume) "
                  "and room holds.",
                  no_args_is_help=True)  # fmt: skip


@app.command("propose")
def propose(
    ctx: typer.Context,
    json_only: Annotated[bool, typer.Option("--json", help="Print only the ROOMS JSON (for scripts).")] = False,
    apply: Annotated[bool, typer.Option("--apply", help="Register the matched rooms in the registry (pending).")] = False,
) -> None:
    """Match Graph's room mailboxes with the booking system's rooms by e-mail; print ROOMS or --apply to the registry."""
    settings = load(ctx)
    proposal = run(fetch_proposal(settings))
    if apply:
        render_proposal(proposal, print_json=False)
        _imported("Proposal applied", run(apply_proposal(settings, proposal.rooms())))
        return
    if json_only:
        typer.echo(proposal.rooms_json())
        return
    render_proposal(proposal)


def render_proposal(proposal: RoomProposal, *, print_json: bool = True) -> None:
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
    if not print_json:
        return
    console.print("ROOMS (paste into the app setting, or run with --apply to register them; keys name the rooms' "
                  "partitions, keep them once used):")  # fmt: skip
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


# --- the rooms registry ----------------------------------------------------------------------------


def render_rooms(records: list[RoomRecord]) -> Table:
    table = Table(title="Rooms", title_justify="left")
    for column in ("key", "state", "mailbox", "booking room", "name", "from", "note"):
        table.add_column(column)
    for record in records:
        table.add_row(record.key, Text(record.state.value, style=STATE_STYLES[record.state]), record.mailbox,
                      record.booking_room_id, record.name or "—", record.origin, record.note or "")  # fmt: skip
    return table


def _imported(what: str, result: ImportResult) -> None:
    stdout().print(f"{what}: {len(result.added)} room(s) added as pending, {len(result.updated)} updated, "
                   f"{len(result.unchanged)} unchanged.", markup=False)  # fmt: skip
    if result.added:
        stdout().print("Pending rooms are subscribed and observed; nothing is written until "
                       "`calsync onboard ROOM --dry-run`, then `--apply`.", markup=False)  # fmt: skip


@app.command("import")
def import_command(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV with the header key,mailbox,booking_room_id,name.", exists=True,
                                         dir_okay=False, readable=True)],
) -> None:
    """Register the rooms of a CSV file in the rooms registry (new rooms are pending)."""
    settings = load(ctx)
    _imported(f"Imported {path.name}", run(import_rooms(settings, path.read_text(encoding="utf-8"))))


@app.command("list")
def list_command(ctx: typer.Context) -> None:
    """Every room calsync knows (registry and ROOMS seed) and its state."""
    settings = load(ctx)
    records = run(list_rooms(settings))
    if not records:
        stdout().print("No rooms: `calsync rooms import rooms.csv` or `calsync rooms propose --apply`.",
                       style="yellow")  # fmt: skip
        return
    stdout().print(render_rooms(records))


@app.command("show")
def show_command(ctx: typer.Context, room: Annotated[str, typer.Argument(help="The room key.")]) -> None:
    """One room's registry entry."""
    settings = load(ctx)
    stdout().print(render_rooms([run(show_room(settings, room))]))


@app.command("set")
def set_command(
    ctx: typer.Context,
    room: Annotated[str, typer.Argument(help="The room key (new or known).")],
    mailbox: Annotated[str | None, typer.Option(help="The room mailbox's e-mail address.")] = None,
    booking_room: Annotated[str | None, typer.Option("--booking-room", help="The booking system's room id.")] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    room_state: Annotated[RoomState | None, typer.Option("--state", help="Force a state (operators only).")] = None,
) -> None:
    """Register a room (with --mailbox and --booking-room) or change a known one."""
    settings = load(ctx)
    record = run(set_room(settings, room, mailbox=mailbox, booking_room_id=booking_room, name=name, state=room_state))
    stdout().print(render_rooms([record]))


@app.command("remove")
def remove_command(ctx: typer.Context, room: Annotated[str, typer.Argument(help="The room key.")]) -> None:
    """Forget a room (its mappings stay in the table; its subscription is deleted by the next maintenance run)."""
    settings = load(ctx)
    record = run(remove_room(settings, room))
    stdout().print(f"Room {record.key} removed from the registry.", markup=False)


@app.command("pause")
def pause_command(
    ctx: typer.Context,
    room: Annotated[str, typer.Argument(help="The room key.")],
    note: Annotated[str, typer.Option(help="Why (shown in `calsync rooms list` and `status`).")] = "",
) -> None:
    """Stop syncing a room: subscription kept, nothing written or reconciled until `resume`."""
    settings = load(ctx)
    record = run(pause_room(settings, room, note))
    stdout().print(f"Room {record.key} paused.", markup=False)


@app.command("resume")
def resume_command(ctx: typer.Context, room: Annotated[str, typer.Argument(help="The room key.")]) -> None:
    """Sync a paused room again (a room paused before onboarding goes back to pending)."""
    settings = load(ctx)
    record = run(resume_room(settings, room))
    stdout().print(f"Room {record.key} is {record.state.value} again; the next reconcile catches up what changed.",
                   markup=False)  # fmt: skip


# issue #14: organiser mode and the rooms' calendar-processing settings (calsync.cli.organizer)
app.command("check")(organizer.check)
app.command("migrate-organizer")(organizer.migrate)
