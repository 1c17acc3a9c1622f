"""Reconciliation: what the notifications missed, turned into ChangeHints on "changes" (the engine does the work).

Per room (``Reconciler.reconcile_room``), Outlook side:

- incremental: one calendarView delta round from the stored deltaLink (CursorStore,
  kind graph-delta). Each changed event (an occurrence counts as its series) whose
  changeKey differs from the one the mapping holds, and each removed event that is
  mapped, becomes a hint; the new deltaLink is saved. A room with no changes costs
  exactly one Graph request, whatever its number of bookings.
- full compare, when the deltaLink is missing, Graph answers 410 (SyncStateExpired),
  the job asks for it (``full=True``) or the last one is older than
  ``FULL_COMPARE_EVERY`` (6 h): a fresh delta round over the sync window (which also
  gives the new deltaLink and moves the delta window along with time) and the booking
  system's bookings in the window are compared with the room's mapping rows
  (``compare``, pure): unmapped items (new, or stamped copies whose mapping was lost:
  the engine adopts them from their stamp), drift (version differs from the mapping:
  an edit made with no notification) and orphans (a mapping whose item is gone from
  one side while the other is still there) become hints. Series are always hinted
  in a full compare (their occurrences do not show the master's changeKey). Outlook
  hints are published before booking hints, so an Outlook copy rebuilds its mapping
  before its booking original is looked at, and no duplicate is created.

Booking side (``Reconciler.sweep_booking_feed``, once per maintenance run): the
booking system's change feed is system-wide (ids only, no room), so it is read once
from one cursor (CursorStore kind booking-feed, key ``FEED_KEY``) instead of once per
room. Each changed booking is read to learn its room (booking-system requests only)
and hinted unless its version equals the mapping's (calsync's own write); each
deleted id is hinted in the rooms whose mapping holds it. A lost or expired cursor
(ChangeFeedExpired) -> the feed is walked to its head for a fresh cursor and the
caller asks every room for a full compare.

Hints carry reason=reconcile and no version, so their MessageIds never collide with
a webhook's hint for the same change (the engine is idempotent either way).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from calsync.booking.protocol import BookingRecord, BookingSystem, ChangeFeedExpired
from calsync.errors import NotFound, SyncStateExpired
from calsync.model import ChangeHint, ChangeKind, HintReason, Side
from calsync.model.mapping import MappingRow
from calsync.queues.publisher import HintPublisher
from calsync.rooms.directory import RoomDirectory
from calsync.rooms.gate import rooms_to_reconcile
from calsync.settings import Room, Settings
from calsync.store.client import TableStore
from calsync.store.mappings import MappingStore
from calsync.store.records import Cursor, CursorKind, CursorStore

if TYPE_CHECKING:
    from calsync.sync.outlook_side import Changes, OutlookSide
    from calsync.sync.state import ItemState
    from calsync.sync.window import SyncWindow

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

FULL_COMPARE_EVERY = dt.timedelta(hours=6)
"""A room's incremental reconcile becomes a full compare when the last one is older than this."""
FULL_COMPARE_KIND = "full-compare"
"""CursorStore kind whose value is the time of the room's last full compare."""
INDEX_FILLED_KIND = "booking-room-index"
"""CursorStore kind: the room's mappings were written into the cross-room index once (room moves, issue #11).
Mappings made before the index existed have no row there; a room's first full compare after the upgrade fills
them in, once: later on, the engine keeps the index itself (an index row may point ahead of a room's stale
mapping while a move settles, so re-filling from the mappings every time could point it back)."""
FEED_KEY = "*"
"""CursorStore key of the system-wide booking change-feed cursor."""


# --- pure decisions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """An item seen in a listing: its id and version (None: the listing cannot tell, e.g. a series)."""

    item_id: str
    version: str | None


