"""Soft cancellation and the room's own declines (issue #14): the pure choices and their two actions.

The pure decision (calsync.sync.plan) asks ``removal`` how to take away the copy of
a source that was cancelled or deleted: a booking copy is *cancelled* (it stays,
with who/when/why) when the booking system keeps cancelled bookings, calsync's own
service-mailbox meeting is *cancelled at its organiser* with the reason as the
comment (the booker's and the room's copies follow), and anything else is deleted
as before. A soft-cancelled reservation keeps its mapping (``cancelled``), so a
re-confirmed source updates its copy instead of creating a second one, and later
hints about the cancelled items change nothing (``already_cancelled``).

``rejected_by_room`` answers a create whose meeting the room's attendant declined:
record it, reject the booking with the room's reason, and cancel the meeting so
the booker is not left with an invitation for a room they do not have.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from calsync.errors import NotFound
from calsync.model import Side
from calsync.model.booking import Cancellation
from calsync.model.mapping import MappingRow
from calsync.sync.actions import (
    Action,
    ActionKind,
    Delete,
    Failure,
    Forget,
    Outcome,
    SkipUnchanged,
    WriteFailed,
    ids,
)
from calsync.sync.ownership import outlook_role
from calsync.sync.state import ItemState, OrganizerRole, Policy

if TYPE_CHECKING:
    from calsync.sync.effects import Effects

_GONE = {
    Side.OUTLOOK: "The meeting was removed from the room's Outlook calendar.",
    Side.BOOKING: "The booking was deleted in the booking system.",
}


@dataclass(frozen=True)
class CancelCopy(Action):
    """The source was cancelled or deleted: cancel its copy, keeping it (and the mapping) where possible."""

    kind = ActionKind.CANCEL
    telemetry = "cancel"
    source: ItemState
    mapping: MappingRow
    counterpart: ItemState
    cancellation: Cancellation
    rearm_guard: bool = False  # as Delete's

    async def run(self, ctx: Effects) -> Outcome | WriteFailed:
        if self.rearm_guard:
            await ctx.release_hold()
        cancellation = self.cancellation.model_copy(update={"at": self.cancellation.at or ctx.clock()})
        try:
            copy = await ctx.side(self.counterpart.side).cancel(ctx.room, self.counterpart, cancellation)
        except NotFound:
            return WriteFailed(Failure.GONE)
        if copy is None:  # what the side does not tell: the copy no longer holds the room
            copy = dataclasses.replace(self.counterpart, booking=None, content_hash=None, read=True)
        await ctx.save(self.source, copy, self.mapping)  # cancelled on both sides: the row is kept, marked
        await ctx.record_deletion(self.source.side)
        return Outcome(self.kind, self.reason, *ids(self.source.side, self.source.item_id, self.counterpart.item_id))


@dataclass(frozen=True)
class RejectDeclined(Action):
    """The room declined calsync's meeting for a booking: record it, reject the booking, cancel the meeting."""

    kind = ActionKind.REJECT
    telemetry = "reject"
    source: ItemState  # the booking
    meeting: ItemState  # calsync's meeting, as the room declined it

    async def run(self, ctx: Effects) -> Outcome:
        await ctx.record_conflict(winner=self.meeting, loser=self.source, reason=self.reason, kind="room-declined")
        await ctx.side(Side.BOOKING).decline(ctx.room, self.source, self.reason)
        await ctx.side(Side.OUTLOOK).cancel(ctx.room, self.meeting, Cancellation(reason=self.reason))
        return Outcome(self.kind, self.reason, *ids(Side.BOOKING, self.source.item_id, self.meeting.item_id))


def removal(source: ItemState, mapping: MappingRow, counterpart: ItemState, policy: Policy) -> Action:
    """How the copy of a cancelled or deleted source goes (the source is the reservation's authority)."""
    given = source.booking.cancellation if source.booking is not None else None
    cancellation = given or Cancellation(reason=_GONE[source.side])
    if counterpart.side is Side.BOOKING and policy.soft_cancel:
        # soft cancellation: the booking stays, cancelled, with who/when/why
        return CancelCopy("source cancelled; its booking is cancelled", source=source, mapping=mapping,
                          counterpart=counterpart, cancellation=cancellation)  # fmt: skip
    if counterpart.side is Side.OUTLOOK and outlook_role(mapping, counterpart) is OrganizerRole.SERVICE:
        # calsync's meeting: cancelled at its organiser, the reason in the cancellation everyone receives
        return CancelCopy("booking cancelled; its meeting is cancelled", source=source, mapping=mapping,
                          counterpart=counterpart, cancellation=cancellation)  # fmt: skip
    # a room-organised event, or a booking system that only deletes: remove the copy
    return Delete("source deleted or cancelled", source=source, mapping=mapping, counterpart=counterpart)


def already_cancelled(source: ItemState, mapping: MappingRow) -> Action:
    """A hint about a reservation cancelled on both sides: drop the row once an item is really gone."""
    if source.booking is None:
        # an item of a soft-cancelled reservation was deleted: nothing is left to keep in step
        return Forget("cancelled reservation deleted; mapping dropped", mapping=mapping)
    # the cancelled item was touched again (e.g. the room's copy marked cancelled): nothing to do
    return SkipUnchanged("reservation already cancelled on both sides")


def rejected_by_room(source: ItemState, failed: WriteFailed) -> Action | None:
    """The room declined calsync's new meeting for booking ``source``."""
    meeting = failed.current
    if meeting is None:
        return None
    given = meeting.booking.cancellation if meeting.booking is not None else None
    reason = (given.reason if given else None) or "The room declined the meeting."
    return RejectDeclined(reason, source=source, meeting=meeting)
