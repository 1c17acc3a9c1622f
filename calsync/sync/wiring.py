"""Builds the production SyncEngine from Settings: Table Storage, Graph via msgraph-sdk, the booking REST API.

Importing this module imports msgraph-sdk; only the queue and timer triggers
(through calsync.functions.runtime) and the local run do so.
"""

from __future__ import annotations

from calsync.booking.rest_client import BookingRestClient
from calsync.model import Side
from calsync.outlook.graph_client import GraphCalendar
from calsync.settings import Settings
from calsync.store.client import TableStore
from calsync.sync.booking_side import BookingSide
from calsync.sync.engine import Clock, SyncEngine
from calsync.sync.outlook_side import OutlookSide
from calsync.sync.window import SyncWindow, utc_now


async def build_engine(settings: Settings, *, clock: Clock | None = None) -> SyncEngine:
    tables = TableStore.from_settings(settings)
    await tables.ensure_tables()
    now = clock or utc_now
    window = SyncWindow.days(settings.sync_window_past_days, settings.sync_window_future_days, now)
    outlook = OutlookSide(GraphCalendar.from_settings(settings), private_subject=settings.private_subject,
                          window=window)  # fmt: skip
    booking = BookingSide(BookingRestClient.from_settings(settings))
    return SyncEngine(settings, tables, {Side.OUTLOOK: outlook, Side.BOOKING: booking}, clock=now, window=window)
