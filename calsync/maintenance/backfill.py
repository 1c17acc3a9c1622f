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

``apply_backfill`` calls the sync engine directly for every unmapped item, rooms in
parallel (``concurrency`` rooms at a time) and one item at a time within a room,
the order a Service Bus session would impose, so conflict checks stay race-free.
The Outlook copies of bookings are the exception in how they are written, not in
what is decided: ``BatchedCreates`` runs the engine's decision for each booking and
holds back the creates it answers, then sends them as Graph JSON batches (20 per
batch, at most 4 in flight per mailbox, throttled items again) and saves each
mapping as the engine's Create does; an item that failed goes through the engine.
Outlook items go first, so Outlook copies of bookings rebuild their mapping from
their stamp before their booking original is looked at. Calling the engine (rather
than enqueuing hints) lets the caller show real progress and errors: ``progress`` is
called after every item with a ``BackfillProgress``. A hint racing with a webhook for
the same item loses on the mapping's ETag (ConcurrencyError) and is retried once; the
engine's idempotency keys and stamps keep that free of duplicates. A room whose
mass-deletion guard trips is skipped for the rest of the run; other failures are
counted and reported, and the run goes on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from calsync.booking.protocol import BookingSystem
from calsync.errors import CalsyncError, ConcurrencyError, MassDeletionGuardTripped
from calsync.maintenance.reconcile import Seen, outlook_seen
from calsync.model import ChangeHint, HintReason, Side
from calsync.model.mapping import MappingRow
from calsync.settings import Room, Settings
from calsync.store.client import TableStore
from calsync.store.mappings import MappingStore
from calsync.sync.actions import Create, SkipEcho, SkipUnchanged
from calsync.sync.context import SyncContext
from calsync.sync.plan import decide
from calsync.sync.reads import Read
from calsync.sync.state import Facts, ItemState
from calsync.sync.translate import desired_copy
from calsync.telemetry import metrics

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
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.handled / self.seconds if self.seconds else 0.0


async def apply_backfill(plan: BackfillPlan, engine: SyncEngine, *, concurrency: int = 8,
                         progress: Callable[[BackfillProgress], None] | None = None,
                         batch_creates: bool = True) -> BackfillResult:  # fmt: skip
    """Sync every planned item (see the module docstring); never raises for one item.

    With ``batch_creates`` (the default) the Outlook copies of a room's bookings are created
    through JSON batches (``BatchedCreates``); otherwise every item goes through the engine.
    """
    result = BackfillResult()
    overall_total, started = plan.work, time.perf_counter()
    slots = asyncio.Semaphore(concurrency)

    async def handle(hint: ChangeHint) -> str:
        try:
            outcome = await engine.handle(hint)
        except ConcurrencyError:
            outcome = await engine.handle(hint)  # a webhook's hint won the race: look again
        return outcome.action.value if outcome.action is not None else "none"

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

            batch = BatchedCreates(engine, room_plan.room, handle) if batch_creates else None
            try:
                for side, item_id in items:
                    hint = ChangeHint(source=side, room=room_plan.room, item_id=item_id, reason=HintReason.RECONCILE,
                                      observed_at=engine.clock())  # fmt: skip
                    try:
                        if batch is not None and side is Side.BOOKING:
                            if await batch.offer(hint):
                                continue  # its create waits for the room's batches; reported by flush
                            action = batch.last_action
                        else:
                            action = await handle(hint)
                    except CalsyncError as exc:
                        if isinstance(exc, MassDeletionGuardTripped):
                            raise
                        report(side, item_id, None, f"{type(exc).__name__}: {exc}")
                        continue
                    report(side, item_id, action, None)
                if batch is not None:
                    for item_id, action, error in await batch.flush():
                        report(Side.BOOKING, item_id, action, error)
            except MassDeletionGuardTripped as exc:
                if batch is not None:  # creates decided before the guard tripped go out, as the engine's would have
                    for item_id, action, error in await batch.flush():
                        report(Side.BOOKING, item_id, action, error)
                result.held_rooms.append(room_plan.room)
                result.errors.append(f"{room_plan.room}: {exc}")
                log.error("backfill of room %s stopped: %s", room_plan.room, exc)

    await asyncio.gather(*(one(room_plan) for room_plan in plan.rooms))
    result.seconds = time.perf_counter() - started
    return result


