"""`calsync reconcile ROOM...` and `calsync backfill --dry-run|--apply`: maintenance on demand.

Thin commands over calsync.operations.maintenance: reconcile publishes the rooms'
changes as hints onto the "changes" queue (the deployed function syncs them);
backfill plans the first sync of existing bookings and, with --apply, performs it
with a progress bar.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from calsync.cli.common import fail, load, run, state, stderr, stdout
from calsync.maintenance.backfill import BackfillPlan, BackfillProgress
from calsync.operations.maintenance import apply_first_sync, plan_first_sync, reconcile

Rooms = Annotated[list[str] | None, typer.Argument(help="Room keys (as in ROOMS); all rooms when none is given.")]


def reconcile_command(
    ctx: typer.Context,
    rooms: Rooms = None,
    full: Annotated[
        bool, typer.Option("--full", help="Compare both sides in the sync window, not only the changes.")
    ] = False,
) -> None:
    """Reconcile rooms now: Graph delta and the booking change feed (or a full compare) become hints."""
    settings = load(ctx)

    async def work():  # type: ignore[no-untyped-def]
        async with state(ctx).publisher(settings) as publisher:
            return await reconcile(settings, publisher, rooms or [], full=full)

    reports = run(work())
    table = Table(title="Reconcile", title_justify="left")
    for column in ("room", "pass", "Outlook hints", "booking hints", "unmapped", "drift", "orphans"):
        table.add_column(column)
    for report in reports:
        table.add_row(report.room, f"full ({report.reason})" if report.full else report.reason,
                      str(report.outlook_hints), str(report.booking_hints), str(report.unmapped), str(report.drift),
                      str(report.orphans))  # fmt: skip
    stdout().print(table)
    stdout().print(f"{sum(r.outlook_hints + r.booking_hints for r in reports)} hint(s) queued on "
                   f"{settings.changes_queue!r}.")  # fmt: skip


def render_plan(plan: BackfillPlan) -> Table:
    table = Table(title="Backfill plan (first sync of existing bookings)", title_justify="left")
    columns = ("room", "Outlook items", "bookings", "already mapped", "-> booking system", "-> Outlook", "re-link")
    for column in columns:
        table.add_column(column, justify="right" if column != "room" else "left")
    for room in plan.rooms:
        table.add_row(room.room, str(room.outlook_items), str(room.booking_items), str(room.mapped),
                      str(room.to_booking), str(room.to_outlook), str(room.adopt))  # fmt: skip
    totals = plan.totals()
    table.add_row("all", *(str(totals[name]) for name in ("outlook_items", "booking_items", "mapped", "to_booking",
                                                          "to_outlook", "adopt")), style="bold")  # fmt: skip
    return table


def backfill_command(
    ctx: typer.Context,
    rooms: Rooms = None,
    apply: Annotated[
        bool, typer.Option("--apply/--dry-run", help="Perform the first sync (default: only plan it).")
    ] = False,
) -> None:
    """Plan (--dry-run, the default) or perform (--apply) the first sync of the rooms' existing bookings."""
    settings = load(ctx)
    if not apply:
        stdout().print(render_plan(run(plan_first_sync(settings, rooms or []))))
        stdout().print("Dry run: nothing was written. Run with --apply to perform it.")
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=stderr(), transient=True)  # fmt: skip
    task = bar.add_task("backfill", total=None)

    def planned(plan: BackfillPlan) -> None:
        stdout().print(render_plan(plan))
        bar.update(task, total=plan.work)

    def progress(step: BackfillProgress) -> None:
        bar.update(task, completed=step.overall_done, description=f"backfill {step.room}")

    with bar:
        result = run(apply_first_sync(settings, rooms or [], progress=progress, planned=planned))
    actions = ", ".join(f"{count} {action}" for action, count in sorted(result.actions.items())) or "nothing to do"
    stdout().print(f"Backfill: {result.handled} item(s) in {result.seconds:.1f} s ({result.per_second:.1f}/s): "
                   f"{actions}.")  # fmt: skip
    for room in result.held_rooms:
        stderr().print(f"room {room} stopped by the mass-deletion guard; see `calsync rooms holds`", style="red")
    if result.failed:
        for error in result.errors[:10]:
            stderr().print(error, style="red", markup=False)
        fail(f"{result.failed} item(s) failed; run the backfill again to retry them (it is idempotent)")
