"""The whole sync decision, pure: what to read next, the action, and what to do when a write fails.

Nothing here does I/O (a test checks that this module imports no SDK). The engine
asks ``decide(facts)`` repeatedly: it answers either a read (calsync.sync.reads) to
perform next, or the action (calsync.sync.actions) to run. When an action's write
meets a vanished or changed copy, ``after_failure`` names the next action. Each
branch carries a comment naming its case, like vdirsyncer's decision table.

Echo suppression (DESIGN invariant 2): the mapping stores, per side, the content
hash of what calsync last wrote or saw there. A source whose hash equals that
stored hash has not changed since; the hint is our own echo or a duplicate, and
nothing more is read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from calsync.model import HintReason, Side
from calsync.model.content_hash import slot_hash
from calsync.model.hint import VERSIONED_KINDS
from calsync.model.mapping import MappingRow, mapping_id_for, same_version
from calsync.sync import reads
from calsync.sync.actions import (
    Action,
    Adopt,
    Conflict,
    Create,
    DeclineOccurrences,
    Delete,
    Failure,
    Forget,
    Held,
    ReleaseOrigin,
    RemoveOrphan,
    SkipEcho,
    SkipUnchanged,
    TripGuard,
    Update,
    WriteFailed,
)
from calsync.sync.cancellation import CancelCopy, already_cancelled, rejected_by_room, removal
from calsync.sync.conflicts import is_block, overlap_action
from calsync.sync.guard import HoldState, needs_listing, verdict
from calsync.sync.moves import (
    HandBack,
    may_have_moved,
    moved_away_copy,
    moved_back,
    moved_copy_released,
    moved_from,
    moved_in,
    rival_reads,
)
from calsync.sync.overlap import rivals
from calsync.sync.ownership import authority, outlook_role, released_by_decline, whose
from calsync.sync.state import Facts, ItemState, OrganizerRole, Policy, TargetView
from calsync.sync.translate import changes_origin, flow_back, same_reservation

# --- what to read next, then the action -------------------------------------------------------------


def decide(facts: Facts, policy: Policy) -> reads.Read | Action:
    """The next read the decision needs, or the action once it has read enough."""
    if facts.hold is None:
        # first, is the room stopped by the mass-deletion guard?
        return reads.ReadHold()
    if facts.hold.state is HoldState.BLOCKING:
        return Held(f"sync of room {facts.hint.room} is stopped: {facts.hold.reason}; confirm with "
                    f"`calsync rooms release {facts.hint.room}`", hold=facts.hold)  # fmt: skip
    source = facts.source
    hint = facts.hint
    if source is None:
        versioned = hint.version is not None and hint.change_kind in VERSIONED_KINDS \
            and hint.reason is HintReason.WEBHOOK  # fmt: skip
        if versioned and not facts.hinted_read:
            # the hint carries the version a write produced: does the mapping say calsync wrote or saw exactly that?
            return reads.ReadHintedMapping(hint.source, hint.item_id)
        if versioned and (facts.hinted_written or _hinted_holds_version(facts)):
            # our own echo or a duplicate hint, told by its version (Graph's resourceData @odata.etag,
            # https://learn.microsoft.com/graph/api/resources/resourcedata; the booking webhook's version):
            # nothing more to read. Not for a deletion (it names the last version, the one calsync saw), nor
            # a series (its exceptions change without a new version of its master). Not in the room's memory:
            # a mapping row this process wrote holds exactly that version (calsync.store.own_versions)
            return SkipEcho("the hint names the version calsync last wrote or saw")
        # the item's current state where the hint came from (never the hint's data)
        if versioned and facts.hinted is None:
            # the room's memory does not know the item (a new one, or a new session): its mapping comes
            # from the table, read alongside the source
            return reads.ReadSourceAndMapping(hint.source, hint.item_id)
        return reads.ReadSource(hint.source, hint.item_id)
    hinted = facts.hinted is not None and source.exists and (source.side, source.item_id) == (hint.source, hint.item_id)
    if not facts.mapping_read and not hinted:
        return reads.ReadMapping(source.side, source.item_id)
    mapping = facts.mapping if facts.mapping_read else facts.hinted
    if mapping is not None and source.exists and source.content_hash == mapping.hash_on(source.side):
        # our own echo or a duplicate hint: nothing more to read
        return SkipEcho("source unchanged since calsync last wrote or saw it")
    if may_have_moved(source, mapping) and not facts.booking_room_read:
        # a booking with no mapping here: was it mapped in another room, and moved here? (calsync.sync.moves)
        return reads.ReadBookingRoom(source.item_id)
    previous_room = moved_from(facts)
    if previous_room is not None and source.stamp:
        # calsync's copy of another room's Outlook item, moved here: that room moves it back
        return HandBack("a copy of another room's Outlook item was moved here; its room moves it back",
                        source=source, home=previous_room)  # fmt: skip

    target = source.side.other
    mapped_id = mapping.id_on(target) if mapping is not None else None
    if not mapped_id and not facts.looked_up:
        if source.stamp:
            # the source is a copy calsync made: its stamp names the original
            return reads.ReadStamped(target, source.stamp)
        if source.exists and facts.hint.reason is not HintReason.WEBHOOK and target is Side.OUTLOOK:
            # reconcile, backfill, replay: a copy may exist whose mapping was lost; a webhook of a new
            # booking skips this Graph request (the create's transactionId covers a crashed retry)
            return reads.FindCopy(target, source.item_id)
    counterpart = _counterpart(mapping, target, facts.found)
    if source.exists and mapping is None and source.stamp and facts.looked_up and source.role is not OrganizerRole.PERSON \
            and (facts.found is None or not facts.found.exists):  # fmt: skip
        # calsync's copy, its mapping lost and its original gone: remove the orphan, never copy it back as new
        return RemoveOrphan("the original of this copy is gone", copy=source)
    duplicate = facts.found_mapping.id_on(source.side) if facts.found_mapping is not None else None
    if source.exists and mapping is None and source.stamp and duplicate and duplicate != source.item_id \
            and source.role is not OrganizerRole.PERSON:  # fmt: skip
        # calsync's copy, its mapping lost, and its original mapped to another copy made meanwhile: a duplicate
        return RemoveOrphan("the original of this copy already has another copy", copy=source)

    if moved_copy_released(source, mapping, counterpart):
        # calsync's copy of a declined or cancelled original, moved to another room: it holds that room for nobody
        return RemoveOrphan("the original of this moved copy was declined or cancelled", copy=source)
    if moved_away_copy(source, mapping, counterpart):
        # calsync's copy was moved to another room: it goes back to its original's room
        assert counterpart is not None
        return moved_back(facts, source, mapping, counterpart, policy)

    rearm = False
    deleting = not source.exists and mapping is not None and counterpart is not None
    if deleting and facts.hold.state is not HoldState.CONFIRMED:
        # about to delete a copy because its source vanished: is this part of a wipe?
        if facts.tally is None:
            return reads.CountForGuard(source.side)
        if needs_listing(facts.tally, policy.guard):
            return reads.ListForGuard(source.side)
        judged = verdict(facts.tally, policy.guard, side=source.side.value)
        if not judged.allow:
            return TripGuard(judged.reason, side=source.side, gone=judged.gone, total=judged.total)
        rearm = facts.hold.state is HoldState.EXPIRED

    if source.exists and mapping is not None and counterpart is not None and source.side is not authority(
            mapping, source):  # fmt: skip
        # the source is a copy and it changed: what does its original say now?
        if not facts.origin_read:
            return reads.ReadOrigin(counterpart.side, counterpart.item_id)
        return _rewrite_meeting_rivals(facts, plan(source, mapping, TargetView(facts.origin), policy), policy)

    overlapping: list[ItemState] = []
    if source.exists and (target is Side.BOOKING or is_block(source)) and (
            facts.listing is not None or not _slot_kept(facts, source, mapping, counterpart)):  # fmt: skip
        # the other side's items around the source: rivals, and a stamped copy if the mapping was lost
        # (Outlook is listed only around a room-unavailability block: the meetings it must displace)
        if facts.listing is None:
            return reads.ListAround(target, *_listing_span(source, facts.window))
        if counterpart is None:
            counterpart = next((i for i in facts.listing if i.stamp == source.item_id and i.exists), None)
        elif not counterpart.read:
            # the mapped copy, listed at the version calsync last wrote: its content is known, no second read
            counterpart = next((i for i in facts.listing if i.item_id == counterpart.item_id and i.exists
                                and i.version == counterpart.version and i.side is counterpart.side),
                               counterpart)  # fmt: skip
        overlapping = _rivals(source, facts.listing, counterpart, facts.window)
        needed = rival_reads(facts, overlapping)  # rivals that are calsync's copies: whose, and where from
        if needed is not None:
            return needed

    origins = {origin.item_id: origin for origin in facts.rival_origins}
    step = _rewrite_meeting_rivals(facts, plan(source, mapping, TargetView(counterpart, overlapping, origins,
                                                                           facts.window), policy), policy)  # fmt: skip
    if isinstance(step, reads.Read):
        return step
    action = step
    if rearm and isinstance(action, Delete | ReleaseOrigin | CancelCopy):
        action = dataclasses.replace(action, rearm_guard=True)
    if previous_room is not None:
        # the booking moved here from another room: its create tells that room first
        action = moved_in(action, previous_room)
    return action


def plan(source: ItemState, mapping: MappingRow | None, target: TargetView, policy: Policy) -> Action:
    """The single action for one hint, once the source, mapping and target are known."""
    counterpart = target.counterpart

    if not source.exists:
        if mapping is None and counterpart is None:
            # gone or cancelled, never synced: nothing exists elsewhere
            return SkipUnchanged("source gone and never synced")
        if mapping is not None and mapping.cancelled:
            # the reservation is already cancelled on both sides (soft cancellation kept the row)
            return already_cancelled(source, mapping)
        if mapping is not None and counterpart is not None and counterpart.exists:
            if source.side is authority(mapping, counterpart):
                # the original was deleted or cancelled: cancel (soft) or remove calsync's copy
                return removal(source, mapping, counterpart, policy)
            if released_by_decline(counterpart):
                # a copy was cancelled on its side: decline the person's meeting / reject the booking, never delete it
                return ReleaseOrigin(_release_reason(source.side), origin=counterpart, mapping=mapping,
                                     copy_side=source.side)  # fmt: skip
            # a copy was cancelled on its side; its original is a room-organised event, which may be deleted
            return Delete("copy cancelled; room-organised original removed", source=source, mapping=mapping,
                          counterpart=counterpart)  # fmt: skip
        if mapping is None:
            # gone at the source, its stamped copy has no mapping to drop: the next full compare sees the copy
            return SkipUnchanged("source gone; its copy is not mapped")
        # both sides gone: only the mapping remains
        return Forget("both sides gone", mapping=mapping)

    if mapping is not None and source.content_hash == mapping.hash_on(source.side):
        # the source is exactly what calsync last wrote or saw: our own echo or a duplicate hint
        return SkipEcho("source unchanged since calsync last wrote or saw it")

    if mapping is None and counterpart is not None and counterpart.exists:
        # a stamped copy exists but the mapping was lost (crash after create, wiped table): adopt it. When the
        # source is that copy (its stamp named the counterpart), the counterpart is the original: it wins, and
        # it is the rebuilt mapping's origin (a person's meeting is never written from its copy)
        origin, copy = (counterpart, source) if source.stamp == counterpart.item_id else (source, counterpart)
        assert origin.booking is not None and copy.booking is not None
        if same_reservation(origin.booking, copy.booking, private_subject=policy.private_subject):
            return Adopt("found the stamped copy; mapping rebuilt", source=origin, counterpart=copy)
        return Update("found the stamped copy with older content", source=origin, mapping=None,
                      counterpart=copy)  # fmt: skip

    if mapping is not None and counterpart is not None and counterpart.read and source.side is not authority(
            mapping, source):  # fmt: skip
        return _copy_changed(source, mapping, counterpart, policy)

    write = _write(source, mapping, counterpart)
    rivals = [i for i in target.overlapping if i.exists and not _same_item(i, counterpart)]
    if rivals:
        # the source overlaps bookings on the other side: who keeps the room, per rival (calsync.sync.conflicts)
        return overlap_action(source, mapping, target, rivals, write, policy)
    return write


def _copy_changed(source: ItemState, mapping: MappingRow, origin: ItemState, policy: Policy) -> Action:
    """The source is a copy that changed on its side (``origin``: its original, just read)."""
    if not origin.exists:
        # the original is gone or cancelled: cancel (soft) or remove calsync's copy
        return removal(origin, mapping, source, policy)
    if origin.content_hash != mapping.hash_on(origin.side):
        # both the original and its copy changed before a sync: the original wins, the copy is rewritten
        return Update("both copies changed before a sync; the original wins", source=origin, mapping=mapping,
                      counterpart=source, concurrent=True)  # fmt: skip
    if origin.side is Side.OUTLOOK and origin.role is OrganizerRole.PERSON:
        # a person's meeting cannot be edited by calsync: the copy goes back to what the meeting says
        return Update("a copy of a person's Outlook meeting was changed; reverted to the meeting",
                      source=origin, mapping=mapping, counterpart=source, note=revert_note(origin))  # fmt: skip
    # an edit of a copy flows back to its original, except what only the original decides (a private title)
    assert source.booking is not None and origin.booking is not None
    desired = flow_back(source.booking, origin.booking, private_subject=policy.private_subject)
    if not changes_origin(desired, origin.booking):
        # only what the original decides was changed (the placeholder title of a private booking): the copy goes back
        return Update("the copy changed only what its original decides; it shows the original again", source=origin,
                      mapping=mapping, counterpart=source)  # fmt: skip
    # the rest flows back; a copy that then differs from its original (a retitled placeholder) is rewritten too
    restore = not same_reservation(desired, source.booking, private_subject=policy.private_subject)
    return Update("the copy was edited; the edit flows back to the original", source=source, mapping=mapping,
                  counterpart=origin, desired=desired, restore_copy=restore)  # fmt: skip


def _rewrite_meeting_rivals(facts: Facts, action: Action, policy: Policy) -> reads.Read | Action:
    """An Outlook original rewriting its booking copy (a revert, the original winning a concurrent edit, or a
    copy found by its stamp after the mapping was lost).

    The copy goes back to the original's time, where the booking system may hold another booking
    by now (it answers 409 for ever otherwise): who keeps the room is the conflict policy's choice,
    as for any Outlook source overlapping a booking.
    """
    if not (isinstance(action, Update) and action.desired is None and action.source.side is Side.OUTLOOK
            and action.counterpart is not None and action.source.booking is not None):  # fmt: skip
        return action
    origin, copy = action.source, action.counterpart
    if facts.listing is None:
        if _slot_kept(facts, origin, action.mapping, copy):
            return action  # the copy already holds the original's slot
        return reads.ListAround(Side.BOOKING, *_listing_span(origin, facts.window))
    overlapping = _rivals(origin, facts.listing, copy, facts.window)
    needed = rival_reads(facts, overlapping)  # rivals that are calsync's copies: whose, and where from
    if needed is not None:
        return needed
    known = {item.item_id: item for item in facts.rival_origins}
    if not overlapping:
        return action
    target = TargetView(copy, overlapping, known, facts.window)
    return overlap_action(origin, action.mapping, target, overlapping, action, policy)


def revert_note(origin: ItemState) -> str:
    """What the booking system's users read when calsync reverts their edit of the copy of a person's meeting."""
    owner = whose(origin, "a person's")
    return (f"This booking is a copy of {owner} Outlook meeting, which only its organiser can change: the change "
            f"made here was undone. Ask the organiser to change the meeting in Outlook.")  # fmt: skip


def _release_reason(copy_side: Side) -> str:
    if copy_side is Side.BOOKING:
        return "The booking of this room was cancelled in the booking system."
    return "The reservation was removed from the room's Outlook calendar."


def _write(source: ItemState, mapping: MappingRow | None, counterpart: ItemState | None) -> Create | Update:
    if counterpart is not None and counterpart.exists:
        # the source changed and its copy exists: bring the copy up to date
        return Update("source changed", source=source, mapping=mapping, counterpart=counterpart)
    # new source, or its copy was deleted behind calsync's back: (re)create the copy
    return _create(source, mapping, "new at the source" if mapping is None else "copy missing on the target")


def _create(source: ItemState, mapping: MappingRow | None, reason: str) -> Create:
    """A create; a copy made again after a deletion gets the next generation, so a fresh idempotency key."""
    generation = 0 if mapping is None else mapping.generation + 1
    return Create(reason, source=source, mapping=mapping, idempotency_key=copy_key(source, mapping, generation),
                  generation=generation)  # fmt: skip


# --- after a failed write ---------------------------------------------------------------------------


def after_failure(action: Action, failed: WriteFailed) -> Action | None:
    """What to do when ``action``'s write met a vanished or changed copy; None: nothing can help (re-raise)."""
    current = failed.current
    if isinstance(action, Create) and failed.failure is Failure.DECLINED:
        # the room's attendant declined calsync's meeting: record it, reject the booking with the reason
        return rejected_by_room(action.source, failed)
    if isinstance(action, Conflict | DeclineOccurrences):
        # the rival (or the source's lost occurrences) already gave way: only the write remains to recover
        return after_failure(action.then, failed)
    if isinstance(action, Update):
        if action.desired is not None and (failed.failure is Failure.GONE or current is None or current.booking is None):
            # the original vanished while its copy's edit flowed back: the next hint of the copy removes it
            return SkipUnchanged("the original vanished while the copy's edit was flowing back")
        if action.desired is not None and failed.failure is Failure.TAKEN and current is not None:
            # the copy's edit overlaps another booking where its original lives, which refused it (409, the same on
            # every retry): the original keeps its time, the copy goes back to it, and the refusal is recorded
            taken = f" (by {failed.rival})" if failed.rival else ""
            return Update(f"the edit of the copy was refused: the room is already booked then in the booking "
                          f"system{taken}; the copy shows its original again",
                          source=current, mapping=action.mapping, counterpart=action.source,
                          refused=True)  # fmt: skip
        if failed.failure is Failure.GONE or current is None or (current.booking is None and not current.moved_to):
            # the copy was deleted behind calsync's back (or vanished during the update): recreate it
            return _create(action.source, action.mapping, "copy deleted behind calsync's back; recreated")
        # (a copy moved to another room meanwhile is written back into this one: calsync.sync.moves)
        # both sides changed: the source's edit is applied on the copy's current version, once
        return dataclasses.replace(action, counterpart=current, retried=True, concurrent=True,
                                   reason=f"both sides changed; applying the {action.source.side} edit")  # fmt: skip
    if isinstance(action, Create) and failed.failure is Failure.CHANGED and current is not None:
        # the create's key gave back the copy an earlier attempt made, edited before a mapping saved it: the source
        # wins, as it would over any copy changed meanwhile, and the mapping is saved with this create's generation
        # (a booking system replays its first answer, whose version may be stale: a 412 re-reads it, once)
        return Update(f"{action.reason}; the copy an earlier attempt made was edited meanwhile", source=action.source,
                      mapping=action.mapping, counterpart=current,
                      generation=action.generation)  # fmt: skip
    if isinstance(action, Create):
        if failed.failure is not Failure.KEY_REUSED or "-c" in action.idempotency_key.rsplit("calsync-", 1)[-1]:
            return None
        # the key was spent on another body (a copy created, released, and wanted again after the mapping
        # was forgotten): a key derived from this content, the same for every retry of this create
        return dataclasses.replace(action, idempotency_key=f"{action.idempotency_key}-c{action.source.content_hash[:16]}",
                                   reason=f"{action.reason}; its first create key was spent on another body")  # fmt: skip
    if isinstance(action, CancelCopy):
        # the copy to cancel is already gone: only the mapping remains
        return Forget("the copy to cancel is already gone", mapping=action.mapping)
    if isinstance(action, Delete):
        if failed.failure is Failure.GONE or current is None or current.booking is None:
            # already gone: the goal is reached, only the mapping remains
            return dataclasses.replace(action, copy_gone=True)
        # the copy changed after calsync wrote it, but its source is gone: delete what is there now
        return dataclasses.replace(action, counterpart=current, retried=True)
    return None


