"""`calsync reconcile|backfill`: maintenance run by an operator instead of the timer.

Each operation opens the production Services (calsync.wiring: Table Storage, Graph,
the booking system) for the duration of one command and closes them afterwards. Reconcile and subscription
work publish onto the queues through the publisher the caller gives (Service Bus in
production), so the deployed sync_change function does the syncing; backfill's
``apply`` drives the engine directly, room by room, reporting progress per item.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING

from calsync.errors import ValidationError
from calsync.maintenance.backfill import (
    BackfillPlan,
    BackfillProgress,
    BackfillResult,
    apply_backfill,
    plan_backfill_for,
)
from calsync.maintenance.reconcile import ReconcileReport
from calsync.queues.publisher import HintPublisher
from calsync.settings import Room, Settings

if TYPE_CHECKING:
    from calsync.wiring import Services


def rooms_named(settings: Settings, keys: Sequence[str]) -> list[Room]:
    """The configured rooms with these keys (all rooms for none); ValidationError naming an unknown key."""
    if not keys:
        return list(settings.rooms)
    unknown = [key for key in keys if settings.room(key) is None]
    if unknown:
        configured = ", ".join(room.key for room in settings.rooms) or "none (ROOMS is empty)"
        raise ValidationError(f"unknown room(s) {', '.join(unknown)}; configured rooms: {configured}")
    return [room for key in keys if (room := settings.room(key)) is not None]


@contextlib.asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    from calsync.wiring import Services  # opening imports msgraph: only for the commands that need it

    services = await Services.open(settings)
    try:
        yield services
    finally:
        await services.close()


async def reconcile(settings: Settings, publisher: HintPublisher, keys: Sequence[str], *,
                    full: bool = False) -> list[ReconcileReport]:  # fmt: skip
    """Reconcile the rooms now: their changes since the last reconcile (or a full compare) become hints."""
    rooms = rooms_named(settings, keys)
    async with open_services(settings) as services:
        service = services.maintenance(publisher)
        return [await service.reconciler.reconcile_room(room, full=full) for room in rooms]


async def plan_first_sync(settings: Settings, keys: Sequence[str] = ()) -> BackfillPlan:
    """What a backfill would do per room; writes nothing."""
    rooms = rooms_named(settings, keys)
    async with open_services(settings) as services:
        return await plan_backfill_for(services, rooms=rooms)


async def apply_first_sync(settings: Settings, keys: Sequence[str] = (), *,
                           progress: Callable[[BackfillProgress], None] | None = None,
                           planned: Callable[[BackfillPlan], None] | None = None) -> BackfillResult:  # fmt: skip
    """Plan, then perform the first sync of the rooms' existing bookings, reporting each item."""
    rooms = rooms_named(settings, keys)
    async with open_services(settings) as services:
        plan = await plan_backfill_for(services, rooms=rooms)
        if planned is not None:
            planned(plan)
        return await apply_backfill(plan, services.engine, progress=progress)
