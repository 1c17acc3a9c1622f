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
from calsync.model.mapping import MappingRow, mapping_id_for
from calsync.settings import ConflictPolicy
from calsync.sync import reads
from calsync.sync.actions import (
    Action,
    Adopt,
    Conflict,
    Create,
    Decline,
    Delete,
    Failure,
    Forget,
    Held,
    SkipEcho,
    SkipUnchanged,
    TripGuard,
    Update,
    WriteFailed,
)
from calsync.sync.guard import HoldState, needs_listing, verdict
from calsync.sync.overlap import rivals
from calsync.sync.state import Facts, ItemState, Policy, TargetView
from calsync.sync.translate import same_reservation

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
    if source is None:
        # the item's current state where the hint came from (never the hint's data)
        return reads.ReadSource(facts.hint.source, facts.hint.item_id)
    if not facts.mapping_read:
        return reads.ReadMapping(source.side, source.item_id)
    mapping = facts.mapping
    if mapping is not None and source.exists and source.content_hash == mapping.hash_on(source.side):
        # our own echo or a duplicate hint: nothing more to read
        return SkipEcho("source unchanged since calsync last wrote or saw it")

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

    overlapping: list[ItemState] = []
    if source.exists and target is Side.BOOKING:
        # the booking system's items around the source: rivals, and a stamped copy if the mapping was lost
        if facts.listing is None:
            return reads.ListBookings(*_listing_span(source, facts.window))
        if counterpart is None:
            counterpart = next((i for i in facts.listing if i.stamp == source.item_id and i.exists), None)
        overlapping = _rivals(source, facts.listing, counterpart, facts.window)

    action = plan(source, mapping, TargetView(counterpart, overlapping), policy)
    if rearm and isinstance(action, Delete):
        action = dataclasses.replace(action, rearm_guard=True)
    return action


def plan(source: ItemState, mapping: MappingRow | None, target: TargetView, policy: Policy) -> Action:
    """The single action for one hint, once the source, mapping and target are known."""
    counterpart = target.counterpart

    if not source.exists:
        if mapping is None and counterpart is None:
            # gone or cancelled, never synced: nothing exists elsewhere
            return SkipUnchanged("source gone and never synced")
        if mapping is not None and counterpart is not None and counterpart.exists:
            # deleted or cancelled at the source: remove the copy
            return Delete("source deleted or cancelled", source=source, mapping=mapping, counterpart=counterpart)
        if mapping is None:
            # gone at the source, its stamped copy has no mapping to drop: the next full compare sees the copy
            return SkipUnchanged("source gone; its copy is not mapped")
        # both sides gone: only the mapping remains
        return Forget("both sides gone", mapping=mapping)

    if mapping is not None and source.content_hash == mapping.hash_on(source.side):
        # the source is exactly what calsync last wrote or saw: our own echo or a duplicate hint
        return SkipEcho("source unchanged since calsync last wrote or saw it")

    if mapping is None and counterpart is not None and counterpart.exists:
        # a stamped copy exists but the mapping was lost (crash after create, wiped table): adopt it
        assert source.booking is not None and counterpart.booking is not None
        if same_reservation(source.booking, counterpart.booking, private_subject=policy.private_subject):
            return Adopt("found the stamped copy; mapping rebuilt", source=source, counterpart=counterpart)
        return Update("found the stamped copy with older content", source=source, mapping=None,
                      counterpart=counterpart)  # fmt: skip

    write = _write(source, mapping, counterpart)
    rival = next((i for i in target.overlapping if i.exists and not _same_item(i, counterpart)), None)
    if rival is not None:
        if winner_of(source, rival, policy.conflict_policy) is rival:
            # the source overlaps a booking on the other side that keeps the room: decline the source
            return Decline(_conflict_reason(rival, policy), source=source, mapping=mapping, winner=rival,
                           counterpart=counterpart)  # fmt: skip
        # the source keeps the room: decline the rival on its side, then write the source across
        return Conflict(_conflict_reason(source, policy), rival=rival, winner=source, then=write)
    return write


