"""What calsync does for one hint: one frozen class per action kind, each with its own ``run``.

As in vdirsyncer's sync (Upload, Update, Delete, ResolveConflict), the pure decision
(calsync.sync.plan) builds one of these and the engine runs it. ``run`` does the I/O
through ``Effects`` (calsync.sync.effects) and returns either an ``Outcome``
or, when a write met a vanished or changed copy, a ``WriteFailed`` that the pure
``plan.after_failure`` turns into the next action: the choice of what to do then is
not made here. This module imports no SDK; the context does the I/O.

Vocabulary (``ActionKind``): create, update, delete (a copy calsync owns), release
(decline a person's meeting or reject a booking whose copy was cancelled: an original
is never deleted), decline (the source lost a conflict), conflict (the source won: the rival is declined, then the copy written),
adopt (a stamped copy was found: only the mapping is rebuilt), forget (both sides
gone: drop the mapping), skip-echo, skip-unchanged, held (the room is stopped by
the mass-deletion guard), trip-guard (this deletion would be part of a wipe).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, TypeVar

from calsync.errors import Conflict as VersionConflict
from calsync.errors import IdempotencyKeyReused, MassDeletionGuardTripped, NotFound, RoomTaken
from calsync.model import Booking, Side
from calsync.model.booking import Cancellation
from calsync.model.mapping import MappingRow
from calsync.sync.occurrences import release_occurrences, trim_copy_of
from calsync.sync.state import HoldView, ItemState, Loser
from calsync.sync.translate import desired_copy, same_reservation

if TYPE_CHECKING:
    from calsync.sync.effects import Effects


T = TypeVar("T")


class ActionKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    RELEASE = "release"
    DECLINE = "decline"
    CONFLICT = "conflict"
    ADOPT = "adopt"
    FORGET = "forget"
    SKIP_ECHO = "skip-echo"
    SKIP_UNCHANGED = "skip-unchanged"
    HELD = "held"
    TRIP_GUARD = "trip-guard"
    CANCEL = "cancel"  # soft cancellation of a copy (calsync.sync.cancellation)
    REJECT = "reject"  # the room declined calsync's meeting: the booking is rejected (calsync.sync.cancellation)


WRITING_ACTIONS = frozenset({ActionKind.CREATE, ActionKind.UPDATE, ActionKind.DELETE, ActionKind.RELEASE,
                             ActionKind.DECLINE, ActionKind.CONFLICT, ActionKind.CANCEL,
                             ActionKind.REJECT})  # fmt: skip
"""Actions that write to a calendar (sync lag is measured for these)."""


class Failure(StrEnum):
    GONE = "gone"  # the copy was not there any more (404/410)
    KEY_REUSED = "key-reused"  # the create's idempotency key was used before with another body
    CHANGED = "changed"  # the copy changed since calsync wrote it (412)
    TAKEN = "taken"  # the booking system refused the write: the room is already booked then (409)
    DECLINED = "declined"  # the copy was made, and the room declined it (service-mailbox mode)


@dataclass(frozen=True)
class Outcome:
    """What one hint did: the action and, when it wrote, the ids on both sides."""

    action: ActionKind | None
    reason: str
    outlook_id: str | None = None
    booking_id: str | None = None


@dataclass(frozen=True)
class WriteFailed:
    """A write met a copy that vanished or changed; ``current`` is what the target holds now, if read."""

    failure: Failure
    current: ItemState | None = None
    rival: str | None = None  # TAKEN: the booking that holds the room then, when the side said which


def ids(side: Side, source_id: str | None, target_id: str | None) -> tuple[str | None, str | None]:
    """(outlook id, booking id) from the source's side and both ids."""
    return (source_id, target_id) if side is Side.OUTLOOK else (target_id, source_id)


@dataclass(frozen=True)
class Action:
    kind: ClassVar[ActionKind]
    telemetry: ClassVar[str]  # the action name in metrics (ADOPT and FORGET count as skip-unchanged)
    reason: str

    @property
    def writes(self) -> bool:
        return self.kind in WRITING_ACTIONS

    async def run(self, ctx: Effects) -> Outcome | WriteFailed:
        raise NotImplementedError


@dataclass(frozen=True)
class _Skip(Action):
    """Nothing to write."""

    async def run(self, ctx: Effects) -> Outcome:
        return Outcome(self.kind, self.reason)


@dataclass(frozen=True)
class SkipEcho(_Skip):
    kind = ActionKind.SKIP_ECHO
    telemetry = "skip-echo"


