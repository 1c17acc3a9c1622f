"""Room moves (issue #11): a booking moved to another room in the booking system, in both rooms' passes.

Pure choices, and the one action of their own (``HandBack``). The booking system
moves a booking by changing its room; calsync's mappings live in one partition per
room, so the new room finds the old one through the cross-room index
(calsync.store.mappings: ``booking_room``), read by ``reads.ReadBookingRoom``.

- An original booking moved from room P to this room: its copy is created here as
  for a new booking, after a ChangeHint for P is published and the index points
  here (``moved_in``: ``Create.moved_from``). P's own pass, in P's session, finds
  the booking gone from P (``ItemState.moved_to``) and removes its copy through the
  usual "original gone" row, with P's mass-deletion guard and hold.
- calsync's booking copy of an Outlook item of room P (a person's meeting, or an
  event the room organises) moved here: calsync cannot move a meeting between
  mailboxes, so the copy goes back to P, with a note saying why (``moved_back``, in
  P's pass); this room's pass only tells P (``HandBack``). The meeting is never
  declined for the move; if the slot the copy left was booked meanwhile, the copy going
  back meets that booking as any copy would (the conflict policy decides).

Every step is idempotent: a publish repeated after a crash has the same MessageId
(Service Bus duplicate detection drops it, and P's pass is idempotent anyway); once
the index points here no more hints are published; the create keeps its idempotency
key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from calsync.errors import RoomHeldInTransit
from calsync.model import Side
from calsync.model.mapping import MappingRow
from calsync.sync.actions import (
    Action,
    ActionKind,
    Conflict,
    Create,
    Decline,
    DeclineOccurrences,
    Outcome,
    RemoveOrphan,
    SkipUnchanged,
    Update,
    ids,
)
from calsync.sync.cancellation import removal
from calsync.sync.conflicts import overlap_action
from calsync.sync.overlap import rivals
from calsync.sync.ownership import authority, whose
from calsync.sync.reads import ListAround, Read, ReadOrigin, ReadRivalOrigin, ReadRivalRoom
from calsync.sync.state import Facts, ItemState, Policy, TargetView

if TYPE_CHECKING:
    from calsync.sync.effects import Effects


def may_have_moved(source: ItemState, mapping: MappingRow | None) -> bool:
    """A booking with no mapping in this room: it may have been mapped in another room before it moved here."""
    return source.side is Side.BOOKING and source.exists and mapping is None


def moved_from(facts: Facts) -> str | None:
    """The other room the source booking was mapped in, as the cross-room index says (None: not moved)."""
    room = facts.booking_room
    return room if room is not None and room != facts.hint.room else None


def moved_away_copy(source: ItemState, mapping: MappingRow | None, counterpart: ItemState | None) -> bool:
    """calsync's booking copy of this room's Outlook item, moved to another room by the booking system's users.

    Without a mapping (lost in a crash) the copy's stamp names the original, found here by ``ReadStamped``.
    """
    if source.moved_to is None or counterpart is None:
        return False
    if mapping is None:
        return bool(source.stamp) and source.stamp == counterpart.item_id and counterpart.exists
    return not mapping.cancelled and source.side is not authority(mapping, counterpart)


def moved_copy_released(source: ItemState, mapping: MappingRow | None, counterpart: ItemState | None) -> bool:
    """calsync's copy, moved to another room, of an original this room declined or cancelled (nothing maps it)."""
    return (source.moved_to is not None and mapping is None and counterpart is not None and bool(source.stamp)
            and source.stamp == counterpart.item_id and counterpart.booking is not None
            and not counterpart.exists)  # fmt: skip