# --- small pure helpers -----------------------------------------------------------------------------


def copy_key(source: ItemState, mapping: MappingRow | None, generation: int = 0) -> str:
    """The idempotency key of a copy's create: the same for every retry of one generation of one copy."""
    origin = mapping.origin if mapping is not None else source.side
    origin_id = source.item_id if mapping is None else (mapping.id_on(origin) or source.item_id)
    key = "calsync-" + mapping_id_for(origin, origin_id)
    return key if generation == 0 else f"{key}-g{generation}"


def _counterpart(mapping: MappingRow | None, target: Side, found: ItemState | None) -> ItemState | None:
    mapped_id = mapping.id_on(target) if mapping is not None else None
    if mapping is not None and mapped_id:
        # the mapped item, not fetched: calsync writes it with If-Match on the stored version
        item = ItemState.from_mapping(target, mapped_id, mapping.version_on(target))
        if target is not Side.OUTLOOK:
            return item
        return dataclasses.replace(item, role=outlook_role(mapping), organizer_id=mapping.outlook_organizer_id)
    return found if found is not None and found.booking is not None else None


def _hinted_holds_version(facts: Facts) -> bool:
    """The remembered mapping of the hint's item holds the version the hint names (not a series')."""
    hinted = facts.hinted
    return hinted is not None and not hinted.series and same_version(hinted.version_on(facts.hint.source),
                                                                     facts.hint.version)  # fmt: skip


