"""`calsync status`: a table with one row per configured room (calsync.operations.status does the reading)."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table
from rich.text import Text

from calsync.cli.common import load, progress, run, state, stdout, time_left, when
from calsync.cli.rooms import STATE_STYLES
from calsync.operations.status import RoomStatus, collect_status
from calsync.operations.subscriptions import WARN_WITHIN


def status(ctx: typer.Context) -> None:
    """Per room: state (pending, onboarding, live, paused), mapped bookings, last sync, subscription expiry, open conflicts, sync problems and hold."""
    settings = load(ctx)
    with progress("reading rooms", len(settings.rooms)) as advance:
        statuses = run(collect_status(settings, on_room=lambda _room: advance()))
    if not statuses:
        stdout().print("No rooms configured: `calsync rooms import rooms.csv`, `calsync rooms propose --apply`, "
                       "or set ROOMS.", style="yellow")  # fmt: skip
        return
    stdout().print(render(statuses, state(ctx).clock()))


def _subscription(expires: dt.datetime | None, now: dt.datetime) -> Text:
    if expires is None:
        return Text("none", style="red")
    left = expires - now
    style = "red" if left <= dt.timedelta(0) else "yellow" if left < WARN_WITHIN else ""
    return Text(f"{when(expires)} ({time_left(left)})", style=style)


def _hold(row: RoomStatus) -> Text:
    if row.hold is None:
        return Text("—")
    if row.stopped:
        return Text(f"stopped: {row.hold.reason}", style="bold red")
    return Text(f"released: deletions from {row.hold.side.value} confirmed (guard off)", style="yellow")


def render(statuses: list[RoomStatus], now: dt.datetime) -> Table:
    table = Table(title="calsync rooms", title_justify="left")
    table.add_column("room")
    table.add_column("state")
    table.add_column("mailbox")
    table.add_column("mapped", justify="right")
    table.add_column("last sync")
    table.add_column("subscription expires")
    table.add_column("open conflicts", justify="right")
    table.add_column("sync problems", justify="right")
    table.add_column("hold")
    for row in statuses:
        conflicts = Text(str(row.open_conflicts), style="yellow" if row.open_conflicts else "")
        state = Text(row.state.value, style=STATE_STYLES[row.state])
        problems = Text(str(row.problems), style="red" if row.problems else "")
        table.add_row(row.room.key, state, row.room.mailbox, str(row.mapped), when(row.last_sync),
                      _subscription(row.subscription_expires, now), conflicts, problems, _hold(row))  # fmt: skip
    return table
