"""`calsync subscriptions list|renew`: calsync's stored Graph subscriptions, how long each has left, renewal.

``describe_subscriptions`` is pure (records and a clock in, views out); a subscription
is *expiring* within ``WARN_WITHIN`` of its expiry and *expired* after it. Configured
rooms with no stored subscription are reported too: their notifications do not arrive.
``renew_subscriptions`` does what the maintenance timer does for subscriptions, now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from calsync.maintenance.subscriptions import SubscriptionResult
from calsync.operations.maintenance import open_services, rooms_named
from calsync.queues.publisher import HintPublisher
from calsync.settings import Settings
from calsync.store.records import SubscriptionRecord, SubscriptionStore
from calsync.wiring import open_tables

WARN_WITHIN = dt.timedelta(hours=24)


@dataclass(frozen=True)
class SubscriptionView:
    record: SubscriptionRecord
    time_left: dt.timedelta

    @property
    def expired(self) -> bool:
        return self.time_left <= dt.timedelta(0)

    @property
    def expiring(self) -> bool:
        """Less than WARN_WITHIN left (and not yet expired)."""
        return not self.expired and self.time_left < WARN_WITHIN


@dataclass(frozen=True)
class SubscriptionReport:
    subscriptions: list[SubscriptionView]
    rooms_without: list[str]  # configured room keys with no stored subscription


def describe_subscriptions(
    records: Sequence[SubscriptionRecord], now: dt.datetime, configured_rooms: Sequence[str] = ()
) -> SubscriptionReport:
    """Views sorted by room then expiry, and the configured rooms that have none."""
    views = [SubscriptionView(record, record.expires_at - now) for record in records]
    views.sort(key=lambda view: (view.record.room, view.record.expires_at))
    covered = {record.room for record in records}
    return SubscriptionReport(views, [room for room in configured_rooms if room not in covered])


async def list_subscriptions(settings: Settings, now: dt.datetime) -> SubscriptionReport:
    """The stored subscriptions as of ``now``. Raises StoreError."""
    async with open_tables(settings) as tables:
        records = await SubscriptionStore(tables).list()
    return describe_subscriptions(records, now, [room.key for room in settings.rooms])


async def renew_subscriptions(settings: Settings, publisher: HintPublisher,
                              keys: Sequence[str] = ()) -> list[SubscriptionResult]:  # fmt: skip
    """Create missing and renew due Graph subscriptions, as the maintenance timer does."""
    rooms = rooms_named(settings, keys)
    async with open_services(settings) as services:
        return await services.maintenance(publisher).keeper.ensure_all(rooms)
