"""Plumbing every operator command shares: the injectable state, consoles, exit codes, formatting.

``CliState`` is what a command needs from the outside world: how to load Settings,
how to open the dead-letter queue, and the clock. The root callback puts the default
one on ``ctx.obj``; tests pass their own with ``CliRunner.invoke(app, args, obj=...)``.

Errors: ``run`` and ``load`` turn calsync's errors into one red line on stderr and an
exit code, never a traceback (settings errors never contain secret values):

- 0  done;
- 1  something failed that retrying later may cure (Table Storage, Graph, the booking
     system, Service Bus), or the command found a problem it reports (e.g. ids not found);
- 2  the operator's input or configuration is wrong (unknown room, missing setting,
     bad option; typer's own usage errors use 2 as well).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from calsync.errors import CalsyncError, ConfigurationError, ValidationError
from calsync.operations.dlq import service_bus_dead_letters
from calsync.queues.dead_letters import DeadLetterQueue
from calsync.queues.publisher import HintPublisher
from calsync.settings import Settings, load_settings

T = TypeVar("T")
DeadLetterBackend = Callable[[Settings], AbstractAsyncContextManager[DeadLetterQueue]]
PublisherBackend = Callable[[Settings], AbstractAsyncContextManager[HintPublisher]]


@contextlib.asynccontextmanager
async def service_bus_publisher(settings: Settings) -> AsyncIterator[HintPublisher]:
    """The Service Bus publisher for one command, closed afterwards."""
    from calsync.queues.publisher import ServiceBusHintPublisher

    publisher = ServiceBusHintPublisher.from_settings(settings)
    try:
        yield publisher
    finally:
        await publisher.close()


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class CliState:
    """What the commands take from outside; replace parts of it in tests."""

    load_settings: Callable[[], Settings] = load_settings
    dead_letters: DeadLetterBackend = service_bus_dead_letters
    clock: Callable[[], dt.datetime] = utc_now
    publisher: PublisherBackend = service_bus_publisher


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


def stdout() -> Console:
    """A console on the current stdout (created per use, so CliRunner's capture sees it)."""
    return Console(highlight=False)


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def fail(message: str, code: ExitCode = ExitCode.FAILED) -> NoReturn:
    """Print ``message`` as one red line on stderr and leave with ``code``."""
    stderr().print(f"error: {' '.join(message.split())}", style="red", markup=False, soft_wrap=True)
    raise typer.Exit(int(code))


def warn(message: str) -> None:
    stderr().print(message, style="yellow", markup=False, soft_wrap=True)


@contextlib.contextmanager
def operator_errors() -> Iterator[None]:
    """calsync errors become one line and an exit code (see the module docstring)."""
    try:
        yield
    except (ValidationError, ConfigurationError) as exc:
        fail(str(exc), ExitCode.USAGE)
    except CalsyncError as exc:
        fail(str(exc), ExitCode.FAILED)


def load(ctx: typer.Context) -> Settings:
    """The Settings for this command (from the environment by default)."""
    with operator_errors():
        return state(ctx).load_settings()


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run one operation to completion on a fresh event loop, translating calsync errors."""
    with operator_errors():
        return asyncio.run(work)


@contextlib.contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[], None]]:
    """A transient progress bar on stderr; yields a function that advances it by one."""
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=stderr(), transient=True,
    )  # fmt: skip
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


# --- formatting -----------------------------------------------------------------------------------


def when(moment: dt.datetime | None) -> str:
    """A moment in UTC to the minute, or an em dash for none."""
    if moment is None:
        return "—"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration(span: dt.timedelta) -> str:
    """A span as the two largest units: '2d 3h', '5h 12m', '12m', '<1m'."""
    minutes = int(abs(span).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else "<1m"


def time_left(span: dt.timedelta) -> str:
    """'3h 10m left', or 'expired 2h ago'."""
    return f"{duration(span)} left" if span > dt.timedelta(0) else f"expired {duration(span)} ago"
