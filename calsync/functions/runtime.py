"""The process's wiring: Settings built once, the queue publisher, and the sync engine built on first use.

Functions gives each worker process one module namespace, so the wiring lives
here instead of in globals scattered over trigger modules. The HTTP triggers use
only ``settings`` and ``publisher``; the engine (and with it msgraph-sdk, which is
slow to import) is built lazily by the queue triggers, so the webhook path never
imports the Graph SDK. Tests and the local run ``install()`` a runtime of their own
(Azurite, emulators, the in-process queue).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from calsync.queues.publisher import HintPublisher
from calsync.settings import Settings, load_settings

if TYPE_CHECKING:
    from calsync.store.client import TableStore
    from calsync.sync.engine import SyncEngine
    from calsync.webhooks.replay import ReplayGuard
    from calsync.webhooks.subscriptions import SubscriptionDirectory

EngineFactory = Callable[[Settings], Awaitable["SyncEngine"]]


class Runtime:
    def __init__(self, settings: Settings, *, publisher: HintPublisher | None = None,
                 engine_factory: EngineFactory | None = None, subscriptions: SubscriptionDirectory | None = None,
                 replays: ReplayGuard | None = None) -> None:  # fmt: skip
        self.settings = settings
        self._publisher = publisher
        self._tables: TableStore | None = None
        self._subscriptions = subscriptions
        self._replays = replays
        self._engine_factory = engine_factory
        self._engine: SyncEngine | None = None
        self._engine_lock = asyncio.Lock()

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

            self._tables = TableStore.from_settings(self.settings)
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
        """Close the webhooks' table client, if it was built (the engine closes its own)."""
        if self._tables is not None:
            await self._tables.close()
            self._tables = None

    def use_publisher(self, publisher: HintPublisher) -> HintPublisher:
        """Swap the publisher (tests that hold hints back); returns the previous one."""
        previous, self._publisher = self.publisher, publisher
        return previous

    async def engine(self) -> SyncEngine:
        async with self._engine_lock:
            if self._engine is None:
                factory = self._engine_factory or default_engine
                self._engine = await factory(self.settings)
            return self._engine


async def default_engine(settings: Settings) -> SyncEngine:
    """The production engine: Table Storage, Graph through msgraph-sdk, the booking system over REST."""
    from calsync.sync.wiring import build_engine

    return await build_engine(settings)


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


def install(runtime: Runtime | None) -> None:
    """Use ``runtime`` for this process (tests, the local run); None resets to the environment's."""
    global _current
    _current = runtime
