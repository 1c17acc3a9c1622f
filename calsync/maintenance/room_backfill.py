"""One room's backfill: the engine's decisions from the room's listing, creates in bulk, mappings per transaction.

``RoomBackfill`` is the engine's loop for many items of one room at once. ``start()``
lists the room (``RoomListing``: both sides with content, Outlook's reads as JSON
batches, and the mapping rows in one query). ``offer(hint)`` passes the room gate as
the engine does, then runs the engine's own decision (``decide``), its reads answered
from the listing (calsync.maintenance.listed), until it answers an action:

- a ``Create`` waits, so that creates go out together;
- a skip (echo, unchanged) is recorded as the engine records it;
- anything else (an adoption after a crash, a conflict, an update) goes through
  ``SyncEngine.handle`` after the waiting creates went out, so the engine sees the
  room as a one-at-a-time run would; then the room is listed again, since a conflict
  may have declined or removed items the listing still showed.

``flush()`` sends the waiting creates: Outlook copies through ``OutlookSide.create_many``
(Graph JSON batches of 20, at most 4 in flight per mailbox, throttled items again),
booking copies ``concurrency`` at a time (the booking API has no bulk create), each with
the stamp and idempotency key of the engine's Create. Then the new mappings are written
with ``MappingStore.create_many`` (one transaction per 33 mappings) and added to the
listing with their copies; the store records each copy's version as calsync's own write
(calsync.store.own_versions), so its notification, the echo, stops at this instance's
webhook or is recognised by the engine without a read. A create that failed, a copy the room declined and a mapping
that lost a race go through ``engine.handle`` once more, one at a time (and the room
is listed again after them): the same idempotency key and the stamp make that free of
duplicates (a create that did happen is found by its stamp and adopted). A crash at any point leaves either nothing, or
stamped copies whose mappings are missing, which the next run adopts.

Waiting creates never change a later decision of the room, with one exception the
class guards: a later item that overlaps a waiting create's source (or either is a
series) would see the copy as a rival, so the waiting creates go out first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from calsync.errors import CalsyncError, ConcurrencyError, IdempotencyKeyReused, MassDeletionGuardTripped
from calsync.maintenance.listed import RoomListing, meets
from calsync.model import ChangeHint, Side
from calsync.model.mapping import MappingRow
from calsync.room_options import options_for
from calsync.rooms.gate import admit_hint
from calsync.settings import Room
from calsync.sync.actions import ActionKind, Create, Outcome, SkipEcho, SkipUnchanged
from calsync.sync.context import SyncContext
from calsync.sync.plan import decide
from calsync.sync.reads import Read
from calsync.sync.state import Facts, ItemState
from calsync.sync.translate import desired_copy
from calsync.telemetry import metrics

if TYPE_CHECKING:
    from calsync.sync.engine import SyncEngine

log = logging.getLogger(__name__)


class Report(NamedTuple):
    """What became of one item: the action (None when it failed), the error, and its copy's id if known."""

    hint: ChangeHint
    action: str | None
    error: str | None = None
    copy_id: str | None = None


def report_of(hint: ChangeHint, outcome: Outcome) -> Report:
    """The engine's outcome for ``hint`` as a report."""
    copy_id = outcome.booking_id if hint.source is Side.OUTLOOK else outcome.outlook_id
    return Report(hint, outcome.action.value if outcome.action is not None else "none", None, copy_id)


FLUSH_AT = 100  # waiting creates sent at most this many at a time (memory stays per batch, progress flows)
CHUNK = 20  # creates whose mappings are written together: a Graph JSON batch's worth
CREATED = ActionKind.CREATE.value


async def through_engine(engine: SyncEngine, hint: ChangeHint) -> Outcome:
    """``engine.handle``, once more when a webhook's hint won the race for the mapping (ConcurrencyError)."""
    try:
        return await engine.handle(hint)
    except ConcurrencyError:
        return await engine.handle(hint)


