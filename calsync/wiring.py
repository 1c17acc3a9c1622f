"""calsync's dependencies, built once from Settings: the tables, both sides, the clock and the sync window.

``Services.open(settings)`` is the one place that assembles them, for the Functions
worker (calsync.functions.runtime), the operator commands (calsync.operations) and
the local stack; ``open_tables`` opens only the tables, for the read-only commands. The engine, the reconciler, the subscription keeper and backfill
take what they need from it; nobody pulls clients back out of an engine.

Importing this module is cheap; ``open`` imports msgraph-sdk (through the Graph
adapter), so only the queue and timer triggers and the commands that talk to Graph
call it, never the webhook path.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from calsync.model import Side
from calsync.settings import Settings
from calsync.store.client import TABLE_NAMES, TableStore
from calsync.sync.window import Clock, SyncWindow, utc_now

if TYPE_CHECKING:
    from calsync.booking.protocol import BookingSystem
    from calsync.maintenance.jobs import MaintenanceService
    from calsync.outlook.graph_client import GraphCalendar
    from calsync.queues.publisher import HintPublisher
    from calsync.rooms.directory import RoomDirectory
    from calsync.sync.engine import SyncEngine
    from calsync.sync.outlook_side import OutlookSide
    from calsync.sync.sides import CalendarSide


@dataclass
class Services:
    settings: Settings
    tables: TableStore
    clock: Clock
    window: SyncWindow
    graph: GraphCalendar
    booking: BookingSystem
    outlook: OutlookSide  # the Outlook side, which also lists for reconcile and backfill (delta, calendar view)
    sides: dict[Side, CalendarSide]
    rooms: RoomDirectory  # the rooms registry (Table Storage, ROOMS as seed): which rooms, in which state
    _engine: SyncEngine | None = field(default=None, repr=False)

    @classmethod
    async def open(cls, settings: Settings, *, clock: Clock | None = None) -> Services:
        """Build everything from ``settings``; the tables are created when missing."""
        from calsync.booking.factory import booking_system_from_settings
        from calsync.outlook.graph_client import GraphCalendar
        from calsync.rooms import room_map
        from calsync.rooms.directory import RoomDirectory
        from calsync.store.rooms import RoomStore
        from calsync.sync.booking_side import BookingSide
        from calsync.sync.outlook_side import OutlookSide

        now = clock or utc_now
        window = SyncWindow.days(settings.sync_window_past_days, settings.sync_window_future_days, now)
        tables = TableStore.from_settings(settings)
        await tables.ensure_tables()
        graph = GraphCalendar.from_settings(settings)
        booking = booking_system_from_settings(settings)
        from calsync.room_options import options_for

        rooms = RoomDirectory(RoomStore(tables), settings.rooms)
        room_map.attach(booking, rooms)
        outlook = OutlookSide(graph, private_subject=settings.private_subject, window=window,
                              options=lambda room: options_for(settings, room))  # fmt: skip
        booking_side = BookingSide(booking, scope=lambda room: options_for(settings, room).booking_scope)
        sides: dict[Side, CalendarSide] = {Side.OUTLOOK: outlook, Side.BOOKING: booking_side}
        return cls(settings, tables, now, window, graph, booking, outlook, sides, rooms)

    @property
    def started_engine(self) -> SyncEngine | None:
        """The engine if it was built in this process (None: nothing was synced here yet)."""
        return self._engine

    @property
    def engine(self) -> SyncEngine:
        """The sync engine over these services (one per process)."""
        if self._engine is None:
            from calsync.sync.engine import SyncEngine

            self._engine = SyncEngine(self.settings, self.tables, self.sides, clock=self.clock, window=self.window,
                                      rooms=self.rooms)  # fmt: skip
        return self._engine

    def maintenance(self, publisher: HintPublisher) -> MaintenanceService:
        """Subscriptions and reconciliation over these services, publishing onto ``publisher``."""
        from calsync.maintenance.jobs import MaintenanceService

        return MaintenanceService.build(self.settings, self.graph, self.outlook, self.booking, self.tables,
                                        publisher, clock=self.clock, window=self.window, rooms=self.rooms)  # fmt: skip

    async def close(self) -> None:
        """Close both sides' HTTP clients and the table client."""
        for side in self.sides.values():
            await side.close()
        await self.tables.close()


@contextlib.asynccontextmanager
async def open_tables(settings: Settings) -> AsyncIterator[TableStore]:
    """Only the TableStore, for one operator command. Raises StoreError when Table Storage is unreachable.

    Missing tables are created (a fresh deployment then reads as empty instead of failing);
    when all exist nothing is written, so read-only commands work with a reader role.
    """
    tables = TableStore.from_settings(settings)
    try:
        if await tables.ping() < len(TABLE_NAMES):
            await tables.ensure_tables()
        yield tables
    finally:
        await tables.close()
