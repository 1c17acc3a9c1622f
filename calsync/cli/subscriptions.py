"""`calsync subscriptions ...`: the Graph subscriptions calsync stored, and how long each has left.

The maintenance timer renews them; `subscriptions renew` does the same on demand.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from calsync.cli.common import fail, load, run, state, stdout, time_left, warn, when
from calsync.operations.subscriptions import WARN_WITHIN, SubscriptionReport, list_subscriptions, renew_subscriptions

app = typer.Typer(name="subscriptions", help="Graph change-notification subscriptions, one per room.",
                  no_args_is_help=True)  # fmt: skip


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Stored subscriptions with room, id, expiry and time left (warns below 24 hours)."""
    settings = load(ctx)
    report = run(list_subscriptions(settings, state(ctx).clock()))
    if report.subscriptions:
        stdout().print(render(report))
    else:
        stdout().print("No subscriptions stored.", style="yellow")
    expiring = [view for view in report.subscriptions if view.expiring or view.expired]
    if expiring:
        hours = int(WARN_WITHIN.total_seconds() // 3600)
        warn(f"{len(expiring)} subscription(s) expire within {hours} h or have expired; the maintenance timer "
             "should renew them, see docs/operations.md (Subscription renewal failures).")  # fmt: skip
    if report.rooms_without:
        warn(f"No subscription for room(s) {', '.join(report.rooms_without)}: their Outlook changes arrive "
             "only by reconciliation.")  # fmt: skip


@app.command("renew")
def renew(
    ctx: typer.Context,
    rooms: Annotated[list[str] | None, typer.Argument(help="Room keys; all rooms when none is given.")] = None,
) -> None:
    """Create missing and renew due subscriptions now (what the maintenance timer does every 15 minutes)."""
    settings = load(ctx)

    async def work():  # type: ignore[no-untyped-def]
        async with state(ctx).publisher(settings) as publisher:
            return await renew_subscriptions(settings, publisher, rooms or [])

    results = run(work())
    table = Table(title="Subscriptions kept", title_justify="left")
    for column in ("room", "action", "subscription id", "expires"):
        table.add_column(column)
    for result in results:
        action = Text(result.action.value, style="red" if result.error else "")
        table.add_row(result.room, action, result.subscription_id or "—", when(result.expires_at))
    stdout().print(table)
    failed = [r for r in results if r.error]
    if failed:
        fail("; ".join(f"{r.room}: {r.error}" for r in failed))


def render(report: SubscriptionReport) -> Table:
    table = Table(title="Graph subscriptions", title_justify="left")
    table.add_column("room")
    table.add_column("subscription id", overflow="fold")
    table.add_column("expires")
    table.add_column("time left")
    table.add_column("renewed")
    for view in report.subscriptions:
        style = "red" if view.expired else "yellow" if view.expiring else ""
        record = view.record
        table.add_row(record.room, record.subscription_id, when(record.expires_at),
                      Text(time_left(view.time_left), style=style), when(record.renewed_at))  # fmt: skip
    return table
