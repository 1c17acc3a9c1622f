"""The `calsync` command: the root Typer app and where every command area is registered.

One module per area, each either a command function or a sub-app (``typer.Typer``):

    calsync status                         status.py
    calsync rooms import|propose|list|show|set|remove|pause|resume|holds|release   rooms.py (sub-app)
    calsync onboard ROOM... --dry-run|--apply [--from-csv F] [--in-azure]        onboard.py
    calsync problems [ROOM]                problems.py
    calsync dlq list|replay                dlq.py            (sub-app)
    calsync subscriptions list|renew       subscriptions.py  (sub-app)
    calsync reconcile [ROOM...] [--full]   maintenance.py
    calsync backfill [ROOM...] --dry-run|--apply   maintenance.py
    calsync demo [--serve]                 demo.py

To add a command: a function in a new module (e.g. maintenance.py with ``reconcile`` and
``backfill``) registered below with ``app.command("name")(function)``, or a new
``@app.command`` in an existing sub-app. Commands stay thin: ``load(ctx)`` the settings,
``run(...)`` one function of calsync.operations (or calsync.maintenance), render with rich.
"""

from __future__ import annotations

from typing import Annotated

import typer

from calsync.cli import dlq, maintenance, mrbs, rooms, subscriptions
from calsync.cli.azd_env import apply_environment
from calsync.cli.common import CliState, operator_errors
from calsync.cli.demo import demo
from calsync.cli.onboard import onboard_command
from calsync.cli.problems import problems
from calsync.cli.status import status

app = typer.Typer(
    name="calsync",
    help="Operate calsync: status, rooms, holds, dead letters, subscriptions, reconcile, backfill, the local demo.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold settings; never print them
)


@app.callback()
def main(
    ctx: typer.Context,
    env: Annotated[str | None, typer.Option("--env", "-e", help="azd environment to reach (.azure/<env>/.env): "
                                            "its table endpoint and Service Bus namespace.")] = None,
    tables_endpoint: Annotated[str | None, typer.Option("--tables-endpoint", help="A deployment's table "
                                                        "endpoint (instead of --env).")] = None,
    servicebus: Annotated[str | None, typer.Option("--servicebus", help="A deployment's Service Bus namespace "
                                                   "(<name>.servicebus.windows.net).")] = None,
) -> None:
    """calsync keeps room bookings identical between Microsoft 365 room mailboxes and the booking system.

    Settings come from the environment (or a .env file), as for the function app; --env (azd) or the
    endpoint flags point the command at a deployed environment, signed in with DefaultAzureCredential.
    """
    if env or tables_endpoint or servicebus:
        with operator_errors():
            apply_environment(env, tables_endpoint=tables_endpoint, servicebus=servicebus, use_azd=env is not None)
    if not isinstance(ctx.obj, CliState):
        ctx.obj = CliState()


app.command("status")(status)
app.command("problems")(problems)
app.command("reconcile")(maintenance.reconcile_command)
app.command("backfill")(maintenance.backfill_command)
app.command("onboard")(onboard_command)
app.command("demo")(demo)
app.add_typer(rooms.app, name="rooms")
app.add_typer(dlq.app, name="dlq")
app.add_typer(subscriptions.app, name="subscriptions")
app.add_typer(mrbs.app, name="mrbs")
