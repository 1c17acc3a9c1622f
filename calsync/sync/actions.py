"""What calsync does for one hint: one frozen class per action kind, each with its own ``run``.

As in vdirsyncer's sync (Upload, Update, Delete, ResolveConflict), the pure decision
(calsync.sync.plan) builds one of these and the engine runs it. ``run`` does the I/O
through ``Effects`` (calsync.sync.effects) and returns either an ``Outcome``
or, when a write met a vanished or changed copy, a ``WriteFailed`` that the pure
``plan.after_failure`` turns into the next action: the choice of what to do then is
not made here. This module imports no SDK; the context does the I/O.

Vocabulary (``ActionKind``): create, update, delete, decline (the source lost a
conflict), conflict (the source won: the rival is declined, then the copy written),
adopt (a stamped copy was found: only the mapping is rebuilt), forget (both sides
gone: drop the mapping), skip-echo, skip-unchanged, held (the room is stopped by
the mass-deletion guard), trip-guard (this deletion would be part of a wipe).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from calsync.errors import Conflict as VersionConflict
from calsync.errors import MassDeletionGuardTripped, NotFound
from calsync.model import Side
from calsync.model.mapping import MappingRow
from calsync.sync.state import HoldView, ItemState
from calsync.sync.translate import desired_copy

if TYPE_CHECKING:
    from calsync.sync.effects import Effects


class ActionKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    DECLINE = "decline"
    CONFLICT = "conflict"
    ADOPT = "adopt"
    FORGET = "forget"
    SKIP_ECHO = "skip-echo"
    SKIP_UNCHANGED = "skip-unchanged"
    HELD = "held"
    TRIP_GUARD = "trip-guard"


WRITING_ACTIONS = frozenset({ActionKind.CREATE, ActionKind.UPDATE, ActionKind.DELETE, ActionKind.DECLINE,
                             ActionKind.CONFLICT})  # fmt: skip
"""Actions that write to a calendar (sync lag is measured for these)."""


class Failure(StrEnum):
    GONE = "gone"  # the copy was not there any more (404/410)
    CHANGED = "changed"  # the copy changed since calsync wrote it (412/409)


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
class SkipEcho(Action):
    kind = ActionKind.SKIP_ECHO
    telemetry = "skip-echo"

    async def run(self, ctx: Effects) -> Outcome:
        return Outcome(self.kind, self.reason)


@dataclass(frozen=True)
class SkipUnchanged(Action):
    kind = ActionKind.SKIP_UNCHANGED
    telemetry = "skip-unchanged"

    async def run(self, ctx: Effects) -> Outcome:
        return Outcome(self.kind, self.reason)


@dataclass(frozen=True)
class Forget(Action):
    kind = ActionKind.FORGET
    telemetry = "skip-unchanged"
    mapping: MappingRow

    async def run(self, ctx: Effects) -> Outcome:
        await ctx.mappings.delete(self.mapping)
        return Outcome(self.kind, self.reason)


@dataclass(frozen=True)
class Create(Action):
    kind = ActionKind.CREATE
    telemetry = "create"
    source: ItemState
    mapping: MappingRow | None
    idempotency_key: str

    async def run(self, ctx: Effects) -> Outcome:
        assert self.source.booking is not None
        desired = desired_copy(self.source.booking, private_subject=ctx.policy.private_subject)
        target = ctx.side(self.source.side.other)
        copy = await target.create(ctx.room, desired, stamp=self.source.item_id, idempotency_key=self.idempotency_key)
        saved = await ctx.save(self.source, copy, self.mapping)
        return Outcome(self.kind, self.reason, saved.outlook_id, saved.booking_id)


@dataclass(frozen=True)
class Update(Action):
    kind = ActionKind.UPDATE
    telemetry = "update"
    source: ItemState
    mapping: MappingRow | None
    counterpart: ItemState
    retried: bool = False  # already re-applied once after a version conflict: a second one is raised

    async def run(self, ctx: Effects) -> Outcome | WriteFailed:
        assert self.source.booking is not None
        desired = desired_copy(self.source.booking, private_subject=ctx.policy.private_subject)
        target = ctx.side(self.counterpart.side)
        try:
            copy = await target.update(ctx.room, self.counterpart, desired)
        except NotFound:
            return WriteFailed(Failure.GONE)
        except VersionConflict:
            if self.retried:
                raise
            return WriteFailed(Failure.CHANGED, await target.read(ctx.room, self.counterpart.item_id))
        saved = await ctx.save(self.source, copy, self.mapping)
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
            try:
                await target.delete(ctx.room, self.counterpart)
            except NotFound:
                return WriteFailed(Failure.GONE)
            except VersionConflict:
                if self.retried:
                    raise
                return WriteFailed(Failure.CHANGED, await target.read(ctx.room, self.counterpart.item_id))
        await ctx.mappings.delete(self.mapping)
        await ctx.record_deletion(self.source.side)
        return Outcome(self.kind, self.reason, *ids(self.source.side, self.source.item_id, self.counterpart.item_id))


@dataclass(frozen=True)
class Decline(Action):
    """The source lost an overlap: decline it where it was made, and remove its copy if it had one."""

    kind = ActionKind.DECLINE
    telemetry = "decline"
    source: ItemState
    mapping: MappingRow | None
    winner: ItemState
    counterpart: ItemState | None

    async def run(self, ctx: Effects) -> Outcome:
        await ctx.side(self.source.side).decline(ctx.room, self.source, self.reason)
        if self.mapping is not None and self.counterpart is not None:
            await ctx.remove_copy(self.counterpart)
            await ctx.mappings.delete(self.mapping)
        await ctx.record_conflict(winner=self.winner, loser=self.source, reason=self.reason)
        return Outcome(self.kind, self.reason, *ids(self.source.side, self.source.item_id, None))


@dataclass(frozen=True)
class Conflict(Action):
    """The source wins an overlap: decline the rival on its side, remove the rival's copy, then write the source."""

    kind = ActionKind.CONFLICT
    telemetry = "conflict"
    rival: ItemState
    winner: ItemState
    then: Create | Update

    async def run(self, ctx: Effects) -> Outcome | WriteFailed:
        rival = self.rival
        await ctx.side(rival.side).decline(ctx.room, rival, self.reason)
        await ctx.remove_copy_of(rival)
        await ctx.record_conflict(winner=self.winner, loser=rival, reason=self.reason)
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
