"""`make run` / `calsync demo`: the whole pipeline on this machine, a scripted scenario, and the proof.

Starts the local stack (Azurite, the Graph and booking-system emulators, the loopback
functions host, the in-process queue; see devstack.local_stack), then plays what people
do: a booking made in each system, an edit, a cancellation, a recurring series with a
moved and a cancelled occurrence, and a double booking across the two sides. After the
queue drains it reads every synchronised reservation back from both sides, prints them
side by side, and says whether the two sides are identical. ``--serve`` keeps the stack
running with its URLs printed, for a person to poke at. ``--booking mrbs`` plays the same
scenario with MRBS as the booking system (a MRBS database on the embedded PostgreSQL, its
users' edits written as MRBS's own pages write rows; see docs/booking-mrbs.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import sys

from rich.console import Console
from rich.table import Table

from calsync.model import Booking, Side
from calsync.store.records import ConflictStore
from calsync.sync.translate import same_reservation
from devstack.local_stack import LocalStack, booking_fields, graph_event

console = Console()
MAILBOX, ROOM_ID, ROOM = "room-a@contoso.example", "R-100", "room-a"
MRBS_ROOM = 1  # room-a's MRBS room id (devstack.local_stack.MRBS_ROOMS)


async def play_scenario(stack: LocalStack) -> None:
    """What people do on both sides, each step followed by the sync catching up."""
    if stack.mrbs is not None:
        return await play_mrbs_scenario(stack)
    assert stack.booking is not None
    step = console.status("")
    with step:
        step.update("a booking made in the booking system")
        board = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
            "Board meeting", "2027-01-11T09:00:00+01:00", "2027-01-11T10:30:00+01:00"))  # fmt: skip
        step.update("a meeting made in Outlook")
        stack.graph.user_create_event(
            MAILBOX, graph_event("Design review", "2027-01-12T14:00:00", "2027-01-12T15:00:00")
        )
        offsite = stack.booking.user_create_booking(ROOM_ID, **booking_fields(
            "Offsite planning", "2027-01-13T13:00:00+01:00", "2027-01-13T14:00:00+01:00"))  # fmt: skip
        await stack.settle()

        step.update("an edit and a cancellation")
        stack.booking.user_update_booking(board["id"], title="Board meeting (budget)", end="2027-01-11T11:00:00+01:00")
        stack.booking.user_cancel_booking(offsite["id"])
        await stack.settle()

        step.update("a recurring series with a moved and a cancelled occurrence")
        stack.booking.user_create_booking(ROOM_ID, **booking_fields(
            "Sprint planning", "2027-01-18T09:00:00+01:00", "2027-01-18T10:00:00+01:00",
            recurrence={"rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4", "exdates": ["2027-02-01T08:00:00Z"],
                        "overrides": [{"original_start": "2027-01-25T08:00:00Z", "start": "2027-01-26T13:00:00Z",
                                       "end": "2027-01-26T14:00:00Z"}]},
        ))  # fmt: skip
        await stack.settle()

        step.update("a double booking across the two sides")
        stack.booking.user_create_booking(ROOM_ID, **booking_fields(
            "Facilities audit", "2027-01-14T10:30:00+01:00", "2027-01-14T11:30:00+01:00"))  # fmt: skip
        stack.graph.user_create_event(MAILBOX, graph_event("Vendor demo", "2027-01-14T10:00:00", "2027-01-14T11:00:00"))
        await stack.settle()


async def play_mrbs_scenario(stack: LocalStack) -> None:
    """The same scenario with MRBS's users on the booking side (wall times in MRBS's zone, Europe/Berlin)."""
    mrbs, room = stack.mrbs, MRBS_ROOM
    assert mrbs is not None
    step = console.status("")
    with step:
        step.update("a booking made in MRBS")
        board = mrbs.user_create_entry(room, "Board meeting", "2027-01-11T09:00", "2027-01-11T10:30")
        step.update("a meeting made in Outlook")
        stack.graph.user_create_event(
            MAILBOX, graph_event("Design review", "2027-01-12T14:00:00", "2027-01-12T15:00:00")
        )
        offsite = mrbs.user_create_entry(room, "Offsite planning", "2027-01-13T13:00", "2027-01-13T14:00")
        await stack.settle()

        step.update("an edit and a deletion in MRBS")  # MRBS has no cancelled state: a cancellation deletes
        mrbs.user_edit_entry(board["ical_uid"], name="Board meeting (budget)", end="2027-01-11T11:00")
        mrbs.user_delete(offsite["ical_uid"])
        await stack.settle()

        step.update("a recurring series with a moved and a deleted occurrence")
        series = mrbs.user_create_series(room, "Sprint planning", "2027-01-18T09:00", "2027-01-18T10:00",
                                         last_day="2027-02-08", weekdays="0100000")  # fmt: skip
        mrbs.user_edit_occurrence(series["ical_uid"], series["occurrences"][1], start="2027-01-26T14:00",
                                  end="2027-01-26T15:00")  # fmt: skip
        mrbs.user_delete_occurrence(series["ical_uid"], series["occurrences"][2])
        await stack.settle()

        step.update("a double booking across the two sides")
        mrbs.user_create_entry(room, "Facilities audit", "2027-01-14T10:30", "2027-01-14T11:30")
        stack.graph.user_create_event(MAILBOX, graph_event("Vendor demo", "2027-01-14T10:00:00", "2027-01-14T11:00:00"))
        await stack.settle()


def _when(booking: Booking) -> str:
    start, end = booking.interval_utc()
    text = f"{start:%a %d %b %H:%M}-{end:%H:%M} UTC"
    if booking.recurrence is not None:
        text += f"  {booking.recurrence.rrule}"
        if booking.recurrence.exdates or booking.recurrence.overrides:
            text += f" ({len(booking.recurrence.overrides)} moved, {len(booking.recurrence.exdates)} cancelled)"
    return text


async def compare_sides(stack: LocalStack) -> bool:
    """Print every mapped reservation as both sides hold it; True when every pair is identical."""
    engine = await stack.engine()
    room = engine.settings.room(ROOM)
    assert room is not None
    side = "MRBS" if stack.mrbs is not None else "the booking system"
    table = Table(title=f"Room {ROOM}: Outlook ({MAILBOX}) and {side} ({room.booking_room_id})")
    for column in ("Outlook subject", "booking title", "when", "identical"):
        table.add_column(column)
    identical = True
    rows = await engine.mappings.list_room(ROOM)
    for row in sorted(rows, key=lambda r: r.created_at):
        o = (await engine.sides[Side.OUTLOOK].read(room, row.outlook_id or "")).booking
        b = (await engine.sides[Side.BOOKING].read(room, row.booking_id or "")).booking
        same = (
            o is not None
            and b is not None
            and (
                same_reservation(o, b, private_subject=engine.settings.private_subject)
                or same_reservation(b, o, private_subject=engine.settings.private_subject)
            )
        )
        identical &= same
        table.add_row(o.subject if o else "-", b.subject if b else "-", _when(o or b) if (o or b) else "-",
                      "[green]yes[/]" if same else "[red]NO[/]")  # fmt: skip
    console.print(table)
    live_events, live_bookings = stack.live_events(MAILBOX), stack.live_bookings(room.booking_room_id)
    counts_match = len(live_events) == len(rows) == len(live_bookings)
    label = "MRBS" if stack.mrbs is not None else "booking system"
    console.print(f"live items: Outlook {len(live_events)}, {label} {len(live_bookings)}, mapped {len(rows)}")
    return identical and counts_match


async def show_conflicts(stack: LocalStack) -> int:
    engine = await stack.engine()
    records = await ConflictStore(engine.tables).list(ROOM)
    for record in records:
        console.print(f"conflict ({record.policy.value}): the {record.winner_side.value} booking keeps the room; the "
                      f"{record.loser_side.value} one was declined and its organiser was told: {record.reason}")  # fmt: skip
    for decline in stack.graph.declines:
        console.print(f"Outlook decline sent as {decline.mailbox}: {decline.comment!r}")
    return len(records)


async def run(serve: bool = False, booking: str = "rest") -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    async with LocalStack(booking=booking) as stack:
        assert stack.host is not None
        console.print(f"Azurite tables   {stack.azurite.endpoint if stack.azurite else '-'}")
        console.print(f"Graph emulator   {stack.graph.base_url}")
        if stack.booking is not None:
            console.print(f"booking emulator {stack.booking.base_url}")
        if stack.mrbs is not None:
            console.print(f"MRBS database    {stack.mrbs.url}  (tables {stack.mrbs.prefix}*)")
        console.print(
            f"functions host   {stack.host.base_url}  (graph/notifications, graph/lifecycle, booking/webhook)"
        )
        started = dt.datetime.now(dt.UTC)
        await play_scenario(stack)
        identical = await compare_sides(stack)
        conflicts = await show_conflicts(stack)
        elapsed = (dt.datetime.now(dt.UTC) - started).total_seconds()
        if identical and conflicts == 1:
            console.print(f"[bold green]Both sides are identical[/] after the scenario ({elapsed:.1f} s), "
                          "and the double booking was resolved.")  # fmt: skip
        else:
            console.print(f"[bold red]The sides differ[/] (identical={identical}, conflicts={conflicts}).")
            return 1
        if serve:
            console.print("Serving until Ctrl+C. Edit through the emulators' APIs and watch the other side follow.")
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
    return 0


def main(serve: bool = False, booking: str = "rest") -> int:
    try:
        return asyncio.run(run(serve=serve, booking=booking))
    except KeyboardInterrupt:
        return 0


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.local_run", description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="keep the stack running after the scenario")
    parser.add_argument("--booking", choices=("rest", "mrbs"), default="rest",
                        help="the booking system: the REST emulator (default) or MRBS's database")  # fmt: skip
    args = parser.parse_args(argv)
    return main(serve=args.serve, booking=args.booking)


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