def _slot_kept(facts: Facts, source: ItemState, mapping: MappingRow | None, counterpart: ItemState | None) -> bool:
    """An Outlook original whose copy already holds its slot: a webhook's hint needs no rival listing.

    The copy holds the source's room, times, status and kind as calsync last wrote them
    (the mapping's slot hash), so the edit (a new title, say) cannot meet a rival the copy
    does not already meet: a booking made there since met the copy on its own hint. The
    copy is taken as calsync wrote it unless it was read (a copy whose own edit is being
    reverted must hold that slot too; a copy moved away goes back only after a listing).
    An unread copy changed meanwhile fails its If-Match and is read then. Reconcile,
    backfill and replays always list (the safety net), and so does a block, whose listing
    finds the meetings it displaces.
    """
    if not (facts.hint.reason is HintReason.WEBHOOK and mapping is not None and mapping.slot is not None
            and counterpart is not None and counterpart.exists and source.booking is not None
            and not is_block(source) and mapping.slot == slot_hash(source.booking)):  # fmt: skip
        return False
    return not counterpart.read or (counterpart.booking is not None and slot_hash(counterpart.booking) == mapping.slot)


def _listing_span(source: ItemState, window: tuple[dt.datetime, dt.datetime]) -> tuple[dt.datetime, dt.datetime]:
    """Where rivals of the source can be: its own interval, or the sync window for a series."""
    assert source.booking is not None
    return window if source.booking.recurrence is not None else source.booking.interval_utc()


def _rivals(source: ItemState, listing: tuple[ItemState, ...], counterpart: ItemState | None,
            window: tuple[dt.datetime, dt.datetime]) -> list[ItemState]:  # fmt: skip
    """The other side's bookings that overlap the source, except the source's own copy."""
    assert source.booking is not None
    exclude = {counterpart.item_id} if counterpart else set()
    if source.stamp:
        exclude.add(source.stamp)
    exclude |= {item.item_id for item in listing if item.stamp == source.item_id}
    return rivals(source.booking, listing, _listing_span(source, window), exclude=exclude)


def _same_item(item: ItemState, other: ItemState | None) -> bool:
    return other is not None and item.item_id == other.item_id
