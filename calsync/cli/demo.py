"""`calsync demo`: the local run (calsync.local_run, owned by the lead) behind the operator command."""

from __future__ import annotations

from typing import Annotated

import typer


def demo(
    serve: Annotated[
        bool, typer.Option("--serve", help="Keep the local stack running afterwards for a person to poke at.")
    ] = False,
) -> None:
    """Start Azurite, both emulators and the functions locally, play a short scenario, show both sides."""
    from calsync import local_run  # lazily: it pulls in the emulators and the whole pipeline

    raise typer.Exit(local_run.main(serve=serve))