@dataclass(frozen=True)
class SkipUnchanged(_Skip):
    kind = ActionKind.SKIP_UNCHANGED
    telemetry = "skip-unchanged"


async def guarded(ctx: Effects, item: ItemState, write: Awaitable[T], *, retried: bool) -> T | WriteFailed:
    """Run a write to ``item``; a vanished or changed item becomes a WriteFailed for ``plan.after_failure``.

    A version conflict, or a booking system refusing a double booking, reads the item's
    current state (the decision needs it); a second conflict after a re-apply is raised,
    so the queue retries later.
    """
    try:
        return await write
    except NotFound:
        return WriteFailed(Failure.GONE)
    except VersionConflict as exc:
        if retried:
            raise
        current = await ctx.side(item.side).read(ctx.room, item.item_id)
        if isinstance(exc, RoomTaken):
            rival = exc.fields.get("conflicting_booking_id")
            return WriteFailed(Failure.TAKEN, current, rival=str(rival) if rival else None)
        return WriteFailed(Failure.CHANGED, current)


@dataclass(frozen=True)
class Forget(Action):
    kind = ActionKind.FORGET
    telemetry = "skip-unchanged"
    mapping: MappingRow

    async def run(self, ctx: Effects) -> Outcome:
        await ctx.mappings.delete(self.mapping)
        return Outcome(self.kind, self.reason)


@dataclass(frozen=True)
class RemoveOrphan(Action):
    """calsync's copy whose original is gone and whose mapping was lost: it no longer holds the room.

    A booking copy is cancelled (kept, with the reason) where the booking system keeps
    cancelled bookings; an Outlook copy, a room-organised event calsync made, is deleted.
    """

    kind = ActionKind.DELETE
    telemetry = "delete"
    copy: ItemState

    async def run(self, ctx: Effects) -> Outcome:
        side = ctx.side(self.copy.side)
        with contextlib.suppress(NotFound):
            if self.copy.side is Side.BOOKING and ctx.policy.soft_cancel:
                await side.cancel(ctx.room, self.copy, Cancellation(reason=self.reason))
            else:
                await side.delete(ctx.room, self.copy)
        await ctx.record_deletion(self.copy.side.other)
        return Outcome(self.kind, self.reason, *ids(self.copy.side, self.copy.item_id, None))


@dataclass(frozen=True)
class Create(Action):
    kind = ActionKind.CREATE
    telemetry = "create"
    source: ItemState
    mapping: MappingRow | None
    idempotency_key: str
    generation: int = 0  # how many times this reservation's copy was created again after a deletion
    moved_from: str | None = None  # a booking moved here from this room (calsync.sync.moves): tell it first

    async def run(self, ctx: Effects) -> Outcome | WriteFailed:
        assert self.source.booking is not None
        if self.moved_from is not None:
            await ctx.hint_room(self.moved_from, self.source)  # that room removes its copy in its own pass
        if self.source.side is Side.BOOKING:
            await ctx.place_booking(self.source.item_id)  # the cross-room index, ahead of the mapping
        desired = desired_copy(self.source.booking, private_subject=ctx.policy.private_subject)
        target = ctx.side(self.source.side.other)
        # the echo of this write waits at this instance's webhook until its mapping is saved (own_versions)
        with ctx.writing(target.side, None):
            try:
                copy = await target.create(ctx.room, desired, stamp=self.source.item_id,
                                           idempotency_key=self.idempotency_key)  # fmt: skip
            except IdempotencyKeyReused:
                return WriteFailed(Failure.KEY_REUSED)
            if not copy.exists:
                return WriteFailed(Failure.DECLINED, copy)  # the room's attendant declined calsync's meeting
            if copy.booking is not None and not same_reservation(self.source.booking, copy.booking,
                                                                 private_subject=ctx.policy.private_subject):  # fmt: skip
                # the key found the copy an earlier attempt made (Graph's transactionId gives it back as it is
                # now), edited since, before any mapping saved it: not what calsync writes, so not its own write
                return WriteFailed(Failure.CHANGED, copy)
            saved = await ctx.save(self.source, copy, self.mapping, generation=self.generation)
        return Outcome(self.kind, self.reason, saved.outlook_id, saved.booking_id)