class RoomBackfill:
    """See the module docstring."""

    def __init__(self, engine: SyncEngine, room: Room | str, *, concurrency: int = 4) -> None:
        if isinstance(room, str):
            configured = engine.settings.room(room)
            if configured is None:
                raise ValueError(f"room {room!r} is not configured")
            room = configured
        self.engine = engine
        self.room = room
        self.slots = asyncio.Semaphore(concurrency)  # booking creates in flight for the room
        self.ctx = SyncContext(room=room, sides=engine.sides, stores=engine.stores, policy=engine.policy,
                               clock=engine.clock,
                               deletion_window=dt.timedelta(minutes=engine.settings.mass_delete_window_minutes))  # fmt: skip
        self.listing = RoomListing(room.key)
        self.waiting: list[tuple[ChangeHint, Create]] = []
        self.rechecked = 0  # creates looked at again through the engine (failed, declined, or a lost race)
        self.unreported: list[Report] = []  # finished before the room's guard tripped: the next flush reports them

    async def start(self, items: Sequence[ItemState] | None = None, rows: Sequence[MappingRow] | None = None) -> None:
        """List the room: both sides in the sync window with content, and its mapping rows.

        A caller that has just listed the room (onboarding) passes ``items`` and ``rows`` instead.
        """
        outlook = self.engine.sides[Side.OUTLOOK]
        if items is None:
            start, end = self.engine.window.bounds()
            items = [*await outlook.list_window(self.room, start, end, content=True),
                     *await self.engine.sides[Side.BOOKING].list_window(self.room, start, end, content=True)]  # fmt: skip
        if rows is None:
            rows = await self.engine.mappings.list_room(self.room.key)
        service = options_for(self.engine.settings, self.room).organizer  # calsync's meetings: no stamped copies
        self.listing = RoomListing.of(self.room.key, items, rows, finds_copies=not service)

    async def offer(self, hint: ChangeHint) -> list[Report]:
        """Decide one item; the reports of whatever finished now (a waiting create reports at ``flush``)."""
        reports: list[Report] = []
        if (await admit_hint(self.engine.rooms, hint)).room is None:  # the engine logs why, does nothing
            reports += await self.flush()
            return [*reports, await self._reported(hint, reports)]
        listed = self.listing.item(hint.source, hint.item_id)
        if listed is None or self._meets_waiting(listed) or len(self.waiting) >= FLUSH_AT:
            reports += await self.flush()
        now = self.engine.clock()
        facts = Facts(hint=hint, now=now, window=self.engine.window.bounds(now))
        step = decide(facts, self.engine.policy)
        while isinstance(step, Read):
            answered = self.listing.answer(step, facts)
            facts = answered if answered is not None else await step.fetch(self.ctx, facts)
            step = decide(facts, self.engine.policy)
        metrics.record_hint(hint)
        if isinstance(step, Create) and step.source.booking is not None:
            self.waiting.append((hint, step))
        elif isinstance(step, SkipEcho | SkipUnchanged):
            metrics.record_action(step.telemetry, room=self.room.key, source=hint.source.value)
            reports.append(Report(hint, step.kind.value))
        else:  # the engine reads again, after the waiting creates, and records the action itself
            reports += await self.flush()
            reports.append(await self._reported(hint, reports))
            await self.start()  # it may have declined, deleted or written items the listing holds: list again
        return reports

    async def _reported(self, hint: ChangeHint, finished: list[Report]) -> Report:
        """The engine's report for ``hint``; if the room's guard trips, ``finished`` is reported by the next flush."""
        try:
            return await self._through_engine(hint)
        except MassDeletionGuardTripped:
            self.unreported += finished  # created and mapped already: the caller's flush still reports them
            raise

    def _meets_waiting(self, item: ItemState) -> bool:
        if item.booking is None:
            return False
        start, end = item.booking.interval_utc()
        series = item.booking.recurrence is not None
        return any(series or meets(create.source, start, end) for _, create in self.waiting)

    async def flush(self) -> list[Report]:
        """Send the waiting creates and save their mappings, a JSON batch's worth at a time (module docstring)."""
        waiting, self.waiting = self.waiting, []
        reports, self.unreported = self.unreported, []
        chunks = [waiting[i : i + CHUNK] for i in range(0, len(waiting), CHUNK)]
        done = await asyncio.gather(*(self._flush_chunk(chunk) for chunk in chunks))
        reports += [report for chunk_reports, _ in done for report in chunk_reports]
        again = [item for _, chunk_again in done for item in chunk_again]
        for hint, ours in again:  # one at a time, after the others
            self.rechecked += 1
            answer = await self._through_engine(hint)
            reports.append(Report(hint, CREATED, None, ours) if ours and answer.error is None else answer)
        if again:
            await self.start()  # the engine may have written items the listing holds: list again
        return reports

    async def _flush_chunk(
        self, waiting: list[tuple[ChangeHint, Create]]
    ) -> tuple[list[Report], list[tuple[ChangeHint, str | None]]]:
        """Create one chunk's copies, then write their mappings in one transaction.

        Answers the reports and the hints to look at again through the engine (with the copy's
        id when it was created here and only its mapping lost a race: it is reported as created).
        Writing each chunk's mappings as soon as its copies exist keeps short the time in which
        a copy's own notification finds no mapping (it then adopts the copy itself, and the
        mapping here loses the race).
        """
        try:
            copies = await self._create(waiting)
        except CalsyncError as exc:  # a whole batch failed: each item once more through the engine
            log.info("backfill: creates of room %s failed together (%s); one at a time through the engine",
                     self.room.key, type(exc).__name__)  # fmt: skip
            return [], [(hint, None) for hint, _ in waiting]
        reports: list[Report] = []
        saves: list[tuple[ChangeHint, Create, ItemState]] = []
        again: list[tuple[ChangeHint, str | None]] = []  # with the copy's id when it was created here
        for (hint, create), copy in zip(waiting, copies, strict=True):
            if isinstance(copy, ItemState) and copy.exists and create.mapping is None:
                saves.append((hint, create, copy))
            elif isinstance(copy, ItemState) and copy.exists:  # a copy created again: the engine's update of the row
                try:
                    await self.ctx.save(create.source, copy, create.mapping, generation=create.generation)
                    self._created(hint, create, copy, None)
                    reports.append(Report(hint, CREATED, None, copy.item_id))
                except ConcurrencyError:
                    again.append((hint, copy.item_id))
            elif isinstance(copy, CalsyncError) and not copy.retryable and not isinstance(copy, IdempotencyKeyReused):
                metrics.record_failure(copy, room=self.room.key, side=hint.source.value)
                reports.append(Report(hint, None, f"{type(copy).__name__}: {copy}"))
            else:  # failed for now, declined by the room, or a key spent on another body: the engine decides
                if isinstance(copy, CalsyncError):
                    log.info("backfill: create of the copy of %s failed (%s); once more through the engine",
                             hint.item_id, type(copy).__name__)  # fmt: skip
                again.append((hint, None))
        rows = [self.ctx.mapping_row(create.source, copy, None, generation=create.generation)
                for _, create, copy in saves]  # fmt: skip
        created = await self.engine.mappings.create_many(rows)  # their versions recorded: calsync.store.own_versions
        for (hint, create, copy), saved in zip(saves, created, strict=True):
            if isinstance(saved, MappingRow):
                self._created(hint, create, copy, saved)
                reports.append(Report(hint, CREATED, None, copy.item_id))
            else:  # the copy's own notification was faster and adopted it (or the table failed): look again
                again.append((hint, copy.item_id))
        return reports, again

    def _created(self, hint: ChangeHint, create: Create, copy: ItemState, saved: MappingRow | None) -> None:
        self.listing.add_copy(copy)
        if saved is not None:
            self.listing.add_mapping(saved)
        lag = metrics.lag_seconds(hint.observed_at, self.engine.clock())
        metrics.record_action(create.telemetry, room=self.room.key, source=hint.source.value, lag_seconds=lag)

    async def _create(self, waiting: list[tuple[ChangeHint, Create]]) -> list[ItemState | CalsyncError]:
        """Each waiting create's copy, or the error it met; in order."""
        private = self.engine.policy.private_subject
        results: list[ItemState | CalsyncError | None] = [None] * len(waiting)
        items = [(desired_copy(create.source.booking, private_subject=private),  # type: ignore[arg-type]
                  create.source.item_id, create.idempotency_key) for _, create in waiting]  # fmt: skip
        to_outlook = [i for i, (_, create) in enumerate(waiting) if create.source.side is Side.BOOKING]
        to_booking = [i for i, (_, create) in enumerate(waiting) if create.source.side is Side.OUTLOOK]
        if to_outlook:
            outlook = self.engine.sides[Side.OUTLOOK]
            create_many = getattr(outlook, "create_many", None)
            if create_many is not None:  # OutlookSide: JSON batches
                copies = await create_many(self.room, [items[i] for i in to_outlook])
            else:  # a side without batches (tests' in-memory side): one at a time
                copies = [await _attempt(outlook.create(self.room, items[i][0], stamp=items[i][1],
                                                        idempotency_key=items[i][2])) for i in to_outlook]  # fmt: skip
            for i, copy in zip(to_outlook, copies, strict=True):
                results[i] = copy
        if to_booking:
            booking = self.engine.sides[Side.BOOKING]

            async def one(i: int) -> None:
                body, stamp, key = items[i]
                async with self.slots:
                    results[i] = await _attempt(booking.create(self.room, body, stamp=stamp, idempotency_key=key))

            await asyncio.gather(*(one(i) for i in to_booking))
        return [r if r is not None else CalsyncError("no answer") for r in results]

    async def _through_engine(self, hint: ChangeHint) -> Report:
        try:
            return report_of(hint, await through_engine(self.engine, hint))
        except MassDeletionGuardTripped:
            raise
        except CalsyncError as exc:
            return Report(hint, None, f"{type(exc).__name__}: {exc}")


async def _attempt(write: Awaitable[ItemState]) -> ItemState | CalsyncError:
    try:
        return await write
    except CalsyncError as exc:
        return exc
