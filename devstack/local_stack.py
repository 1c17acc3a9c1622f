"""The whole calsync pipeline on one machine: Azurite, both emulators, the functions host, the in-process queue.

Used by the end-to-end tests and by `make run`. ``LocalStack`` starts everything
on loopback with embedded defaults, installs a Runtime whose publisher is the
in-process queue and whose engine talks to the emulators, subscribes every room's
calendar in the Graph emulator (notifications go to the loopback graph_webhook)
and points the booking emulator's webhooks at booking_webhook. ``settle()``
waits until notifications, webhooks and queues are all quiet.

``booking="mrbs"`` puts MRBS in the booking emulator's place: a MRBS database on the
embedded PostgreSQL (devstack.mrbs_db: MRBS's schema, rooms 1 and 2, calsync's triggers)
with BOOKING_BACKEND=mrbs. MRBS has no webhook, so ``settle()`` also runs the outbox poller
as the ``mrbs_outbox`` timer does. ``stop_calsync()`` / ``start_calsync()`` stop and restart
calsync alone (both sides and Table Storage keep running), for changes made meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any

from calsync.functions import runtime
from calsync.settings import Room, Settings, load_settings
from calsync.sync.engine import Clock, SyncEngine
from devstack.azurite import AzuriteTables, free_port, start_azurite_tables
from devstack.booking import BookingEmulator
from devstack.functions_host import LoopbackFunctionsHost
from devstack.graph import GraphEmulator
from devstack.inprocess_queue import InProcessQueue
from devstack.mrbs_db import MRBS_USER, MrbsDatabase
from devstack.postgres import EmbeddedPostgres, start_postgres

if TYPE_CHECKING:
    from calsync.wiring import Services

DEFAULT_ROOMS = (
    Room(key="room-a", mailbox="room-a@contoso.example", booking_room_id="R-100", name="Atlas"),
    Room(key="room-b", mailbox="room-b@contoso.example", booking_room_id="R-200", name="Borealis"),
)
MRBS_ROOMS = (
    Room(key="room-a", mailbox="room-a@contoso.example", booking_room_id="1", name="Atlas"),
    Room(key="room-b", mailbox="room-b@contoso.example", booking_room_id="2", name="Borealis"),
)
BOOKING_API_KEY = "local-booking-api-key"


def graph_event(subject: str, start: str, end: str, zone: str = "W. Europe Standard Time", **extra: Any) -> dict:
    """An event as a user creates it in Outlook (local wall times in a Windows zone)."""
    return {"subject": subject, "start": {"dateTime": start, "timeZone": zone},
            "end": {"dateTime": end, "timeZone": zone}, **extra}  # fmt: skip


def booking_fields(title: str, start: str, end: str, zone: str = "Europe/Berlin", **extra: Any) -> dict:
    """A booking as a user enters it in the booking system (RFC 3339 with offsets)."""
    return {"title": title, "start": start, "end": end, "time_zone": zone,
            "organizer": {"name": "Ada Lovelace", "email": "ada@contoso.example"}, **extra}  # fmt: skip


class LocalStack:
    def __init__(self, *, rooms: tuple[Room, ...] | None = None, clock: Clock | None = None,
                 queue_options: dict[str, Any] | None = None, azurite: AzuriteTables | None = None,
                 booking: str = "rest", postgres: EmbeddedPostgres | None = None,
                 **settings: Any) -> None:  # fmt: skip
        if booking not in ("rest", "mrbs"):
            raise ValueError(f"booking is rest or mrbs, not {booking!r}")
        self.backend = booking
        self.rooms = rooms or (MRBS_ROOMS if booking == "mrbs" else DEFAULT_ROOMS)
        self.clock = clock
        self.queue_options = queue_options or {}
        self.setting_overrides = settings
        self.client_state = secrets.token_urlsafe(24)
        self.webhook_secret = secrets.token_urlsafe(24)
        self.azurite: AzuriteTables | None = azurite
        self._own_azurite = azurite is None
        self.graph: GraphEmulator = GraphEmulator()
        self.booking: BookingEmulator | None = None
        self.postgres, self._own_postgres = postgres, postgres is None
        self.mrbs: MrbsDatabase | None = None
        self.host_port = 0
        self.host: LoopbackFunctionsHost | None = None
        self.queue: InProcessQueue | None = None
        self.settings: Settings | None = None
        self._services: Services | None = None
        self._runtime: runtime.Runtime | None = None
        self._installed: contextlib.AbstractContextManager[runtime.Runtime] | None = None

    async def start(self) -> LocalStack:
        if self.azurite is None:
            self.azurite = await asyncio.to_thread(start_azurite_tables)
        self.graph.start()
        for room in self.rooms:
            self.graph.add_room(room.mailbox, room.name)
        service = self.setting_overrides.get("service_mailbox")
        if service:  # service-mailbox mode (issue #14): the mailbox that organises bookings' meetings
            self.graph.add_service_mailbox(service, "Room bookings")
        self.host_port = free_port()
        self.settings = load_settings(
            tables_connection_string=self.azurite.connection_string,
            table_prefix="calsync" + secrets.token_hex(4),
            graph_base_url=self.graph.base_url, graph_auth_mode="none", graph_client_state=self.client_state,
            graph_notification_url=f"http://127.0.0.1:{self.host_port}/api/graph/notifications",
            graph_lifecycle_url=f"http://127.0.0.1:{self.host_port}/api/graph/lifecycle",
            graph_max_retry_wait_seconds=5, rooms=[room.model_dump() for room in self.rooms],
            **(await self._start_booking_side()), **self.setting_overrides,
        )  # fmt: skip
        await self.start_calsync()
        await self.subscribe_rooms()
        return self

    async def _start_booking_side(self) -> dict[str, Any]:
        """The booking emulator, or MRBS's database; returns the settings that point calsync at it."""
        if self.backend == "mrbs":
            if self.postgres is None:
                self.postgres = await asyncio.to_thread(start_postgres)
            rooms = {int(room.booking_room_id): room.name or room.key for room in self.rooms}
            self.mrbs = await asyncio.to_thread(MrbsDatabase(self.postgres, rooms=rooms).start)
            return {"booking_backend": "mrbs", "mrbs_database_url": self.mrbs.url, "mrbs_user": MRBS_USER,
                    "mrbs_table_prefix": self.mrbs.prefix, "mrbs_time_zone": self.mrbs.zone}  # fmt: skip
        self.booking = BookingEmulator(
            rooms=[{"id": r.booking_room_id, "name": r.name or r.key, "email": r.mailbox} for r in self.rooms],
            api_key=BOOKING_API_KEY, webhook_url=f"http://127.0.0.1:{self.host_port}/api/booking/webhook",
            webhook_secrets=[self.webhook_secret],
        ).start()  # fmt: skip
        return {"booking_base_url": self.booking.base_url, "booking_api_key": BOOKING_API_KEY,
                "booking_webhook_secrets": self.webhook_secret}  # fmt: skip

    async def start_calsync(self) -> None:
        """calsync itself: the queue, the runtime and the functions host (again after ``stop_calsync``)."""
        assert self.settings is not None
        self.queue = InProcessQueue.from_settings(self.settings, **self.queue_options)
        self._runtime = runtime.Runtime(self.settings, publisher=self.queue, services_factory=self._open_services)
        self._installed = runtime.installed(self._runtime)
        self._installed.__enter__()
        self.host = await LoopbackFunctionsHost(self.settings, port=self.host_port).start()
        self.host.bind_queues(self.queue)

    async def stop_calsync(self) -> None:
        """Stop calsync (no handler, no poller); both sides and Table Storage keep running."""
        if self._installed is not None:
            self._installed.__exit__(None, None, None)
            self._installed = None
        if self._runtime is not None:
            await self._runtime.aclose()
            self._runtime = None
        if self.host is not None:
            await self.host.stop()
            self.host = None
        if self.queue is not None:
            await self.queue.close()
        if self._services is not None:
            await self._services.close()
            self._services = None

    async def _open_services(self, settings: Settings) -> Services:
        from calsync.wiring import Services

        self._services = await Services.open(settings, clock=self.clock)
        return self._services

    async def services(self) -> Services:
        return await runtime.current().services()

    async def engine(self) -> SyncEngine:
        return await runtime.current().engine()

    async def subscribe_rooms(self) -> None:
        """Graph subscriptions for every room, recorded in the Subscriptions table as the maintenance
        timer records them in Azure (graph_webhook accepts only notifications of recorded subscriptions)."""
        from calsync.outlook.graph_client import GraphCalendar
        from calsync.store.client import TableStore
        from calsync.store.records import SubscriptionRecord, SubscriptionStore

        assert self.settings is not None
        graph = GraphCalendar.from_settings(self.settings)
        tables = TableStore.from_settings(self.settings)
        try:
            await tables.ensure_tables()
            store = SubscriptionStore(tables)
            expiry = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=self.settings.graph_subscription_minutes)
            for room in self.rooms:
                created = await graph.create_subscription(
                    room.mailbox, notification_url=f"{self.settings.graph_notification_url}?room={room.key}",
                    lifecycle_notification_url=f"{self.settings.graph_lifecycle_url}?room={room.key}",
                    client_state=self.client_state, expiration=expiry,
                )  # fmt: skip
                await store.put(SubscriptionRecord(subscription_id=created.id, room=room.key,
                                                   resource=created.resource or "",
                                                   expires_at=created.expiration_date_time or expiry))  # fmt: skip
        finally:
            await graph.aclose()
            await tables.close()

    async def settle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - one budget for the whole settle
        """Wait until both emulators delivered their notifications and the queues are drained, twice in a row."""
        assert self.queue is not None
        deadline = asyncio.get_running_loop().time() + timeout
        quiet = 0
        while quiet < 2:
            before = self.queue.stats().sent
            await asyncio.to_thread(self.graph.flush_notifications, 10.0)
            if self.booking is not None:
                await asyncio.to_thread(self.booking.flush_webhooks, 10.0)
            if self.mrbs is not None:
                await self.poll_mrbs()
            await self.queue.drain(timeout=max(1.0, deadline - asyncio.get_running_loop().time()))
            quiet = quiet + 1 if self.queue.stats().sent == before else 0
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the local stack did not settle")

    async def poll_mrbs(self) -> None:
        """What the ``mrbs_outbox`` timer does on each tick: outbox rows -> hints on the queue."""
        from calsync.booking.mrbs.poller import poll_from_settings

        current = runtime.current()
        await poll_from_settings(current.settings, current.publisher)

    def live_events(self, mailbox: str) -> list[dict]:
        """The room's events in the Graph emulator that hold the room (not cancelled, not declined by it)."""
        return [e for e in self.graph.events(mailbox)
                if not e.get("isCancelled") and (e.get("responseStatus") or {}).get("response") != "declined"]  # fmt: skip

    def live_bookings(self, room_id: str) -> list[dict]:
        """The room's bookings in the booking system that hold the room (not cancelled, not rejected);
        with MRBS, one row per booking (its repeat row for a series)."""
        if self.mrbs is not None:
            return self.mrbs.live_bookings(int(room_id))
        assert self.booking is not None
        return [b for b in self.booking.bookings()
                if b["room_id"] == room_id and b["status"] not in ("cancelled", "rejected")]  # fmt: skip

    async def stop(self) -> None:
        await self.stop_calsync()
        self.graph.stop()
        if self.booking is not None:
            self.booking.stop()
        if self.postgres is not None and self._own_postgres:
            self.postgres.stop()
        if self.azurite is not None and self._own_azurite:
            self.azurite.stop()

    async def __aenter__(self) -> LocalStack:
        try:
            return await self.start()
        except BaseException:
            await self.stop()
            raise

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