class BatchedCreates:
    """The batch path beside the engine: a room's Outlook creates of backfill, sent as JSON batches.

    ``offer(hint)`` runs the engine's own decision for a booking hint, read by read, exactly
    as ``SyncEngine`` does (``decide`` until it answers an action). When the action is a
    ``Create`` of the Outlook copy, the create is held back and ``offer`` answers True;
    any other action is carried out now (a skip as it is, everything else through
    ``engine.handle``, which reads again) and ``last_action`` names it. Holding creates back
    does not change later decisions of the room: they read the booking system (the
    sources and their overlaps, all present already) and the Outlook copy stamped with
    *their own* booking id, never the copies still waiting.

    ``flush()`` creates the waiting copies with ``OutlookSide.create_many`` (batches of 20,
    at most 4 in flight for the mailbox, each POST with the create's transactionId) and
    saves each mapping exactly as ``Create.run`` does (``SyncContext.save`` with the
    source, the created copy and the mapping read). An item whose create failed, or whose
    mapping save lost a race, goes through ``engine.handle`` once more, one at a time: the
    same idempotency key and the stamp make that free of duplicates (a create that did
    happen is found by its stamp and adopted).
    """

    def __init__(self, engine: SyncEngine, room_key: str, handle: Callable[[ChangeHint], Awaitable[str]]) -> None:
        room = engine.settings.room(room_key)
        if room is None:
            raise ValueError(f"room {room_key!r} is not configured")
        self.engine = engine
        self.room = room
        self.handle = handle
        self.ctx = SyncContext(room=room, sides=engine.sides, stores=engine.stores, policy=engine.policy,
                               clock=engine.clock,
                               deletion_window=dt.timedelta(minutes=engine.settings.mass_delete_window_minutes))  # fmt: skip
        self.waiting: list[tuple[ChangeHint, Create]] = []
        self.last_action: str | None = None

    async def offer(self, hint: ChangeHint) -> bool:
        now = self.engine.clock()
        facts = Facts(hint=hint, now=now, window=self.engine.window.bounds(now))
        step = decide(facts, self.engine.policy)
        while isinstance(step, Read):
            facts = await step.fetch(self.ctx, facts)
            step = decide(facts, self.engine.policy)
        if isinstance(step, Create) and step.source.side is Side.BOOKING and step.source.booking is not None:
            metrics.record_hint(hint)
            self.waiting.append((hint, step))
            return True
        if isinstance(step, SkipEcho | SkipUnchanged):
            metrics.record_hint(hint)
            metrics.record_action(step.telemetry, room=self.room.key, source=hint.source.value)
            self.last_action = step.kind.value
        else:  # the engine reads again and records the hint itself
            self.last_action = await self.handle(hint)
        return False

    async def flush(self) -> list[tuple[str, str | None, str | None]]:
        """Create the waiting copies; per item (booking id, action, error)."""
        waiting, self.waiting = self.waiting, []
        if not waiting:
            return []
        policy = self.engine.policy
        from calsync.sync.outlook_side import OutlookSide  # msgraph: only when there is something to create

        outlook = self.engine.sides[Side.OUTLOOK]
        assert isinstance(outlook, OutlookSide)
        items = [(desired_copy(create.source.booking, private_subject=policy.private_subject),  # type: ignore[arg-type]
                  create.source.item_id, create.idempotency_key) for _, create in waiting]  # fmt: skip
        copies = await outlook.create_many(self.room, items)
        out: list[tuple[str, str | None, str | None]] = []
        for (hint, create), copy in zip(waiting, copies, strict=True):
            try:
                if isinstance(copy, ItemState):
                    try:
                        await self.ctx.save(create.source, copy, create.mapping)
                    except ConcurrencyError:
                        # The copy's own notification was faster: its hint adopted the copy by its stamp and
                        # saved the mapping. The engine looks again (and finds it in order); the create was ours.
                        await self.handle(hint)
                        out.append((hint.item_id, create.kind.value, None))
                        continue
                    lag = metrics.lag_seconds(hint.observed_at, self.engine.clock())
                    metrics.record_action(create.telemetry, room=self.room.key, source=hint.source.value,
                                          lag_seconds=lag)  # fmt: skip
                    out.append((hint.item_id, create.kind.value, None))
                elif copy.retryable:
                    log.info("backfill: batched create of %s failed (%s); one more try through the engine",
                             hint.item_id, type(copy).__name__)  # fmt: skip
                    out.append((hint.item_id, await self.handle(hint), None))
                else:
                    metrics.record_failure(copy, room=self.room.key, side=hint.source.value)
                    out.append((hint.item_id, None, f"{type(copy).__name__}: {copy}"))
            except MassDeletionGuardTripped:
                raise
            except CalsyncError as exc:
                out.append((hint.item_id, None, f"{type(exc).__name__}: {exc}"))
        return out


async def plan_backfill_for(services: Services, *, rooms: Sequence[Room] | None = None) -> BackfillPlan:
    """``plan_backfill`` over the process's Outlook side, booking system, tables and clock."""
    return await plan_backfill(services.settings, services.outlook, services.booking, services.tables,
                               window=services.window, rooms=rooms)  # fmt: skip