@dataclass
class Comparison:
    """Which items of a room to hint, and why (counts for the report)."""

    outlook: list[str] = field(default_factory=list)
    booking: list[str] = field(default_factory=list)
    unmapped: int = 0
    drift: int = 0
    orphans: int = 0
    series: int = 0


def compare(outlook: Sequence[Seen], booking: Sequence[Seen], mappings: Sequence[MappingRow]) -> Comparison:
    """Both sides' items in the window against the mapping rows: unmapped, drifted and orphaned items."""
    result = Comparison()
    by_side = {
        Side.OUTLOOK: {m.outlook_id: m for m in mappings if m.outlook_id},
        Side.BOOKING: {m.booking_id: m for m in mappings if m.booking_id},
    }
    for side, items, hints in ((Side.OUTLOOK, outlook, result.outlook), (Side.BOOKING, booking, result.booking)):
        for item in items:
            mapping = by_side[side].get(item.item_id)
            if mapping is None:
                result.unmapped += 1  # new behind calsync's back, or a stamped copy whose mapping was lost
                hints.append(item.item_id)
            elif item.version is None:
                result.series += 1  # cannot tell from the listing: the engine compares hashes
                hints.append(item.item_id)
            elif item.version != _version_on(mapping, side):
                result.drift += 1  # edited with no notification
                hints.append(item.item_id)
    outlook_ids = {item.item_id for item in outlook}
    booking_ids = {item.item_id for item in booking}
    for mapping in mappings:
        in_outlook, in_booking = mapping.outlook_id in outlook_ids, mapping.booking_id in booking_ids
        if in_outlook and not in_booking and mapping.booking_id:
            result.orphans += 1  # the booking is gone: hint it, the engine deletes the Outlook copy (guarded)
            result.booking.append(mapping.booking_id)
        elif in_booking and not in_outlook and mapping.outlook_id:
            result.orphans += 1
            result.outlook.append(mapping.outlook_id)
    return result


def changed_since_mapping(changed: Sequence[Seen], removed: Sequence[str], mappings: Sequence[MappingRow]) -> list[
        tuple[str, ChangeKind]]:  # fmt: skip
    """Outlook delta items worth a hint: changed with a version the mapping does not hold, removed and mapped."""
    by_id = {m.outlook_id: m for m in mappings if m.outlook_id}
    hints: list[tuple[str, ChangeKind]] = []
    for item in changed:
        mapping = by_id.get(item.item_id)
        if mapping is None or item.version is None or item.version != mapping.outlook_version:
            hints.append((item.item_id, ChangeKind.UNKNOWN))
    hints.extend((item_id, ChangeKind.DELETED) for item_id in removed if item_id in by_id)
    return hints


def outlook_seen(items: Sequence[ItemState]) -> list[Seen]:
    """Listed Outlook items (OutlookSide.changes_since: series once, version None) as Seen."""
    return [Seen(item.item_id, item.version) for item in items]


def _version_on(mapping: MappingRow, side: Side) -> str | None:
    return mapping.outlook_version if side is Side.OUTLOOK else mapping.booking_version


# --- reports ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconcileReport:
    """What one room's reconcile did."""

    room: str
    full: bool
    reason: str  # "delta", "requested", "no deltaLink", "deltaLink expired (410)", "periodic"
    outlook_hints: int
    booking_hints: int
    unmapped: int = 0
    drift: int = 0
    orphans: int = 0


@dataclass(frozen=True)
class FeedReport:
    """What one sweep of the booking change feed did."""

    hints: int
    changes_read: int
    full_pass_needed: bool
    reason: str = ""


# --- I/O ----------------------------------------------------------------------------------------------


