"""The first sync of existing bookings: plan it (dry run), then apply it with progress.

``plan_backfill`` reads, per room, the Outlook items in the sync window (one
calendarView delta round), the booking system's bookings in the window and the
room's mapping rows, and ``plan_room`` (pure) counts what applying would do:
Outlook items to copy to the booking system, bookings to copy to Outlook, stamped
copies whose mapping is missing (adopted: the mapping is rebuilt, nothing created)
and items already mapped. Nothing is written. A listing shows the booking system's
stamps (external_ref) but not Outlook's (an extended property that delta cannot
expand), so ``to_outlook`` is an upper bound: a booking whose Outlook copy exists is
adopted when its copy is processed first, which ``apply_backfill`` ensures.

``apply_backfill`` runs the sync engine's decision for every unmapped item, rooms in
parallel (``concurrency`` rooms at a time) and the items of a room in order, Outlook
items first (so Outlook copies of bookings rebuild their mapping from their stamp before
their booking original is looked at). A room runs through ``RoomBackfill``
(calsync.maintenance.room_backfill): the room is listed once (both sides with content,
the mapping rows), each item's decision is answered from that listing instead of a
request per read, the creates it decides go out together (Graph JSON batches; booking
creates a few at a time) and their mappings are written per transaction; whatever is not
a plain create goes through ``SyncEngine.handle``. ``progress`` is called after every
item with a ``BackfillProgress``. A hint racing with a webhook for the same item loses
on the mapping (ConcurrencyError) and is looked at again through the engine; the
engine's idempotency keys and stamps keep that free of duplicates, and a crash leaves
stamped copies that the next run adopts. A room whose mass-deletion guard trips is
skipped for the rest of the run; other failures are counted and reported, and the run
goes on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from calsync.booking.protocol import BookingSystem
from calsync.errors import CalsyncError, MassDeletionGuardTripped
from calsync.maintenance.reconcile import Seen, outlook_seen
from calsync.maintenance.room_backfill import Report, RoomBackfill, report_of, through_engine
from calsync.model import ChangeHint, HintReason, Side
from calsync.model.mapping import MappingRow
from calsync.settings import Room, Settings
from calsync.store.client import TableStore
from calsync.store.mappings import MappingStore

if TYPE_CHECKING:
    from calsync.sync.engine import SyncEngine
    from calsync.sync.outlook_side import OutlookSide
    from calsync.sync.window import SyncWindow
    from calsync.wiring import Services

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class StampedSeen:
    """A booking in a listing: its id and the Outlook id it is a copy of (external_ref), if any."""

    item_id: str
    stamp: str | None


@dataclass(frozen=True)
class RoomPlan:
    """What the first sync of one room would do."""

    room: str
    outlook_items: int
    booking_items: int
    mapped: int  # items already mapped (either side): nothing to do
    to_booking: int  # Outlook items that would be copied to the booking system
    to_outlook: int  # bookings that would be copied to Outlook (an upper bound, see the module docstring)
    adopt: int  # stamped copies without a mapping: mapping rebuilt, nothing created
    outlook_ids: tuple[str, ...] = ()  # the items apply processes, Outlook first
    booking_ids: tuple[str, ...] = ()

    @property
    def work(self) -> int:
        return len(self.outlook_ids) + len(self.booking_ids)


@dataclass(frozen=True)
class BackfillPlan:
    rooms: tuple[RoomPlan, ...]

    @property
    def work(self) -> int:
        return sum(room.work for room in self.rooms)

    def totals(self) -> dict[str, int]:
        names = ("outlook_items", "booking_items", "mapped", "to_booking", "to_outlook", "adopt")
        return {name: sum(getattr(room, name) for room in self.rooms) for name in names}


def plan_room(room: str, outlook: Sequence[Seen], booking: Sequence[StampedSeen],
              mappings: Sequence[MappingRow]) -> RoomPlan:  # fmt: skip
    """The first-sync plan of one room from its listings and mapping rows (pure)."""
    mapped_outlook = {m.outlook_id for m in mappings if m.outlook_id}
    mapped_booking = {m.booking_id for m in mappings if m.booking_id}
    stamped = {b.stamp for b in booking if b.stamp}
    outlook_ids = [o.item_id for o in outlook if o.item_id not in mapped_outlook]
    booking_ids = [b.item_id for b in booking if b.item_id not in mapped_booking]
    unmapped_copies = [b for b in booking if b.item_id not in mapped_booking and b.stamp]
    to_booking = sum(1 for item_id in outlook_ids if item_id not in stamped)
    to_outlook = sum(1 for b in booking if b.item_id not in mapped_booking and not b.stamp)
    mapped = sum(1 for o in outlook if o.item_id in mapped_outlook) + sum(
        1 for b in booking if b.item_id in mapped_booking
    )
    return RoomPlan(room=room, outlook_items=len(outlook), booking_items=len(booking), mapped=mapped,
                    to_booking=to_booking, to_outlook=to_outlook, adopt=len(unmapped_copies),
                    outlook_ids=tuple(outlook_ids), booking_ids=tuple(booking_ids))  # fmt: skip


async def plan_backfill(settings: Settings, outlook: OutlookSide, booking: BookingSystem, tables: TableStore, *,
                        window: SyncWindow, rooms: Sequence[Room] | None = None,
                        concurrency: int = 8) -> BackfillPlan:  # fmt: skip
    """List both sides of every room (or ``rooms``) in the sync window; writes nothing."""
    start, end = window.bounds()
    mappings = MappingStore(tables)
    slots = asyncio.Semaphore(concurrency)

    async def one(room: Room) -> RoomPlan:
        async with slots:
            delta = (await outlook.changes_since(room, None, window=(start, end))).changed
            records = [StampedSeen(r.id, r.external_ref)
                       async for r in booking.list_bookings(room.booking_room_id, start, end)]  # fmt: skip
            rows = await mappings.list_room(room.key)
        return plan_room(room.key, outlook_seen(delta), records, rows)

    chosen = list(settings.rooms if rooms is None else rooms)
    return BackfillPlan(tuple(await asyncio.gather(*(one(room) for room in chosen))))


@dataclass(frozen=True)
class BackfillProgress:
    """Reported after every item: where the room and the whole run stand."""

    room: str
    done: int
    total: int
    overall_done: int
    overall_total: int
    action: str | None = None
    error: str | None = None


@dataclass
class BackfillResult:
    handled: int = 0
    failed: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    held_rooms: list[str] = field(default_factory=list)
    rechecked: int = 0  # decided creates that went through the engine once more (see RoomBackfill)
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.handled / self.seconds if self.seconds else 0.0


async def apply_backfill(plan: BackfillPlan, engine: SyncEngine, *, concurrency: int = 8,
                         progress: Callable[[BackfillProgress], None] | None = None,
                         batch_creates: bool = True) -> BackfillResult:  # fmt: skip
    """Sync every planned item (see the module docstring); never raises for one item.

    With ``batch_creates`` (the default) each room runs through ``RoomBackfill`` (decisions from
    the room's listing, creates in bulk, mappings per transaction); otherwise every item goes
    through the engine, one at a time (the figure before, for the bench).
    """
    result = BackfillResult()
    overall_total, started = plan.work, time.perf_counter()
    slots = asyncio.Semaphore(concurrency)

    async def one(room_plan: RoomPlan) -> None:
        async with slots:
            items = [(Side.OUTLOOK, i) for i in room_plan.outlook_ids] + [
                (Side.BOOKING, i) for i in room_plan.booking_ids
            ]
            done = 0

            def report(side: Side, item_id: str, action: str | None, error: str | None) -> None:
                nonlocal done
                done += 1
                if action is not None:
                    result.actions[action] += 1
                if error is not None:
                    result.failed += 1
                    result.errors.append(f"{room_plan.room} {side.value} {item_id}: {error}")
                result.handled += 1
                if progress is not None:
                    progress(BackfillProgress(room_plan.room, done, len(items), result.handled, overall_total,
                                              action, error))  # fmt: skip

            def reports(answers: list[Report]) -> None:
                for answer in answers:
                    report(answer.hint.source, answer.hint.item_id, answer.action, answer.error)

            room = RoomBackfill(engine, room_plan.room) if batch_creates else None
            try:
                if room is not None and items:
                    await room.start()
                for side, item_id in items:
                    hint = ChangeHint(source=side, room=room_plan.room, item_id=item_id, reason=HintReason.RECONCILE,
                                      observed_at=engine.clock())  # fmt: skip
                    try:
                        if room is not None:
                            reports(await room.offer(hint))
                        else:
                            report(side, item_id, report_of(hint, await through_engine(engine, hint)).action, None)
                    except CalsyncError as exc:
                        if isinstance(exc, MassDeletionGuardTripped):
                            raise
                        report(side, item_id, None, f"{type(exc).__name__}: {exc}")
                if room is not None:
                    reports(await room.flush())
                    result.rechecked += room.rechecked
            except MassDeletionGuardTripped as exc:
                if room is not None:  # creates decided before the guard tripped go out, as the engine's would have
                    reports(await room.flush())
                result.held_rooms.append(room_plan.room)
                result.errors.append(f"{room_plan.room}: {exc}")
                log.error("backfill of room %s stopped: %s", room_plan.room, exc)
            except CalsyncError as exc:  # the room could not be listed: its items are left for the next run
                result.errors.append(f"{room_plan.room}: {type(exc).__name__}: {exc}")
                result.failed += len(items) - done
                log.error("backfill of room %s stopped: %s", room_plan.room, exc)

    await asyncio.gather(*(one(room_plan) for room_plan in plan.rooms))
    result.seconds = time.perf_counter() - started
    return result


async def plan_backfill_for(services: Services, *, rooms: Sequence[Room] | None = None) -> BackfillPlan:
    """``plan_backfill`` over the process's Outlook side, booking system, tables and clock."""
    return await plan_backfill(services.settings, services.outlook, services.booking, services.tables,
                               window=services.window, rooms=rooms)  # fmt: skip
