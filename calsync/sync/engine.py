"""The sync engine: one ChangeHint in, at most one write on the other side, the mapping saved.

Steps for a hint (DESIGN "Shape"): read the item's current state on its source
side; read the mapping row; if the source hash equals the stored hash, stop (an
echo: no read of the other side, no write). Otherwise look at the other side
only as far as the decision needs (the stamped counterpart, the booking system's
bookings that overlap), ``plan()`` the action, apply it, and write the mapping
with both sides' hashes under its ETag.

Graph requests per hint: one GET for an Outlook hint; none beyond the write for a
booking hint. Overlaps are checked where a room can be double-booked across
sides: against the booking system, which also refuses double bookings itself
(409), so every cross-side overlap surfaces on a write to it.

Crash safety (invariant 3): creates carry an idempotency key derived from the
mapping id, so a retry after "created on the target, mapping not saved" gets the
same item back instead of a second one. The mass-deletion guard stops a room
whose source side suddenly lost most of its mapped bookings.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from calsync.errors import Conflict, MassDeletionGuardTripped, NotFound
from calsync.model import ChangeHint, HintReason, Side
from calsync.model.mapping import MappingRow, mapping_id_for
from calsync.settings import Room, Settings
from calsync.store.client import TableStore
from calsync.store.mappings import MappingStore
from calsync.store.records import ConflictRecord, ConflictStore, RoomHold, RoomHoldStore
from calsync.sync.plan import WRITING_ACTIONS, Action, ActionKind, ItemState, Policy, TargetView, plan
from calsync.sync.sides import CalendarSide, rivals
from calsync.sync.translate import desired_copy
from calsync.telemetry import current_context, metrics, sync_context

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

CONFIRMED_HOLD_LIFETIME = dt.timedelta(hours=6)
"""How long an operator's confirmation of a room's mass deletion lets deletions through."""

TELEMETRY_ACTION = {
    ActionKind.CREATE: "create", ActionKind.UPDATE: "update", ActionKind.DELETE: "delete",
    ActionKind.DECLINE: "decline", ActionKind.CONFLICT: "conflict", ActionKind.SKIP_ECHO: "skip-echo",
    ActionKind.SKIP_UNCHANGED: "skip-unchanged", ActionKind.ADOPT: "skip-unchanged",
    ActionKind.FORGET: "skip-unchanged",
}  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """What one hint did: the action and, when it wrote, the ids on both sides."""

    action: ActionKind | None
    reason: str
    outlook_id: str | None = None
    booking_id: str | None = None


class SyncEngine:
    def __init__(self, settings: Settings, tables: TableStore, sides: dict[Side, CalendarSide],
                 *, clock: Clock | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.sides = sides
        self.tables = tables
        self.mappings = MappingStore(tables)
        self.conflicts = ConflictStore(tables)
        self.holds = RoomHoldStore(tables)
        self.policy = Policy(conflict_policy=settings.conflict_policy, private_subject=settings.private_subject)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    async def close(self) -> None:
        """Close both sides' HTTP clients and the table client."""
        for side in self.sides.values():
            await side.close()
        await self.tables.close()

    # --- entry point --------------------------------------------------------------------------

    async def handle(self, hint: ChangeHint) -> Outcome:
        """Process one hint; raises on failures so the queue retries and, at last, dead-letters."""
        metrics.record_hint(hint)
        room = self.settings.room(hint.room)
        if room is None:
            log.warning("hint for room %r which is not configured; ignored", hint.room)
            return Outcome(None, "room not configured")
        with sync_context(
            room=room.key, source=hint.source.value, item_id=hint.item_id, message_id=hint.message_id
        ) as context:  # fmt: skip
            try:
                outcome = await self._sync(room, hint)
            except Exception as exc:
                metrics.record_failure(exc, room=room.key, side=hint.source.value)
                raise
            if outcome.action is not None:
                lag = metrics.lag_seconds(hint.observed_at, self.clock()) if outcome.action in WRITING_ACTIONS else None
                metrics.record_action(TELEMETRY_ACTION[outcome.action], room=room.key, source=hint.source.value,
                                      lag_seconds=lag)  # fmt: skip
            context.update(outlook_id=outcome.outlook_id, booking_id=outcome.booking_id)
            log.info("sync %s: %s", outcome.action.value if outcome.action else "none", outcome.reason)
            return outcome

    # --- deciding ---------------------------------------------------------------------------------

    async def _sync(self, room: Room, hint: ChangeHint) -> Outcome:
        await self._check_hold(room)
        source_side, target_side = self.sides[hint.source], self.sides[hint.source.other]
        source = await source_side.read(room, hint.item_id)  # an occurrence's hint reads its series
        context = current_context()
        if context is not None and source.booking is not None:
            context.protect(source.booking)  # a private meeting's subject never reaches the logs
            context.update(**{f"{source.side.value}_id": source.item_id})
        mapping = await self.mappings.find(room.key, hint.source, source.item_id)

        if mapping is not None and source.exists and source.content_hash == mapping.hash_on(hint.source):
            return Outcome(ActionKind.SKIP_ECHO, "source unchanged since calsync last wrote or saw it")

        counterpart: ItemState | None = None
        if mapping is not None and mapping.id_on(target_side.side):
            counterpart = ItemState.from_mapping(target_side.side, mapping.id_on(target_side.side),
                                                 _version(mapping, target_side.side))  # fmt: skip
        elif source.stamp:
            found = await target_side.read(room, source.stamp)
            counterpart = found if found.booking is not None else None
        elif source.exists and hint.reason is not HintReason.WEBHOOK and target_side.side is Side.OUTLOOK:
            # reconcile, backfill, replay: a copy may exist whose mapping was lost; webhooks of new
            # bookings skip this Graph request (the create's transactionId covers a crashed retry)
            counterpart = await target_side.find_copy(room, source.item_id)

        if not source.exists and mapping is not None and counterpart is not None:
            await self._guard_mass_deletion(room, hint.source)

        overlapping: list[ItemState] = []
        if source.exists and target_side.side is Side.BOOKING:
            items = await self._booking_window(room, source)
            if counterpart is None:
                # a copy stamped with the source's id exists (crash after create, lost mapping): it is the counterpart
                counterpart = next((item for item in items if item.stamp == source.item_id and item.exists), None)
            overlapping = self._rivals(source, items, counterpart)
        action = plan(source, mapping, TargetView(counterpart, overlapping), self.policy)
        return await self._apply(room, action, source, mapping)

    async def _booking_window(self, room: Room, source: ItemState) -> list[ItemState]:
        """The booking system's items of the room during the source (a series: during the sync window)."""
        assert source.booking is not None
        window = self._window() if source.booking.recurrence is not None else source.booking.interval_utc()
        return await self.sides[Side.BOOKING].list_window(room, *window)

    def _rivals(self, source: ItemState, items: list[ItemState], counterpart: ItemState | None) -> list[ItemState]:
        assert source.booking is not None
        exclude = {counterpart.item_id} if counterpart else set()
        if source.stamp:
            exclude.add(source.stamp)
        copies = {item.item_id for item in items if item.stamp == source.item_id}
        window = self._window() if source.booking.recurrence is not None else source.booking.interval_utc()
        return rivals(source.booking, items, window, exclude=exclude | copies)

    def _window(self) -> tuple[dt.datetime, dt.datetime]:
        now = self.clock()
        return (now - dt.timedelta(days=self.settings.sync_window_past_days),
                now + dt.timedelta(days=self.settings.sync_window_future_days))  # fmt: skip

    # --- acting -----------------------------------------------------------------------------------

    async def _apply(self, room: Room, action: Action, source: ItemState, mapping: MappingRow | None) -> Outcome:
        kind = action.kind
        if kind in (ActionKind.SKIP_ECHO, ActionKind.SKIP_UNCHANGED):
            return Outcome(kind, action.reason)
        if kind is ActionKind.FORGET:
            assert mapping is not None
            await self.mappings.delete(mapping)
            return Outcome(kind, action.reason)
        if kind is ActionKind.DELETE:
            assert action.counterpart is not None and mapping is not None
            await self._delete_copy(room, action.counterpart)
            await self.mappings.delete(mapping)
            window = dt.timedelta(minutes=self.settings.mass_delete_window_minutes)
            await self.holds.record_deletion(room.key, source.side, self.clock(), window)
            return Outcome(kind, action.reason, *_ids(source.side, source.item_id, action.counterpart.item_id))
        if kind is ActionKind.DECLINE:
            return await self._decline_source(room, action, source, mapping)
        if kind is ActionKind.CONFLICT:
            await self._decline_rival(room, action)
        if kind is ActionKind.ADOPT:
            assert action.counterpart is not None
            saved = await self._save(room, source, action.counterpart, mapping)
            return Outcome(kind, action.reason, saved.outlook_id, saved.booking_id)
        written = await self._write(room, source, action.counterpart if kind is not ActionKind.CREATE else None,
                                    mapping)  # fmt: skip
        saved = await self._save(room, source, written, mapping)
        return Outcome(kind, action.reason, saved.outlook_id, saved.booking_id)

    async def _delete_copy(self, room: Room, copy: ItemState) -> None:
        """Delete a copy; if it changed since calsync wrote it, delete what is there now (the source is gone)."""
        side = self.sides[copy.side]
        try:
            await side.delete(room, copy)
        except NotFound:
            pass  # already gone: the goal is reached
        except Conflict:
            current = await side.read(room, copy.item_id)
            if current.booking is not None:
                log.warning("the copy %s changed after calsync wrote it; deleting it anyway", copy.item_id)
                with contextlib.suppress(NotFound):
                    await side.delete(room, current)

    async def _write(self, room: Room, source: ItemState, counterpart: ItemState | None,
                     mapping: MappingRow | None) -> ItemState:  # fmt: skip
        """Create or update the copy of ``source`` on the other side; returns the copy as written."""
        assert source.booking is not None
        target_side = self.sides[source.side.other]
        desired = desired_copy(source.booking, private_subject=self.policy.private_subject)
        if counterpart is not None:
            try:
                return await target_side.update(room, counterpart, desired)
            except NotFound:
                log.warning("the copy %s was deleted behind calsync's back; recreating it", counterpart.item_id)
            except Conflict:
                current = await target_side.read(room, counterpart.item_id)
                if current.booking is None:
                    log.warning("the copy %s vanished during the update; recreating it", counterpart.item_id)
                else:
                    log.warning("both sides changed %s; applying the %s edit", counterpart.item_id, source.side)
                    return await target_side.update(room, current, desired)
        origin = mapping.origin if mapping is not None else source.side
        origin_id = source.item_id if mapping is None else (mapping.id_on(origin) or source.item_id)
        key = "calsync-" + mapping_id_for(origin, origin_id)
        return await target_side.create(room, desired, stamp=source.item_id, idempotency_key=key)

    async def _save(self, room: Room, source: ItemState, copy: ItemState, mapping: MappingRow | None) -> MappingRow:
        """Write the mapping with both sides' hashes (what calsync saw at the source, wrote at the target)."""
        now = self.clock()
        outlook, booking = (source, copy) if source.side is Side.OUTLOOK else (copy, source)
        values = {
            "outlook_id": outlook.item_id, "booking_id": booking.item_id,
            "outlook_hash": outlook.content_hash, "booking_hash": booking.content_hash,
            "outlook_version": outlook.version, "booking_version": booking.version,
            "series": bool(source.booking and source.booking.recurrence), "updated_at": now,
        }  # fmt: skip
        if mapping is None:
            row = MappingRow(room=room.key, mapping_id=mapping_id_for(source.side, source.item_id),
                             origin=source.side, created_at=now, **values)  # fmt: skip
            return await self.mappings.create(row)
        return await self.mappings.update(mapping.model_copy(update=values), mapping)

    async def _decline_source(self, room: Room, action: Action, source: ItemState,
                              mapping: MappingRow | None) -> Outcome:  # fmt: skip
        """The source lost an overlap: decline it where it was made, and remove its copy if it had one."""
        assert action.winner is not None
        await self.sides[source.side].decline(room, source, action.reason)
        if mapping is not None and action.counterpart is not None:
            await self._delete_copy(room, action.counterpart)
            await self.mappings.delete(mapping)
        await self._record_conflict(room, winner=action.winner, loser=source, reason=action.reason)
        return Outcome(ActionKind.DECLINE, action.reason, *_ids(source.side, source.item_id, None))

    async def _decline_rival(self, room: Room, action: Action) -> None:
        """The source wins an overlap: decline the rival on its side and remove the rival's copy."""
        assert action.loser is not None and action.winner is not None
        loser = action.loser
        await self.sides[loser.side].decline(room, loser, action.reason)
        loser_mapping = await self.mappings.find(room.key, loser.side, loser.item_id)
        if loser_mapping is not None:
            copy_id = loser_mapping.id_on(loser.side.other)
            if copy_id:
                copy = ItemState.from_mapping(loser.side.other, copy_id, _version(loser_mapping, loser.side.other))
                await self._delete_copy(room, copy)
            await self.mappings.delete(loser_mapping)
        await self._record_conflict(room, winner=action.winner, loser=loser, reason=action.reason)

    async def _record_conflict(self, room: Room, *, winner: ItemState, loser: ItemState, reason: str) -> None:
        record = ConflictRecord(
            room=room.key, detected_at=self.clock(), policy=self.policy.conflict_policy,
            winner_side=winner.side, winner_id=winner.item_id, loser_side=loser.side, loser_id=loser.item_id,
            reason=reason,
        )  # fmt: skip
        await self.conflicts.add(record)
        metrics.record_conflict(room=room.key, policy=self.policy.conflict_policy.value, winner=winner.side.value)
        log.warning("conflict in room %s: %s %s declined, %s %s keeps the room (%s)", room.key, loser.side.value,
                    loser.item_id, winner.side.value, winner.item_id, self.policy.conflict_policy.value)  # fmt: skip

    # --- the mass-deletion guard --------------------------------------------------------------------

    async def _check_hold(self, room: Room) -> None:
        hold = await self.holds.get(room.key)
        if hold is not None and not hold.confirmed:
            raise MassDeletionGuardTripped(
                f"sync of room {room.key} is stopped: {hold.reason}; confirm with `calsync rooms release {room.key}`",
                room=room.key, side=hold.side.value, missing=hold.missing, mapped=hold.mapped,
            )  # fmt: skip

    async def _guard_mass_deletion(self, room: Room, side: Side) -> None:
        """Before deleting because ``side`` lost an item: has ``side`` lost most of the room at once?

        Counts the mapped items missing from ``side`` now plus the deletions already
        propagated in the guard's window, so a wipe trips the guard whether its hints
        arrive in one burst or one at a time.
        """
        hold = await self.holds.get(room.key)
        if hold is not None and hold.confirmed:
            confirmed_at = hold.confirmed_at or hold.since
            if self.clock() - confirmed_at <= CONFIRMED_HOLD_LIFETIME:
                return  # an operator confirmed the deletions
            await self.holds.release(room.key)  # the confirmed wipe is over: the guard watches again
            log.info("confirmed hold of room %s expired; the mass-deletion guard is armed again", room.key)
        window = dt.timedelta(minutes=self.settings.mass_delete_window_minutes)
        recent = await self.holds.recent_deletions(room.key, side, self.clock(), window)
        mapped = await self.mappings.list_room(room.key)
        total = len(mapped) + recent
        if total < self.settings.mass_delete_min_bookings:
            return
        present = {item.item_id for item in await self.sides[side].list_window(room, *self._window())}
        missing = sum(1 for row in mapped if row.id_on(side) and row.id_on(side) not in present)
        gone = missing + recent
        if gone / total < self.settings.mass_delete_threshold:
            return
        reason = f"{gone} of {total} synced bookings vanished from {side.value} within minutes"
        await self.holds.put(RoomHold(room=room.key, side=side, missing=gone, mapped=total, reason=reason,
                                      since=self.clock()))  # fmt: skip
        log.error("mass-deletion guard tripped for room %s: %s; nothing more is deleted", room.key, reason)
        raise MassDeletionGuardTripped(f"mass-deletion guard tripped for room {room.key}: {reason}",
                                       room=room.key, side=side.value, missing=gone, mapped=total)  # fmt: skip


def _version(mapping: MappingRow, side: Side) -> str | None:
    return mapping.outlook_version if side is Side.OUTLOOK else mapping.booking_version


def _ids(side: Side, source_id: str | None, target_id: str | None) -> tuple[str | None, str | None]:
    return (source_id, target_id) if side is Side.OUTLOOK else (target_id, source_id)