@dataclass(frozen=True)
class Update(Action):
    kind = ActionKind.UPDATE
    telemetry = "update"
    source: ItemState  # what the counterpart must show (the origin, or a copy whose edit flows back)
    mapping: MappingRow | None
    counterpart: ItemState  # the item written
    retried: bool = False  # already re-applied once after a version conflict: a second one is raised
    desired: Booking | None = None  # what to write, when not simply the source's copy (an edit flowing back)
    concurrent: bool = False  # both copies were edited before a sync: the origin wins, and it is recorded
    note: str | None = None  # why calsync changed the booking, for the booking system's users (its API's note)
    restore_copy: bool = False  # an edit flowing back: then the copy (the source) shows its original again
    refused: bool = False  # the copy's edit could not reach its original (the room is taken there): recorded
    generation: int | None = None  # a create's generation, when this update finishes that create (a new mapping)

    async def run(self, ctx: Effects) -> Outcome | WriteFailed:
        assert self.source.booking is not None
        desired = self.desired or desired_copy(self.source.booking, private_subject=ctx.policy.private_subject)
        if self.note is not None:
            desired = desired.model_copy(update={"note": self.note})
        target = ctx.side(self.counterpart.side)
        if self.concurrent or self.refused:
            await ctx.record_conflict(winner=self.source, loser=self.counterpart, reason=self.reason,
                                      kind="concurrent-edit" if self.concurrent else "edit-refused")  # fmt: skip
        # the echo of this write waits at this instance's webhook until its mapping is saved (own_versions)
        with ctx.writing(self.counterpart.side, self.counterpart.item_id):
            copy = await guarded(ctx, self.counterpart, target.update(ctx.room, self.counterpart, desired),
                                 retried=self.retried)  # fmt: skip
            if isinstance(copy, WriteFailed):
                return copy
            if self.restore_copy and copy.booking is not None:
                return await self._restore_copy(ctx, copy)
            saved = await ctx.save(self.source, copy, self.mapping, generation=self.generation)
        return Outcome(self.kind, self.reason, saved.outlook_id, saved.booking_id)

    async def _restore_copy(self, ctx: Effects, origin: ItemState) -> Outcome:
        """After the edit flowed back, the copy shows what only its original decides again (a private title masked).

        One mapping save after both writes: a crash in between leaves both sides changed since the mapping, and
        the copy's next hint rewrites it from its original. If the copy vanished or changed meanwhile, the
        mapping keeps the copy as it was read, so the copy's own hint decides again.
        """
        assert origin.booking is not None
        desired = desired_copy(origin.booking, private_subject=ctx.policy.private_subject)
        side = ctx.side(self.source.side)
        copy = await guarded(ctx, self.source, side.update(ctx.room, self.source, desired), retried=False)
        if isinstance(copy, WriteFailed):
            saved = await ctx.save(self.source, origin, self.mapping)
        else:
            saved = await ctx.save(origin, copy, self.mapping)
        return Outcome(self.kind, self.reason, saved.outlook_id, saved.booking_id)


@dataclass(frozen=True)
class Adopt(Action):
    kind = ActionKind.ADOPT
    telemetry = "skip-unchanged"
    source: ItemState
    counterpart: ItemState

    async def run(self, ctx: Effects) -> Outcome:
        saved = await ctx.save(self.source, self.counterpart, None)
        return Outcome(self.kind, self.reason, saved.outlook_id, saved.booking_id)


@dataclass(frozen=True)
class Delete(Action):
    kind = ActionKind.DELETE
    telemetry = "delete"
    source: ItemState
    mapping: MappingRow
    counterpart: ItemState
    copy_gone: bool = False  # the copy is already gone: only the mapping remains to drop
    retried: bool = False
    rearm_guard: bool = False  # an operator's confirmation expired: release the hold, the guard watches again

    async def run(self, ctx: Effects) -> Outcome | WriteFailed:
        if self.rearm_guard:
            await ctx.release_hold()
        if not self.copy_gone:
            target = ctx.side(self.counterpart.side)
            failed = await guarded(ctx, self.counterpart, target.delete(ctx.room, self.counterpart),
                                   retried=self.retried)  # fmt: skip
            if isinstance(failed, WriteFailed):
                return failed
        await ctx.mappings.delete(self.mapping)
        await ctx.record_deletion(self.source.side)
        return Outcome(self.kind, self.reason, *ids(self.source.side, self.source.item_id, self.counterpart.item_id))


@dataclass(frozen=True)
class ReleaseOrigin(Action):
    """A copy was cancelled on its side: release the original the only way its owner allows.

    A person's meeting is declined as the room (its organiser is told why); a booking is
    rejected with the reason. Neither is ever deleted (DESIGN invariant 7).
    """

    kind = ActionKind.RELEASE
    telemetry = "release"
    origin: ItemState
    mapping: MappingRow
    copy_side: Side  # where the cancellation happened
    rearm_guard: bool = False  # as Delete's

    async def run(self, ctx: Effects) -> Outcome:
        if self.rearm_guard:
            await ctx.release_hold()
        await ctx.side(self.origin.side).decline(ctx.room, self.origin, self.reason)
        await ctx.mappings.delete(self.mapping)
        await ctx.record_deletion(self.copy_side)
        return Outcome(self.kind, self.reason, *ids(self.origin.side, self.origin.item_id, None))


