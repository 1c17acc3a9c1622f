"""`calsync mrbs install|uninstall`: the outbox, calsync's tables and the triggers in MRBS's database."""

from __future__ import annotations

from typing import Annotated

import typer

from calsync.cli.common import fail, load, run, stdout

app = typer.Typer(name="mrbs", help="MRBS's database: install or remove calsync's outbox and triggers.",
                  no_args_is_help=True)  # fmt: skip


async def _apply(settings: object, *, remove: bool) -> int:
    from calsync.booking.mrbs.schema import mrbs_tables
    from calsync.booking.mrbs.system import engine_from_settings
    from calsync.booking.mrbs.triggers import install, uninstall

    engine = engine_from_settings(settings)
    try:
        tables = mrbs_tables(settings.mrbs_table_prefix)  # type: ignore[attr-defined]
        return len(await (uninstall if remove else install)(engine, tables))
    finally:
        await engine.dispose()


@app.command("install")
def install_command(ctx: typer.Context) -> None:
    """Create the outbox, calsync's link/meta tables and the triggers on entry, repeat and room (idempotent)."""
    settings = load(ctx)
    if settings.mrbs_database_url is None:
        fail("set MRBS_DATABASE_URL (and MRBS_DATABASE_PASSWORD) first")
    count = run(_apply(settings, remove=False))
    stdout().print(f"installed calsync's outbox and triggers under prefix {settings.mrbs_table_prefix!r} ({count} statements)")


@app.command("uninstall")
def uninstall_command(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Also drop calsync's tables (the outbox and the Outlook stamps).")] = False,
) -> None:
    """Drop the triggers and calsync's own tables; MRBS's tables and bookings stay as they are."""
    settings = load(ctx)
    if settings.mrbs_database_url is None:
        fail("set MRBS_DATABASE_URL (and MRBS_DATABASE_PASSWORD) first")
    if not yes:
        fail("uninstall drops calsync's outbox and stamps: run again with --yes")
    count = run(_apply(settings, remove=True))
    stdout().print(f"removed calsync's triggers and tables ({count} statements)")
