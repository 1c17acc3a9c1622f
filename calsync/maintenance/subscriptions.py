"""Every configured room keeps one live Graph subscription on its calendar's events.

Policy (``subscription_due``, pure): a subscription is renewed once less than half
of its lifetime (GRAPH_SUBSCRIPTION_MINUTES) is left. With the default 4,000
minutes that is ~33 h before expiry, so the 15-minute maintenance timer gets
more than a hundred chances, and a whole day of failed runs still leaves time; with
the 45-minute minimum it is 22 minutes, still more than one timer period. A
subscription whose expiry has already passed is recreated at once (Graph has
deleted it).

I/O (``SubscriptionKeeper``): for each room, the stored SubscriptionRecord is
renewed (PATCH expirationDateTime) when due; NotFound on renewal means Graph lost
it, so it is recreated. A room with no record first adopts a live subscription
Graph already has for the room's notification URL (after a lost table, no second
subscription is made), else a new one is created with notificationUrl =
GRAPH_NOTIFICATION_URL?room=<key>, lifecycleNotificationUrl =
GRAPH_LIFECYCLE_URL?room=<key>, clientState = GRAPH_CLIENT_STATE, expiry = now +
GRAPH_SUBSCRIPTION_MINUTES. Lifecycle events: reauthorizationRequired ->
``reauthorize`` (POST /reauthorize, recreate if Graph no longer knows it);
subscriptionRemoved -> ``recreate`` (the caller reconciles the room afterwards).

Each outcome is counted with telemetry ``record_subscription_renewal``: renewed,
recreated (also for a first creation) or failed. A failure for one room is logged
and reported, never raised, so the other rooms are still kept alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from calsync.errors import CalsyncError, ConfigurationError, NotFound
from calsync.rooms.directory import RoomDirectory
from calsync.settings import Room, Settings
from calsync.store.records import SubscriptionRecord, SubscriptionStore
from calsync.telemetry import metrics

if TYPE_CHECKING:
    from calsync.outlook.graph_client import GraphCalendar

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


class SubscriptionAction(StrEnum):
    """What the keeper did for one room."""

    KEPT = "kept"  # live and not due: nothing sent to Graph
    ADOPTED = "adopted"  # Graph had a live one for the room that the store had lost: recorded
    CREATED = "created"  # none existed: created
    RENEWED = "renewed"
    RECREATED = "recreated"  # Graph lost it (expired, removed, 404): a new one
    REAUTHORIZED = "reauthorized"
    REMOVED = "removed"  # the room is no longer configured: its subscription is deleted
    FAILED = "failed"


_TELEMETRY = {
    SubscriptionAction.RENEWED: metrics.RenewalOutcome.RENEWED,
    SubscriptionAction.REAUTHORIZED: metrics.RenewalOutcome.RENEWED,
    SubscriptionAction.CREATED: metrics.RenewalOutcome.RECREATED,
    SubscriptionAction.RECREATED: metrics.RenewalOutcome.RECREATED,
    SubscriptionAction.FAILED: metrics.RenewalOutcome.FAILED,
}


class Due(StrEnum):
    NO = "no"
    RENEW = "renew"
    RECREATE = "recreate"


def subscription_due(expires_at: dt.datetime, now: dt.datetime, lifetime: dt.timedelta) -> Due:
    """Whether a subscription expiring at ``expires_at`` is kept, renewed (under half its lifetime left) or recreated."""
    left = expires_at - now
    if left <= dt.timedelta(0):
        return Due.RECREATE
    return Due.RENEW if left < lifetime / 2 else Due.NO


@dataclass(frozen=True)
class SubscriptionResult:
    room: str
    action: SubscriptionAction
    subscription_id: str | None
    expires_at: dt.datetime | None = None
    error: str | None = None


def notification_url(base: str, room: Room) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}room={room.key}"


class SubscriptionKeeper:
    """Creates, renews, recreates and reauthorizes the rooms' Graph subscriptions (see the module docstring)."""

    def __init__(self, settings: Settings, graph: GraphCalendar, store: SubscriptionStore, *, clock: Clock,
                 concurrency: int = 8) -> None:  # fmt: skip
        self.settings = settings
        self.graph = graph
        self.store = store
        self.clock = clock
        self.concurrency = concurrency
        self.lifetime = dt.timedelta(minutes=settings.graph_subscription_minutes)
        self.rooms: RoomDirectory = RoomDirectory(None, settings.rooms)  # the registry (Services sets it)

    # --- the maintenance run ----------------------------------------------------------------------
    async def ensure_all(self, rooms: Sequence[Room] | None = None) -> list[SubscriptionResult]:
        """Keep every room's subscription alive; one result per room, failures included (never raised).

        With ``rooms=None`` (every configured room), subscriptions of rooms no longer configured are deleted.
        """
        # every registered room, whatever its state, stays subscribed (calsync.rooms.state.keeps_subscription)
        chosen = [record.room for record in await self.rooms.list()] if rooms is None else list(rooms)
        records = await self.store.list()
        by_room: dict[str, list[SubscriptionRecord]] = {}
        for record in records:
            by_room.setdefault(record.room, []).append(record)
        live: dict[str, Any] | None = None
        if any(room.key not in by_room for room in chosen):
            live = await self._live_by_url()  # one list call, only when some room has no record
        slots = asyncio.Semaphore(self.concurrency)

        async def one(room: Room) -> SubscriptionResult:
            async with slots:
                return await self._guarded(room, self._ensure(room, by_room.get(room.key, []), live or {}))

        results = list(await asyncio.gather(*(one(room) for room in chosen)))
        if rooms is None:
            results += await self._remove_unconfigured(records, {room.key for room in chosen})
        return results

    async def _remove_unconfigured(self, records: list[SubscriptionRecord], known: set[str]) -> list[SubscriptionResult]:
        results = []
        for record in records:
            if record.room not in known:
                try:
                    await self._forget(record.subscription_id)
                except CalsyncError as exc:
                    log.warning("deleting the subscription of removed room %s failed: %s", record.room, exc)
                    continue
                log.info("room %s is no longer configured; its subscription was deleted", record.room)
                results.append(SubscriptionResult(record.room, SubscriptionAction.REMOVED, record.subscription_id))
        return results

    async def _ensure(self, room: Room, records: list[SubscriptionRecord], live: dict[str, Any]) -> SubscriptionResult:
        now = self.clock()
        if not records:
            adopted = live.get(notification_url(self._notification_base(), room))
            if adopted is not None and not self._as_configured(adopted, room):
                await self._forget(adopted.id)  # made with another lifecycle URL (or none): replace it
                adopted = None
            if adopted is not None and adopted.expiration_date_time is not None:
                record = SubscriptionRecord(subscription_id=adopted.id, room=room.key, resource=adopted.resource or "",
                                            expires_at=adopted.expiration_date_time, renewed_at=now)  # fmt: skip
                await self.store.put(record)
                if subscription_due(record.expires_at, now, self.lifetime) is Due.NO:
                    return SubscriptionResult(room.key, SubscriptionAction.ADOPTED, record.subscription_id,
                                              record.expires_at)  # fmt: skip
                records = [record]
            else:
                return await self._create(room, SubscriptionAction.CREATED)
        # keep the newest record; extra ones (a crash between create and delete) are deleted on Graph too
        records.sort(key=lambda r: r.expires_at, reverse=True)
        record, extra = records[0], records[1:]
        for stale in extra:
            await self._forget(stale.subscription_id)
        due = subscription_due(record.expires_at, now, self.lifetime)
        if due is Due.NO:
            return SubscriptionResult(room.key, SubscriptionAction.KEPT, record.subscription_id, record.expires_at)
        if due is Due.RECREATE:
            return await self._recreate(room, record.subscription_id)
        try:
            renewed = await self.graph.renew_subscription(record.subscription_id, now + self.lifetime)
        except NotFound:
            log.warning("subscription %s of room %s is gone on Graph; recreating it", record.subscription_id, room.key)
            return await self._recreate(room, record.subscription_id)
        expires = renewed.expiration_date_time or now + self.lifetime
        await self.store.put(record.model_copy(update={"expires_at": expires, "renewed_at": now}))
        return self._done(SubscriptionResult(room.key, SubscriptionAction.RENEWED, record.subscription_id, expires))

    # --- lifecycle events --------------------------------------------------------------------------
    async def reauthorize(self, room: Room, subscription_id: str | None) -> SubscriptionResult:
        """Answer reauthorizationRequired; a subscription Graph no longer knows is recreated."""

        async def work() -> SubscriptionResult:
            sid = subscription_id or await self._stored_id(room)
            if sid is None:
                return await self._create(room, SubscriptionAction.CREATED)
            try:
                await self.graph.reauthorize_subscription(sid)
            except NotFound:
                return await self._recreate(room, sid)
            return self._done(SubscriptionResult(room.key, SubscriptionAction.REAUTHORIZED, sid))

        return await self._guarded(room, work())

    async def recreate(self, room: Room, subscription_id: str | None = None) -> SubscriptionResult:
        """Replace the room's subscription (subscriptionRemoved, expired, or 404 on renewal) by a new one."""
        return await self._guarded(room, self._recreate(room, subscription_id))

    async def _recreate(self, room: Room, subscription_id: str | None) -> SubscriptionResult:
        stale = {r.subscription_id for r in await self.store.list() if r.room == room.key}
        stale |= {subscription_id} if subscription_id else set()
        for sid in sorted(stale):
            await self._forget(sid)
        return await self._create(room, SubscriptionAction.RECREATED)

    # --- plumbing -----------------------------------------------------------------------------------
    async def _create(self, room: Room, action: SubscriptionAction) -> SubscriptionResult:
        if not self.settings.graph_notification_url or self.settings.graph_client_state is None:
            raise ConfigurationError("GRAPH_NOTIFICATION_URL and GRAPH_CLIENT_STATE are needed to subscribe rooms")
        now = self.clock()
        lifecycle = self.settings.graph_lifecycle_url
        created = await self.graph.create_subscription(
            room.mailbox, notification_url=notification_url(self.settings.graph_notification_url, room),
            lifecycle_notification_url=notification_url(lifecycle, room) if lifecycle else None,
            client_state=self.settings.graph_client_state.get_secret_value(), expiration=now + self.lifetime,
        )  # fmt: skip
        if not created.id:
            raise CalsyncError("Graph created a subscription without an id")
        expires = created.expiration_date_time or now + self.lifetime
        await self.store.put(SubscriptionRecord(subscription_id=created.id, room=room.key,
                                                resource=created.resource or f"/users/{room.mailbox}/events",
                                                expires_at=expires, renewed_at=now))  # fmt: skip
        log.info("subscription %s for room %s %s, expires %s", created.id, room.key, action.value, expires.isoformat())
        return self._done(SubscriptionResult(room.key, action, created.id, expires))

    async def _forget(self, subscription_id: str) -> None:
        """Delete a subscription on Graph (already gone is fine) and its record."""
        with contextlib.suppress(NotFound):
            await self.graph.delete_subscription(subscription_id)
        try:
            await self.store.delete(subscription_id)
        except CalsyncError:
            log.debug("no stored record for subscription %s", subscription_id)

    async def _stored_id(self, room: Room) -> str | None:
        records = [r for r in await self.store.list() if r.room == room.key]
        return max(records, key=lambda r: r.expires_at).subscription_id if records else None

    async def _live_by_url(self) -> dict[str, Any]:
        return {sub.notification_url: sub for sub in await self.graph.list_subscriptions() if sub.notification_url}

    def _notification_base(self) -> str:
        return self.settings.graph_notification_url or ""

    def _as_configured(self, subscription: Any, room: Room) -> bool:
        """Whether a live subscription has the lifecycle URL calsync would give it (else no lifecycle events)."""
        lifecycle = self.settings.graph_lifecycle_url
        expected = notification_url(lifecycle, room) if lifecycle else None
        return bool(subscription.id) and subscription.lifecycle_notification_url == expected

    @staticmethod
    def _done(result: SubscriptionResult) -> SubscriptionResult:
        outcome = _TELEMETRY.get(result.action)
        if outcome is not None:
            metrics.record_subscription_renewal(outcome, room=result.room)
        return result

    async def _guarded(self, room: Room, work: Any) -> SubscriptionResult:
        try:
            return await work
        except CalsyncError as exc:
            log.error("keeping the subscription of room %s failed: %s: %s", room.key, type(exc).__name__, exc)
            return self._done(SubscriptionResult(room.key, SubscriptionAction.FAILED, None,
                                                 error=f"{type(exc).__name__}: {exc}"))  # fmt: skip
