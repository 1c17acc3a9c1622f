"""Running the real `calsync` command in tests: CliRunner in a worker thread, and the DLQ seam.

The command calls ``asyncio.run`` itself, so async tests run it in a worker thread
(``invoke``): the test's own loop stays free to serve what the command reaches back
into (the in-process queue, see ``OnLoop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Collection
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from calsync.cli import app
from calsync.cli.common import CliState
from calsync.queues.dead_letters import DeadLetter, DeadLetterQueue
from calsync.queues.publisher import OutgoingMessage
from calsync.settings import Room, Settings

ROOMS = (
    Room(key="room-a", mailbox="room-a@contoso.example", booking_room_id="R-100", name="Atlas"),
    Room(key="room-b", mailbox="room-b@contoso.example", booking_room_id="R-200", name="Borealis"),
)
ENV_NAMES = ("TABLES_CONNECTION_STRING", "TABLES_ENDPOINT", "TABLE_PREFIX", "GRAPH_AUTH_MODE", "ROOMS",
             "GRAPH_BASE_URL", "BOOKING_BASE_URL", "BOOKING_API_KEY", "ServiceBusConnection__fullyQualifiedNamespace", "ServiceBusConnection")  # fmt: skip


def rooms_json(rooms: tuple[Room, ...] = ROOMS) -> str:
    return json.dumps([room.model_dump(exclude_none=True) for room in rooms])


async def invoke(*args: str, obj: CliState | None = None) -> Result:
    """`calsync <args>` through CliRunner, in a worker thread; fails the test on a traceback."""
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, app, list(args), obj=obj)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"calsync {' '.join(args)} raised {result.exception!r}") from result.exception
    assert "Traceback" not in result.output
    return result


class OnLoop:
    """A DeadLetterQueue that runs another one's calls on the loop owning the in-process queue.

    The command runs on its own event loop in a worker thread; the InProcessQueue and its
    handler live on the test's loop, so replayed messages are delivered as in the local run.
    """

    def __init__(self, inner: DeadLetterQueue, loop: asyncio.AbstractEventLoop) -> None:
        self.inner = inner
        self.loop = loop

    async def list(self, queue: str, *, limit: int = 100) -> list[DeadLetter]:
        return await self._there(self.inner.list(queue, limit=limit))

    async def replay(
        self, queue: str, *, message_ids: Collection[str] | None = None, limit: int = 100
    ) -> list[OutgoingMessage]:
        return await self._there(self.inner.replay(queue, message_ids=message_ids, limit=limit))

    async def _there(self, work: Any) -> Any:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self.loop))


def dead_letter_state(dlq: DeadLetterQueue, **overrides: Any) -> CliState:
    """A CliState whose `dlq` commands use ``dlq`` (run on the calling test's loop)."""
    loop = asyncio.get_running_loop()

    @contextlib.asynccontextmanager
    async def backend(_settings: Settings) -> AsyncIterator[DeadLetterQueue]:
        yield OnLoop(dlq, loop)

    return CliState(dead_letters=backend, **overrides)