def _write(source: ItemState, mapping: MappingRow | None, counterpart: ItemState | None) -> Create | Update:
    if counterpart is not None and counterpart.exists:
        # the source changed and its copy exists: bring the copy up to date
        return Update("source changed", source=source, mapping=mapping, counterpart=counterpart)
    # new source, or its copy was deleted behind calsync's back: (re)create the copy
    return _create(source, mapping, "new at the source" if mapping is None else "copy missing on the target")


def _create(source: ItemState, mapping: MappingRow | None, reason: str) -> Create:
    return Create(reason, source=source, mapping=mapping, idempotency_key=copy_key(source, mapping))


# --- after a failed write ---------------------------------------------------------------------------


def after_failure(action: Action, failed: WriteFailed) -> Action | None:
    """What to do when ``action``'s write met a vanished or changed copy; None: nothing can help (re-raise)."""
    current = failed.current
    if isinstance(action, Conflict):
        # the rival is already declined: only the write remains to recover
        return after_failure(action.then, failed)
    if isinstance(action, Update):
        if failed.failure is Failure.GONE or current is None or current.booking is None:
            # the copy was deleted behind calsync's back (or vanished during the update): recreate it
            return _create(action.source, action.mapping, "copy deleted behind calsync's back; recreated")
        # both sides changed: the source's edit is applied on the copy's current version, once
        return dataclasses.replace(action, counterpart=current, retried=True,
                                   reason=f"both sides changed; applying the {action.source.side} edit")  # fmt: skip
    if isinstance(action, Delete):
        if failed.failure is Failure.GONE or current is None or current.booking is None:
            # already gone: the goal is reached, only the mapping remains
            return dataclasses.replace(action, copy_gone=True)
        # the copy changed after calsync wrote it, but its source is gone: delete what is there now
        return dataclasses.replace(action, counterpart=current, retried=True)
    return None


# --- conflicts --------------------------------------------------------------------------------------


def winner_of(a: ItemState, b: ItemState, policy: ConflictPolicy) -> ItemState:
    """Which of two overlapping bookings from different sides keeps the room."""
    if policy is ConflictPolicy.OUTLOOK_WINS:
        return a if a.side is Side.OUTLOOK else b
    if policy is ConflictPolicy.BOOKING_WINS:
        return a if a.side is Side.BOOKING else b
    # first-come: the earlier creation wins; unknown creation times lose to known ones; ties go to Outlook.
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    key_a, key_b = a.created_at or far, b.created_at or far
    if key_a != key_b:
        return a if key_a < key_b else b
    return a if a.side is Side.OUTLOOK else b


def _conflict_reason(winner: ItemState, policy: Policy) -> str:
    where = "Outlook" if winner.side is Side.OUTLOOK else "the booking system"
    rule = {
        ConflictPolicy.FIRST_COME: "the earlier booking keeps the room",
        ConflictPolicy.OUTLOOK_WINS: "Outlook bookings take precedence",
        ConflictPolicy.BOOKING_WINS: "booking-system bookings take precedence",
    }[policy.conflict_policy]
    return f"The room is already booked at this time in {where} ({rule})."


# --- small pure helpers -----------------------------------------------------------------------------


def copy_key(source: ItemState, mapping: MappingRow | None) -> str:
    """The idempotency key of a copy's create: the same for every retry of one reservation's copy."""
    origin = mapping.origin if mapping is not None else source.side
    origin_id = source.item_id if mapping is None else (mapping.id_on(origin) or source.item_id)
    return "calsync-" + mapping_id_for(origin, origin_id)


def _counterpart(mapping: MappingRow | None, target: Side, found: ItemState | None) -> ItemState | None:
    mapped_id = mapping.id_on(target) if mapping is not None else None
    if mapping is not None and mapped_id:
        # the mapped copy, not fetched: calsync writes it with If-Match on the stored version
        return ItemState.from_mapping(target, mapped_id, mapping.version_on(target))
    return found if found is not None and found.booking is not None else None


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