class Reconciler:
    """Turns what each side says changed (or differs) into ChangeHints (see the module docstring)."""

    def __init__(self, settings: Settings, outlook: OutlookSide, booking: BookingSystem, tables: TableStore,
                 publisher: HintPublisher, *, clock: Clock, window: SyncWindow,
                 full_compare_every: dt.timedelta = FULL_COMPARE_EVERY, concurrency: int = 8) -> None:  # fmt: skip
        self.settings = settings
        self.booking = booking
        self.publisher = publisher
        self.cursors = CursorStore(tables)
        self.mappings = MappingStore(tables)
        self.clock = clock
        self.full_compare_every = full_compare_every
        self.concurrency = concurrency
        self.outlook = outlook
        self.window = window
        self.rooms: RoomDirectory = RoomDirectory(None, settings.rooms)  # the registry (Services sets it)

    # --- one room -------------------------------------------------------------------------------------
    async def reconcile_room(self, room: Room, *, full: bool = False) -> ReconcileReport:
        """Delta (or a full compare) for one room; hints published on the changes queue."""
        reason = "requested" if full else "delta"
        cursor = await self.cursors.get(CursorKind.GRAPH_DELTA, room.key)
        if not full and cursor is None:
            full, reason = True, "no deltaLink"
        if not full:
            last = await self.cursors.get(FULL_COMPARE_KIND, room.key)
            if last is None or self.clock() - last.updated_at >= self.full_compare_every:
                full, reason = True, "periodic"
        if not full and cursor is not None:
            try:
                delta = await self.outlook.changes_since(room, cursor.value)
            except SyncStateExpired:
                log.warning("room %s: Graph no longer knows the deltaLink (410); doing a full compare", room.key)
                full, reason = True, "deltaLink expired (410)"
            else:
                return await self._incremental(room, delta)
        return await self._full_compare(room, reason)

    async def _incremental(self, room: Room, delta: Changes) -> ReconcileReport:
        changed = outlook_seen(delta.changed)
        items: list[tuple[str, ChangeKind]] = []
        if changed or delta.removed:
            items = changed_since_mapping(changed, delta.removed, await self.mappings.list_room(room.key))
        now = self.clock()
        await self._publish([self._hint(Side.OUTLOOK, room, item_id, now, kind) for item_id, kind in items])
        await self._save(CursorKind.GRAPH_DELTA, room, delta.delta_link, now)
        return ReconcileReport(room.key, False, "delta", len(items), 0)

    async def _full_compare(self, room: Room, reason: str) -> ReconcileReport:
        start, end = self.window()
        delta = await self.outlook.changes_since(room, None, window=(start, end))
        records = [r async for r in self.booking.list_bookings(room.booking_room_id, start, end)]
        mappings = await self.mappings.list_room(room.key)
        if await self.cursors.get(INDEX_FILLED_KIND, room.key) is None:
            await self.mappings.place_bookings([m.booking_id for m in mappings if m.booking_id], room.key)
            await self._save(INDEX_FILLED_KIND, room, "filled", self.clock())
        result = compare(outlook_seen(delta.changed), [Seen(r.id, r.version) for r in records], mappings)
        now = self.clock()
        hints = [self._hint(Side.OUTLOOK, room, item_id, now) for item_id in dict.fromkeys(result.outlook)]
        hints += [self._hint(Side.BOOKING, room, item_id, now) for item_id in dict.fromkeys(result.booking)]
        await self._publish(hints)
        await self._save(CursorKind.GRAPH_DELTA, room, delta.delta_link, now)
        await self._save(FULL_COMPARE_KIND, room, now.isoformat(), now)
        log.info("room %s: full compare (%s): %d unmapped, %d drifted, %d orphaned, %d series -> %d hints", room.key,
                 reason, result.unmapped, result.drift, result.orphans, result.series, len(hints))  # fmt: skip
        return ReconcileReport(room.key, True, reason, len(dict.fromkeys(result.outlook)),
                               len(dict.fromkeys(result.booking)), result.unmapped, result.drift,
                               result.orphans)  # fmt: skip

    # --- the booking system's change feed ---------------------------------------------------------------
    async def sweep_booking_feed(self) -> FeedReport:
        """Read the system-wide change feed from its cursor and hint what changed, in its room."""
        cursor = await self.cursors.get(CursorKind.BOOKING_FEED, FEED_KEY)
        if cursor is None:
            await self._feed_head()
            return FeedReport(0, 0, True, "no feed cursor")
        position, read, hints = cursor.value, 0, 0
        try:
            while True:
                page = await self.booking.changes(position)
                read += len(page.changed) + len(page.deleted)
                found = await self._feed_hints(page.changed, page.deleted)
                await self._publish(found)
                hints += len(found)
                position = page.next_cursor
                await self._save(CursorKind.BOOKING_FEED, None, position, self.clock())
                if not page.has_more:
                    break
        except ChangeFeedExpired:
            log.warning("the booking change feed lost calsync's cursor; every room gets a full compare")
            await self._feed_head()
            return FeedReport(hints, read, True, "feed cursor expired (410)")
        return FeedReport(hints, read, False)

    async def _feed_head(self) -> None:
        """Walk the feed to its end and keep that cursor (a full compare covers what came before)."""
        position: str | None = None
        while True:
            page = await self.booking.changes(position)
            position = page.next_cursor
            if not page.has_more:
                break
        await self._save(CursorKind.BOOKING_FEED, None, position, self.clock())

    async def _feed_hints(self, changed: Sequence[str], deleted: Sequence[str]) -> list[ChangeHint]:
        now = self.clock()
        slots = asyncio.Semaphore(self.concurrency)

        async def read(booking_id: str) -> BookingRecord | None:
            async with slots:
                try:
                    return await self.booking.get_booking(booking_id)
                except NotFound:
                    return None  # deleted since the feed was written: handled as deleted below

        live = await rooms_to_reconcile(self.rooms)  # only live rooms take hints (calsync.rooms.gate)
        live_by_id = {room.booking_room_id: room for room in live}

        async def changed_hint(record: BookingRecord) -> ChangeHint | None:
            room = live_by_id.get(record.room_id)
            if room is None:
                return None  # a room calsync does not synchronise, or not live yet
            async with slots:
                mapping = await self.mappings.find(room.key, Side.BOOKING, record.id)
            if mapping is not None and mapping.booking_version == record.version:
                return None  # calsync's own write, or already synced
            return self._hint(Side.BOOKING, room, record.id, now)

        async def deleted_hint(room: Room, booking_id: str) -> ChangeHint | None:
            async with slots:
                mapping = await self.mappings.find(room.key, Side.BOOKING, booking_id)
            return None if mapping is None else self._hint(Side.BOOKING, room, booking_id, now, ChangeKind.DELETED)

        records = await asyncio.gather(*(read(booking_id) for booking_id in changed))
        gone = list(deleted) + [bid for bid, rec in zip(changed, records, strict=True) if rec is None]
        found = await asyncio.gather(
            *(changed_hint(record) for record in records if record is not None),
            # the feed does not say which room a deleted booking was in: ask each room's mapping index
            *(deleted_hint(room, booking_id) for booking_id in gone for room in live),
        )
        return [hint for hint in found if hint is not None]

    # --- plumbing ------------------------------------------------------------------------------------------
    def _hint(self, side: Side, room: Room, item_id: str, now: dt.datetime,
              kind: ChangeKind = ChangeKind.UNKNOWN) -> ChangeHint:  # fmt: skip
        return ChangeHint(source=side, room=room.key, item_id=item_id, change_kind=kind, reason=HintReason.RECONCILE,
                          observed_at=now)  # fmt: skip

    async def _publish(self, hints: list[ChangeHint]) -> None:
        if hints:
            await self.publisher.publish(hints, queue=self.settings.changes_queue)

    async def _save(self, kind: str, room: Room | None, value: str, now: dt.datetime) -> None:
        key = room.key if room is not None else FEED_KEY
        await self.cursors.put(Cursor(kind=kind, room=key, value=value, updated_at=now))
