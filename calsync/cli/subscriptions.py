"""`calsync subscriptions ...`: the Graph subscriptions calsync stored, and how long each has left.

The maintenance timer renews them; `subscriptions renew` (added with calsync.maintenance)
belongs in this sub-app as another ``@app.command``.
"""

from __future__ import annotations

import typer
from rich.table import Table
from rich.text import Text

from calsync.cli.common import load, run, state, stdout, time_left, warn, when
from calsync.operations.subscriptions import WARN_WITHIN, SubscriptionReport, list_subscriptions

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