def moved_back(facts: Facts, source: ItemState, mapping: MappingRow | None, original: ItemState,
               policy: Policy) -> Read | Action:  # fmt: skip
    """The copy ``source`` was moved to another room; ``original`` is its Outlook item here (from the mapping).

    Reads the original, then what holds this room in the booking system at its time: the slot
    the copy left may have been booked meanwhile, and the copy going back then meets that
    booking as any copy would (the conflict policy picks who keeps the room).
    """
    if not facts.origin_read:
        return ReadOrigin(original.side, original.item_id)
    origin = facts.origin
    if origin is None or not origin.exists or origin.booking is None:
        # the original is gone or cancelled too: the copy goes as for any copy of a vanished original
        if mapping is None:
            # nothing maps the copy here: the room it is in now finds it orphaned on its own hint
            return SkipUnchanged("a moved copy's original is gone and nothing maps it here")
        return removal(origin or original, mapping, source, policy)
    span = facts.window if origin.booking.recurrence is not None else origin.booking.interval_utc()
    if facts.listing is None:
        return ListAround(Side.BOOKING, *span)
    own = {source.item_id} | {item.item_id for item in facts.listing if item.stamp == origin.item_id}
    if any(item.exists and item.item_id != source.item_id for item in facts.listing if item.stamp == origin.item_id):
        # the original got another copy here meanwhile (its mapping was lost): the moved one is a duplicate
        return RemoveOrphan("the original of this moved copy has another copy in its room", copy=source)
    found = rivals(origin.booking, facts.listing, span, exclude=own)
    needed = rival_reads(facts, found, wait=False)
    if needed is not None:
        return needed
    known = {item.item_id: item for item in facts.rival_origins}
    # the meeting keeps its room (only its organiser could move it): the copy goes back, its users told why
    write = Update("a copy of an Outlook meeting was moved to another room; moved back to the meeting's room",
                   source=origin, mapping=mapping, counterpart=source, note=move_note(origin))  # fmt: skip
    if found:
        # the slot the copy left was booked meanwhile: who keeps the room, as for any overlap
        action = overlap_action(origin, mapping, TargetView(source, found, known, facts.window), found, write, policy)
        if isinstance(action, Decline) and action.loser.item.item_id == origin.item_id:
            # the original gives way: the moved copy goes too, from the room it was moved to (nothing maps it there)
            return dataclasses.replace(action, loser=dataclasses.replace(action.loser, item=source))
        return action
    return write


def rival_reads(facts: Facts, rivals: list[ItemState], *, wait: bool = True) -> Read | Action | None:
    """What the decision still needs about rivals that are calsync's copies, or the wait for one in transit.

    A rival that is calsync's copy of an Outlook item: its original is read (its organiser is the one
    to tell). If that original is not in this room at all, the copy may be another room's, moved here by
    the booking system's users and on its way back (``moved_back``, in that room's session): the
    cross-room index says. Removing it here would make its own room take it for cancelled and release
    the original, so the source waits until it has gone back (``AwaitHandBack``). A copy going back
    itself does not wait (``wait`` False): two copies moved into each other's rooms at the same time
    would wait for each other for ever; it meets the other copy through the conflict policy instead.
    """
    origins = {item.item_id: item for item in facts.rival_origins}
    rooms = dict(facts.rival_rooms)
    for rival in rivals:
        if rival.side is not Side.BOOKING or not rival.stamp:
            continue
        if rival.stamp not in origins:
            # the rival is calsync's copy of another Outlook meeting: its organiser is the one to tell
            return ReadRivalOrigin(Side.OUTLOOK, rival.stamp)
        if origins[rival.stamp].booking is not None or not wait:
            continue
        if rival.item_id not in rooms:
            return ReadRivalRoom(rival.item_id)
        home = rooms[rival.item_id]
        if home is not None and home != facts.hint.room:
            return AwaitHandBack(f"the room is held by a copy of room {home}'s reservation on its way back there",
                                 rival=rival, home=home)  # fmt: skip
    return None


def move_note(origin: ItemState) -> str:
    """What the booking system's users read when calsync moves a copy of an Outlook meeting back to its room."""
    owner = whose(origin, "an")
    return (f"This booking is a copy of {owner} Outlook meeting, which only its organiser can move to another "
            f"room: it was moved back to the meeting's room. Ask the organiser to change the meeting's room in "
            f"Outlook.")  # fmt: skip


def moved_in(action: Action, room: str) -> Action:
    """``action`` for a booking moved here from ``room``: its create first tells that room (``Create.moved_from``)."""
    if isinstance(action, Create):
        return dataclasses.replace(action, moved_from=room)
    if isinstance(action, Conflict | DeclineOccurrences):
        return dataclasses.replace(action, then=moved_in(action.then, room))
    return action


@dataclass(frozen=True)
class HandBack(Action):
    """calsync's copy of another room's Outlook item was moved here: only that room's pass may move it back."""

    kind = ActionKind.SKIP_UNCHANGED
    telemetry = "skip-unchanged"
    source: ItemState
    home: str  # the room whose Outlook item the booking copies

    async def run(self, ctx: Effects) -> Outcome:
        await ctx.hint_room(self.home, self.source)
        return Outcome(self.kind, self.reason, *ids(self.source.side, self.source.item_id, None))


@dataclass(frozen=True)
class AwaitHandBack(Action):
    """The source overlaps another room's copy that was moved here: that room takes it back first, then a retry."""

    kind = ActionKind.SKIP_UNCHANGED
    telemetry = "skip-unchanged"
    rival: ItemState
    home: str

    async def run(self, ctx: Effects) -> Outcome:
        await ctx.hint_room(self.home, self.rival)
        raise RoomHeldInTransit(f"{self.reason}; retried once it has gone", side=Side.BOOKING.value)