async def _give_up(ctx: Effects, loser: Loser, winner: ItemState, reason: str) -> None:
    """Record the conflict first (a lost response then still ends recorded), release the loser, drop its copies."""
    reason = loser.reason or reason
    await ctx.record_conflict(winner=winner, loser=loser.origin, reason=reason)
    if loser.occurrences:
        # a series gives way only on some dates: those occurrences are released, its copy is written without them
        await release_occurrences(ctx, loser, reason)
        await trim_copy_of(ctx, loser.origin)
        return
    side = ctx.side(loser.origin.side)
    if loser.by_decline:
        await side.decline(ctx.room, loser.origin, reason)
    else:
        with contextlib.suppress(NotFound):
            await side.delete(ctx.room, loser.origin)
    if loser.item.item_id != loser.origin.item_id:
        await ctx.remove_copy(loser.item)  # calsync's own copy of the loser
    await ctx.remove_copy_of(loser.origin)


@dataclass(frozen=True)
class Decline(Action):
    """The source lost an overlap: release its origin (decline or reject with the reason), remove its copies."""

    kind = ActionKind.DECLINE
    telemetry = "decline"
    loser: Loser
    winner: ItemState

    async def run(self, ctx: Effects) -> Outcome:
        await _give_up(ctx, self.loser, self.winner, self.reason)
        item = self.loser.item
        return Outcome(self.kind, self.reason, *ids(item.side, item.item_id, None))


@dataclass(frozen=True)
class Conflict(Action):
    """The source wins an overlap: release the rival's origin, remove the rival's copies, then write the source."""

    kind = ActionKind.CONFLICT
    telemetry = "conflict"
    losers: tuple[Loser, ...]  # every booking the source overlaps
    winner: ItemState
    then: Create | Update | DeclineOccurrences

    async def run(self, ctx: Effects) -> Outcome | WriteFailed:
        for loser in self.losers:
            await _give_up(ctx, loser, self.winner, self.reason)
        result = await self.then.run(ctx)
        if isinstance(result, WriteFailed):
            return result
        return Outcome(self.kind, self.reason, result.outlook_id, result.booking_id)


@dataclass(frozen=True)
class DeclineOccurrences(Action):
    """The source, a series, lost some of its dates: those occurrences give way, then its copy is written without them.

    ``then`` writes the source as it reads once those occurrences are released (calsync.sync.conflicts.trimmed),
    so the notification of the release is an echo.
    """

    kind = ActionKind.DECLINE
    telemetry = "decline"
    loser: Loser
    winner: ItemState
    then: Create | Update

    async def run(self, ctx: Effects) -> Outcome | WriteFailed:
        await ctx.record_conflict(winner=self.winner, loser=self.loser.origin, reason=self.reason)
        await release_occurrences(ctx, self.loser, self.reason)
        result = await self.then.run(ctx)
        if isinstance(result, WriteFailed):
            return result
        return Outcome(self.kind, self.reason, result.outlook_id, result.booking_id)


@dataclass(frozen=True)
class Held(Action):
    """The room is stopped by the mass-deletion guard until an operator confirms: nothing is synced."""

    kind = ActionKind.HELD
    telemetry = "held"
    hold: HoldView

    async def run(self, ctx: Effects) -> Outcome:
        raise MassDeletionGuardTripped(self.reason, room=ctx.room.key, side=_side(self.hold.side),
                                       missing=self.hold.missing, mapped=self.hold.mapped)  # fmt: skip


@dataclass(frozen=True)
class TripGuard(Action):
    """This deletion would be part of a wipe: hold the room and delete nothing."""

    kind = ActionKind.TRIP_GUARD
    telemetry = "trip-guard"
    side: Side
    gone: int
    total: int

    async def run(self, ctx: Effects) -> Outcome:
        await ctx.hold_room(self.side, missing=self.gone, mapped=self.total, reason=self.reason)
        raise MassDeletionGuardTripped(f"mass-deletion guard tripped for room {ctx.room.key}: {self.reason}",
                                       room=ctx.room.key, side=self.side.value, missing=self.gone,
                                       mapped=self.total)  # fmt: skip


def _side(side: Side | None) -> str:
    return side.value if side is not None else ""
