"""`calsync demo`: the local run (devstack.local_run) behind the operator command, in a development checkout."""

from __future__ import annotations

from typing import Annotated

import typer


def demo(
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep the local stack running afterwards for a person to poke at.")
    ] = False,
    booking: Annotated[
        str, typer.Option("--booking", help="The booking system: rest (the emulator) or mrbs (MRBS's database).")
    ] = "rest",
) -> None:
    """Start Azurite, both emulators and the functions locally, play a short scenario, show both sides."""
    try:
        from devstack import local_run  # lazily: it pulls in the emulators and the whole pipeline
    except ImportError as exc:
        raise typer.BadParameter("the demo runs from a development checkout of calsync (`make run`)") from exc
    if booking not in ("rest", "mrbs"):
        raise typer.BadParameter("--booking is rest or mrbs")
    raise typer.Exit(local_run.main(serve=serve, booking=booking))
