"""The worker process's runtime: Settings built once, the queue publisher, and the Services built on first use.

Functions gives each worker process one module namespace, so the process's one
Runtime lives here instead of in globals scattered over trigger modules. The HTTP
triggers use only ``settings`` and ``publisher``; the Services (calsync.wiring: the
tables, both sides, the engine; with them msgraph-sdk, which is slow to import) are
built lazily by the queue and timer triggers, so the webhook path never imports the
Graph SDK. Tests and the local run use a runtime of their own for the span of a
``with runtime.installed(rt):`` block (Azurite, emulators, the in-process queue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

from calsync.queues.publisher import HintPublisher
from calsync.settings import Settings, load_settings

if TYPE_CHECKING:
    from calsync.maintenance.jobs import MaintenanceService
    from calsync.rooms.directory import RoomDirectory
    from calsync.store.client import TableStore
    from calsync.store.own_versions import OwnVersions
    from calsync.sync.engine import SyncEngine
    from calsync.webhooks.replay import ReplayGuard
    from calsync.webhooks.subscriptions import SubscriptionDirectory
    from calsync.wiring import Services

ServicesFactory = Callable[[Settings], Awaitable["Services"]]


class Runtime:
    def __init__(self, settings: Settings, *, publisher: HintPublisher | None = None,
                 services_factory: ServicesFactory | None = None, subscriptions: SubscriptionDirectory | None = None,
                 replays: ReplayGuard | None = None) -> None:  # fmt: skip
        self.settings = settings
        self._publisher = publisher
        self._tables: TableStore | None = None
        self._subscriptions = subscriptions
        self._replays = replays
        self._services_factory = services_factory
        self._services: Services | None = None
        self._services_lock = asyncio.Lock()
        self._rooms: RoomDirectory | None = None

    @property
    def publisher(self) -> HintPublisher:
        if self._publisher is None:
            from calsync.queues.publisher import shared_service_bus_publisher

            self._publisher = shared_service_bus_publisher(self.settings)
        return self._publisher

    @property
    def tables(self) -> TableStore:
        """The webhooks' own table client (the engine builds its own): subscriptions and replay markers."""
        if self._tables is None:
            from calsync.store.client import TableStore

            # one retry at most: a webhook answers in milliseconds (Graph wants 3 s at most)
            self._tables = TableStore.from_settings(self.settings, retry_total=1, retry_backoff_factor=0.2)
        return self._tables

    @property
    def subscriptions(self) -> SubscriptionDirectory:
        """calsync's live Graph subscriptions by room, cached (graph_webhook, graph_lifecycle)."""
        if self._subscriptions is None:
            from calsync.webhooks.subscriptions import table_directory

            self._subscriptions = table_directory(self.tables)
        return self._subscriptions

    @property
    def replays(self) -> ReplayGuard:
        """Seen booking-webhook signatures (booking_webhook's replay protection)."""
        if self._replays is None:
            from calsync.booking.webhook_signature import DEFAULT_TOLERANCE_SECONDS
            from calsync.webhooks.replay import ReplayGuard

            self._replays = ReplayGuard(self.tables.table("WebhookReplays"), tolerance=DEFAULT_TOLERANCE_SECONDS)
        return self._replays

    async def aclose(self) -> None:
        """Close the webhooks' table client, if it was built (the Services close their own)."""
        if self._tables is not None:
            await self._tables.close()
            self._tables = None
            self._rooms = None

    def use_publisher(self, publisher: HintPublisher) -> HintPublisher:
        """Swap the publisher (tests that hold hints back); returns the previous one."""
        previous, self._publisher = self.publisher, publisher
        return previous

    @property
    def rooms(self) -> RoomDirectory:
        """The rooms registry for the webhooks: the Services' one once built, else its own (no msgraph import).

        Its own reads the table with one retry at most (a webhook answers in milliseconds) and falls back
        to the ROOMS seed when the table cannot be read (calsync.rooms.directory).
        """
        if self._services is not None:
            return self._services.rooms
        if self._rooms is None:
            from calsync.rooms.directory import RoomDirectory
            from calsync.store.rooms import RoomStore

            self._rooms = RoomDirectory(RoomStore(self.tables), self.settings.rooms, fallback_to_seed=True)
        return self._rooms

    async def services(self) -> Services:
        """The process's Services, built on first use (the production ones unless a factory was given)."""
        async with self._services_lock:
            if self._services is None:
                factory = self._services_factory or default_services
                self._services = await factory(self.settings)
            return self._services

    @property
    def own_versions(self) -> OwnVersions | None:
        """The versions this process's engine wrote, once it runs here: the webhooks stop their echoes."""
        engine = self._services.started_engine if self._services is not None else None
        return engine.own_versions if engine is not None else None

    async def engine(self) -> SyncEngine:
        engine = (await self.services()).engine
        if engine.publisher is None:  # the engine hints a booking's old room on this queue (calsync.sync.moves)
            engine.publisher = self.publisher
        return engine

    async def maintenance(self) -> MaintenanceService:
        from calsync.onboarding.job import run_onboarding_job

        services = await self.services()
        service = services.maintenance(self.publisher)
        service.onboard = lambda job: run_onboarding_job(services, job)  # onboarding jobs on the reconcile queue
        return service


async def default_services(settings: Settings) -> Services:
    """The production services: Table Storage, Graph through msgraph-sdk, the booking system over REST."""
    from calsync.wiring import Services

    return await Services.open(settings)


_current: Runtime | None = None


def current() -> Runtime:
    """This process's runtime, built from the environment (and telemetry configured) on first use."""
    global _current
    if _current is None:
        settings = load_settings()
        from calsync.telemetry import configure_telemetry

        configure_telemetry(settings)
        _current = Runtime(settings)
    return _current


def start_up() -> Runtime | None:
    """Build the runtime (and configure telemetry) when the worker loads the app, not on the first request.

    Graph drops a subscription whose validation handshake takes over 10 s, and wants
    notifications answered within 3 s: the first webhook must not pay for settings and
    Azure Monitor set-up. Invalid settings are logged here and raised again, with the
    same message, by the first function that needs them; indexing the app still works.
    """
    from calsync.errors import ConfigurationError

    try:
        return current()
    except ConfigurationError as exc:
        logging.getLogger(__name__).error("calsync cannot start: %s", exc.message)
        return None


@contextlib.contextmanager
def installed(runtime: Runtime) -> Iterator[Runtime]:
    """Use ``runtime`` for this process inside the block (tests, the local run), then the previous one again."""
    global _current
    previous, _current = _current, runtime
    try:
        yield runtime
    finally:
        _current = previous
