"""The Effects (calsync.sync.effects) one hint's reads and actions may have: both sides, the mapping, conflict and hold tables, the clock.

A ``SyncContext`` is built per hint by the engine. Reads (calsync.sync.reads) and
actions (calsync.sync.actions) do all their I/O through it, so they stay small and
the decision (calsync.sync.plan) stays pure. The few multi-step effects live here:
saving a mapping with both sides' hashes, removing a copy that may have changed,
recording a conflict, the guard's tally and hold, and telling a booking's old room
that it moved (calsync.sync.moves: the cross-room index and a hint on the queue).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from calsync.errors import Conflict, NotFound
from calsync.model import ChangeHint, ChangeKind, HintReason, Side
from calsync.model.content_hash import slot_hash
from calsync.model.mapping import MappingRow, mapping_id_for
from calsync.settings import Room
from calsync.store.mappings import MappingStore
from calsync.store.own_versions import OwnVersions
from calsync.store.records import ConflictRecord, ConflictStore, RoomHold, RoomHoldStore
from calsync.sync.guard import hold_state
from calsync.sync.ownership import authority
from calsync.sync.sides import CalendarSide
from calsync.sync.state import HoldView, ItemState, Policy
from calsync.telemetry import current_context, metrics

if TYPE_CHECKING:
    from calsync.queues.publisher import HintPublisher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncStores:
    """The tables the engine writes: mappings, conflicts, room holds."""

    mappings: MappingStore
    conflicts: ConflictStore
    holds: RoomHoldStore
    own_versions: OwnVersions | None = None  # what calsync wrote in this process: its echoes stop at the webhook


@dataclass
class SyncContext:
    room: Room
    sides: Mapping[Side, CalendarSide]
    stores: SyncStores
    policy: Policy
    clock: Callable[[], dt.datetime]
    deletion_window: dt.timedelta
    publisher: HintPublisher | None = None  # the "changes" queue: hints for other rooms (room moves)
    queue: str = "changes"
    _placed: set[str] = field(default_factory=set)  # bookings this context already pointed the index at

    @property
    def mappings(self) -> MappingStore:
        return self.stores.mappings

    def side(self, side: Side) -> CalendarSide:
        return self.sides[side]

    @contextlib.contextmanager
    def writing(self, side: Side, item_id: str | None) -> Iterator[None]:
        """A write to ``item_id`` (None: a create) and its mapping's save in flight.

        Its echo, reaching this instance's webhook meanwhile, waits for the save, which records
        the versions written (calsync.store.own_versions); a save that fails records nothing, so
        that echo is queued and the engine rebuilds the mapping from it, as without the record.
        """
        own = self.stores.own_versions
        if own is None:
            yield
            return
        with own.writing(self.room.key, side, item_id):
            yield

    def observed(self, source: ItemState) -> None:
        """Tell the log context about the source: its id, and a private subject that must never be logged."""
        context = current_context()
        if context is not None and source.booking is not None:
            context.protect(source.booking)
            context.update(**{f"{source.side.value}_id": source.item_id})

    # --- the mapping ------------------------------------------------------------------------------

    async def save(self, source: ItemState, copy: ItemState, mapping: MappingRow | None, *,
                   generation: int | None = None) -> MappingRow:  # fmt: skip
        """Write the mapping with both sides' hashes (what calsync saw at the source, wrote at the target)."""
        row = self.mapping_row(source, copy, mapping, generation=generation)
        if mapping is None:
            if row.booking_id:
                await self.place_booking(row.booking_id)  # the cross-room index (room moves), if the create did not
            return await self.mappings.create(row)
        return await self.mappings.update(row, mapping)

    def mapping_row(self, source: ItemState, copy: ItemState, mapping: MappingRow | None, *,
                    generation: int | None = None) -> MappingRow:  # fmt: skip
        """The row ``save`` writes (backfill writes many new ones in one transaction).

        A new mapping also keeps who organises the Outlook item and when the origin was
        created (first-come compares origins, not copies).
        """
        now = self.clock()
        outlook, booking = (source, copy) if source.side is Side.OUTLOOK else (copy, source)
        values: dict[str, object] = {
            "outlook_id": outlook.item_id, "booking_id": booking.item_id,
            "outlook_hash": outlook.content_hash, "booking_hash": booking.content_hash,
            "outlook_version": outlook.version, "booking_version": booking.version,
            "series": bool(source.booking and source.booking.recurrence), "updated_at": now,
        }  # fmt: skip
        if outlook.role is not None:
            values["outlook_role"] = outlook.role.value
        values["outlook_organizer_id"] = outlook.organizer_id or (mapping.outlook_organizer_id if mapping else None)
        values["cancelled"] = not (source.exists and copy.exists)  # issue #14: a soft cancellation keeps the row
        values["slot"] = slot_hash(booking.booking) if booking.exists and booking.booking is not None else None
        if generation is not None:
            values["generation"] = generation
        if mapping is None:
            return MappingRow(room=self.room.key, mapping_id=mapping_id_for(source.side, source.item_id),
                              origin=source.side, origin_created_at=source.created_at, created_at=now,
                              **values)  # type: ignore[arg-type]  # fmt: skip
        return mapping.model_copy(update=values)

    # --- room moves (calsync.sync.moves) ------------------------------------------------------------

    async def booking_room(self, booking_id: str) -> str | None:
        return await self.mappings.booking_room(booking_id)

    async def place_booking(self, booking_id: str) -> None:
        if booking_id not in self._placed:
            await self.mappings.place_booking(booking_id, self.room.key)
            self._placed.add(booking_id)

    async def hint_room(self, room: str, item: ItemState) -> None:
        """Publish a hint for ``item`` to ``room``'s session; its MessageId is the same for every retry."""
        hint = ChangeHint(source=item.side, room=room, item_id=item.item_id, change_kind=ChangeKind.UPDATED,
                          reason=HintReason.MOVED, observed_at=self.clock(),
                          version=item.version or f"moved-to-{self.room.key}")  # fmt: skip
        if self.publisher is None:  # operator commands: the room's next full compare finds the move
            log.warning("booking %s moved from room %s to %s; no queue to tell %s, its next full compare will",
                        item.item_id, room, self.room.key, room)  # fmt: skip
            return
        await self.publisher.publish([hint], queue=self.queue)
        log.info("booking %s moved from room %s to %s; hinted %s", item.item_id, room, self.room.key, room)

    # --- copies of a conflict's loser ---------------------------------------------------------------

    async def remove_copy(self, copy: ItemState) -> None:
        """Delete a copy; if it changed after calsync wrote it, delete what is there now (its source lost)."""
        side = self.side(copy.side)
        try:
            await side.delete(self.room, copy)
        except NotFound:
            return  # already gone: the goal is reached
        except Conflict:
            again = await side.read(self.room, copy.item_id)
            if again.booking is not None:  # its source lost: delete what is there now
                log.warning("the copy %s changed after calsync wrote it; deleting it anyway", copy.item_id)
                with contextlib.suppress(NotFound):
                    await side.delete(self.room, again)

    async def remove_copy_of(self, item: ItemState) -> None:
        """Remove the copy of ``item`` (a declined rival) and its mapping, if it had one.

        Only when ``item`` is its reservation's authority is the other side calsync's copy; when ``item`` is
        itself calsync's copy (an orphan whose original no longer holds the room), the other side is a
        person's original, which calsync never deletes: only the mapping goes.
        """
        mapping = await self.mappings.find(self.room.key, item.side, item.item_id)
        if mapping is None:
            return
        copy_id = mapping.id_on(item.side.other)
        if copy_id and authority(mapping) is item.side:
            await self.remove_copy(
                ItemState.from_mapping(item.side.other, copy_id, mapping.version_on(item.side.other))
            )
        await self.mappings.delete(mapping)

    async def record_conflict(self, *, winner: ItemState, loser: ItemState, reason: str,
                              kind: str = "overlap") -> None:  # fmt: skip
        policy = self.policy.conflict_policy
        record = ConflictRecord(
            room=self.room.key, detected_at=self.clock(), policy=policy, winner_side=winner.side,
            winner_id=winner.item_id, loser_side=loser.side, loser_id=loser.item_id, reason=reason, kind=kind,
        )  # fmt: skip
        await self.stores.conflicts.add(record)
        metrics.record_conflict(room=self.room.key, policy=policy.value, winner=winner.side.value)
        log.warning("%s in room %s: %s %s gives way, %s %s wins (%s)", kind, self.room.key,
                    loser.side.value, loser.item_id, winner.side.value, winner.item_id, policy.value)  # fmt: skip

    # --- the mass-deletion guard's memory -----------------------------------------------------------

    async def read_hold(self) -> HoldView:
        hold = await self.stores.holds.get(self.room.key)
        state = hold_state(exists=hold is not None, confirmed=bool(hold and hold.confirmed),
                           confirmed_at=hold and (hold.confirmed_at or hold.since), now=self.clock())  # fmt: skip
        if hold is None:
            return HoldView(state)
        return HoldView(state, side=hold.side, missing=hold.missing, mapped=hold.mapped, reason=hold.reason)

    async def recent_deletions(self, side: Side) -> int:
        return await self.stores.holds.recent_deletions(self.room.key, side, self.clock(), self.deletion_window)

    async def record_deletion(self, side: Side) -> None:
        await self.stores.holds.record_deletion(self.room.key, side, self.clock(), self.deletion_window)

    async def release_hold(self) -> None:
        await self.stores.holds.release(self.room.key)
        log.info("confirmed hold of room %s expired; the mass-deletion guard is armed again", self.room.key)

    async def hold_room(self, side: Side, *, missing: int, mapped: int, reason: str) -> None:
        await self.stores.holds.put(RoomHold(room=self.room.key, side=side, missing=missing, mapped=mapped,
                                             reason=reason, since=self.clock()))  # fmt: skip
        log.error("mass-deletion guard tripped for room %s: %s; nothing more is deleted", self.room.key, reason)
