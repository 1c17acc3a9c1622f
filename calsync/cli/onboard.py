"""`calsync onboard ROOM... --dry-run|--apply [--from-csv rooms.csv] [--in-azure]`: take rooms live safely.

Thin over calsync.operations.onboard: the dry run writes a report per room (JSON and CSV
in --out, plus a table here); --apply executes exactly the stored plan (refused when a
side changed since, naming what changed), then the room is live. --from-csv registers
the CSV's rooms first (pending) and onboards all of them; --plan-and-apply does the dry
run and the apply in one command (the report is still written). --in-azure runs the
work in the deployed app (an onboarding job per room) and follows its progress.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from calsync.cli.common import ExitCode, fail, load, run, state, stderr, stdout
from calsync.onboarding.plan import CONFLICT, PAIR, SKIPPED, TO_BOOKING, TO_OUTLOOK
from calsync.onboarding.report import write_report
from calsync.operations.onboard import OnboardResult, onboard_here, onboard_in_azure
from calsync.operations.room_registry import import_rooms
from calsync.rooms.csv_rooms import parse_rooms_csv
from calsync.store.onboarding import OnboardingProgress


def render(result: OnboardResult, *, applied: bool) -> Table:
    table = Table(title="Onboarding " + ("(applied)" if applied else "plan (dry run: nothing written)"),
                  title_justify="left")  # fmt: skip
    for column in ("room", "pairs", "-> booking system", "-> Outlook", "conflicts", "skipped", "result"):
        table.add_column(column, justify="left" if column in ("room", "result") else "right")
    for key in sorted(result.plans.keys() | result.errors.keys()):
        plan = result.plans.get(key)
        counts = plan.counts() if plan else {}
        outcome = result.errors.get(key) or ("live" if key in result.applied else "planned")
        table.add_row(key, *(str(counts.get(kind, "—")) for kind in (PAIR, TO_BOOKING, TO_OUTLOOK, CONFLICT, SKIPPED)),
                      outcome, style="red" if key in result.errors else None)  # fmt: skip
    return table


def onboard_command(
    ctx: typer.Context,
    rooms: Annotated[list[str] | None, typer.Argument(help="Room keys (see `calsync rooms list`).")] = None,
    apply: Annotated[bool, typer.Option("--apply/--dry-run", help="Apply the stored dry run (default: dry run).")] = False,
    from_csv: Annotated[Path | None, typer.Option("--from-csv", help="Register this rooms CSV first and onboard "
                                                  "all its rooms.", exists=True, dir_okay=False)] = None,
    plan_and_apply: Annotated[bool, typer.Option("--plan-and-apply", help="Dry run and apply in one go.")] = False,
    out: Annotated[Path, typer.Option(help="Where the per-room reports go.")] = Path("onboarding-report"),
    in_azure: Annotated[bool, typer.Option("--in-azure", help="Run in the deployed app (an onboarding job per "
                                           "room) and follow its progress.")] = False,
) -> None:
    """Pair what already exists in both systems, copy the rest, report conflicts; then make the rooms live."""
    settings = load(ctx)
    keys = list(rooms or [])
    if from_csv is not None:
        text = from_csv.read_text(encoding="utf-8")
        run(import_rooms(settings, text))
        keys += [room.key for room in parse_rooms_csv(text) if room.key not in keys]
    if not keys:
        fail("name the rooms to onboard (or --from-csv rooms.csv)", ExitCode.USAGE)
    apply = apply or plan_and_apply
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=stderr(), transient=True)  # fmt: skip
    task = bar.add_task("onboarding", total=len(keys))
    finished: set[str] = set()

    def progress(row: OnboardingProgress) -> None:
        if row.finished and row.room not in finished and (row.step != "planned" or not apply):
            finished.add(row.room)
            bar.update(task, completed=len(finished))
        bar.update(task, description=f"{row.room}: {row.step} {row.done}/{row.total}")

    with bar:
        if in_azure:
            if plan_and_apply:
                fail("--in-azure runs --dry-run, then --apply, as two commands", ExitCode.USAGE)

            async def remote() -> OnboardResult:
                async with state(ctx).publisher(settings) as publisher:
                    return await onboard_in_azure(settings, publisher, keys, apply=apply, on_progress=progress)

            result = run(remote())
        else:
            result = run(onboard_here(settings, keys, apply=apply, plan_first=plan_and_apply, on_progress=progress))
    for plan in result.plans.values():
        write_report(plan, out)
    stdout().print(render(result, applied=apply))
    stdout().print(f"Reports (JSON and CSV per room) in {out}/." + ("" if apply else " Nothing was written to either "
                   "calendar; read the reports, then run with --apply."), markup=False)  # fmt: skip
    if result.errors:
        for key, error in sorted(result.errors.items()):
            stderr().print(f"{key}: {error}", style="red", markup=False)
        fail(f"{len(result.errors)} room(s) not onboarded")
