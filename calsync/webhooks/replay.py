"""Replay protection for booking-system webhooks: one (timestamp, signature) is accepted once.

The HMAC timestamp window (±5 minutes) bounds how long a captured request stays
valid, but within the window the same signed request could be sent again. Each
accepted request's (timestamp, matching signature) is therefore inserted into the
WebhookReplays table with an insert-if-absent (``create_entity``): the first insert
wins, a second one fails with 409 and the request is refused as a replay.

Why Table Storage and not an in-process set: in Azure several instances of the
function app run behind one URL, and a replay may reach any of them; only a shared
store with an atomic insert-if-absent makes "accepted once" true across
instances. Table Storage is already calsync's store (no new dependency) and a
single-entity insert costs one round trip of a few milliseconds, well inside the
webhook's budget. The row is removed again when enqueueing fails, so the booking
system's retry of a request we answered with 503 is not mistaken for a replay.

Rows are grouped by hour of their timestamp (PartitionKey ``w<hour>``); rows older
than the window are useless, and the guard deletes whole past hours in the
background at most once an hour per instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables.aio import TableClient

from calsync.errors import AuthenticationError, StoreError
from calsync.store.client import translate_errors

log = logging.getLogger(__name__)

HOUR = 3600


class ReplayedWebhook(AuthenticationError):
    """A correctly signed booking webhook whose (timestamp, signature) was already accepted."""

    http_status = 409


def _partition(timestamp: int) -> str:
    return f"w{max(0, timestamp) // HOUR:010d}"


def _row(timestamp: int, signature: str) -> str:
    return hashlib.sha256(f"{timestamp}.{signature}".encode("ascii")).hexdigest()


class ReplayGuard:
    """Insert-if-absent of seen (timestamp, signature) pairs in the WebhookReplays table."""

    def __init__(self, table: TableClient, *, tolerance: int, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self.tolerance = tolerance
        self._clock = clock
        self._table_checked = False
        self._last_purge = 0.0
        self._purging: asyncio.Task[int] | None = None

    async def _create(self, entity: dict) -> None:
        try:
            await self._table.create_entity(entity)
        except ResourceNotFoundError:
            if self._table_checked:
                raise
            # the table does not exist yet (first webhook before the first maintenance run)
            with contextlib.suppress(ResourceExistsError):
                await self._table.create_table()
            self._table_checked = True
            await self._table.create_entity(entity)

    async def first_use(self, timestamp: int, signature: str) -> None:
        """Record the pair; raises ReplayedWebhook if it was recorded before, StoreError if the table fails."""
        entity = {"PartitionKey": _partition(timestamp), "RowKey": _row(timestamp, signature), "t": timestamp}
        try:
            await self._create(entity)
        except ResourceExistsError:
            raise ReplayedWebhook(
                "replayed webhook: this signed request (timestamp and signature) was already accepted",
                reason="replayed",
            ) from None
        except AzureError as exc:
            raise StoreError(f"Table Storage failed while checking a webhook for replay: {type(exc).__name__}") from exc
        self._table_checked = True
        self._maybe_purge()

    async def release(self, timestamp: int, signature: str) -> None:
        """Forget the pair (its request was not enqueued), so a retry by the sender is accepted."""
        with contextlib.suppress(ResourceNotFoundError):
            async with translate_errors("releasing a webhook replay marker"):
                await self._table.delete_entity(_partition(timestamp), _row(timestamp, signature))

    def _maybe_purge(self) -> None:
        now = self._clock()
        if now - self._last_purge < HOUR or (self._purging is not None and not self._purging.done()):
            return
        self._last_purge = now
        self._purging = asyncio.get_running_loop().create_task(self.purge())
        self._purging.add_done_callback(_log_purge_failure)

    async def purge(self) -> int:
        """Delete the rows of hours that lie wholly before the tolerance window; returns how many."""
        cutoff = _partition(int(self._clock()) - self.tolerance - HOUR)
        deleted = 0
        async with translate_errors("purging old webhook replay markers"):
            rows = self._table.query_entities("PartitionKey lt @pk", parameters={"pk": cutoff},
                                              select=["PartitionKey", "RowKey"])  # fmt: skip
            async for row in rows:
                with contextlib.suppress(ResourceNotFoundError):
                    await self._table.delete_entity(row["PartitionKey"], row["RowKey"])
                    deleted += 1
        return deleted


def _log_purge_failure(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("purging old webhook replay markers failed: %s", task.exception())
