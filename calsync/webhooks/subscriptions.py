"""Which Graph subscriptions are calsync's, and for which room: the webhook's view of the Subscriptions table.

A notification with the right clientState is still refused unless its
``subscriptionId`` names a live subscription that calsync recorded for the room
in the notification URL (calsync.maintenance.subscriptions records every
subscription it creates or adopts in calsync.store.records.SubscriptionStore).

Graph wants an answer within 3 s and calls every notification of a busy room, so
the table is not read per request: the directory keeps the whole (small: one row
per room) subscriptions partition for ``ttl`` seconds. A subscription id missing
from the cache triggers one re-read (concurrent misses share it: single flight),
so a subscription created a moment ago is found on its first notification. Only
notifications that passed the clientState check get here, so an outsider cannot
make the webhook read the table. No msgraph import: the webhook path stays light.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable

from azure.core.exceptions import ResourceNotFoundError

from calsync.errors import StoreError
from calsync.store.client import TableStore
from calsync.store.records import SubscriptionRecord, SubscriptionStore

Loader = Callable[[], Awaitable[list[SubscriptionRecord]]]


class SubscriptionDirectory:
    """Cached answer to "is this subscription a live one of calsync's, and for which room?"."""

    def __init__(self, load: Loader, *, ttl: float = 60.0, monotonic: Callable[[], float] = time.monotonic,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:  # fmt: skip
        self._load = load
        self.ttl = ttl
        self._monotonic = monotonic
        self._now = now
        self._records: dict[str, SubscriptionRecord] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()
        self.reads = 0  # table reads so far (tests and bench)

    async def _refresh(self, asked_at: float) -> None:
        async with self._lock:
            if self._loaded_at is not None and self._loaded_at >= asked_at:
                return  # another request re-read the table after this one asked: single flight
            records = await self._load()
            self.reads += 1
            self._records = {record.subscription_id: record for record in records}
            self._loaded_at = self._monotonic()

    async def room_of(self, subscription_id: str) -> str | None:
        """The room key of calsync's live subscription ``subscription_id``, or None if it is not one."""
        asked_at = self._monotonic()
        if self._loaded_at is None or asked_at - self._loaded_at >= self.ttl:
            await self._refresh(asked_at)
        record = self._records.get(subscription_id)
        if record is None and self._loaded_at is not None and self._loaded_at < asked_at:
            await self._refresh(asked_at)  # created since the last read? (a new subscription's first notification)
            record = self._records.get(subscription_id)
        if record is None or record.expires_at <= self._now():
            return None
        return record.room

    def forget(self) -> None:
        """Drop the cache (tests; an operator command that changed subscriptions)."""
        self._loaded_at = None
        self._records = {}


def table_directory(tables: TableStore) -> SubscriptionDirectory:
    """A directory over calsync's Subscriptions table (a missing table reads as no subscriptions)."""
    store = SubscriptionStore(tables)

    async def load() -> list[SubscriptionRecord]:
        try:
            return await store.list()
        except StoreError as exc:  # the table does not exist before the first maintenance run
            if isinstance(exc.__cause__, ResourceNotFoundError):
                return []
            raise

    return SubscriptionDirectory(load)
