"""The sync decision: a pure function from what calsync sees to the one action it will take.

``plan(source, mapping, target, policy)`` never does I/O. The engine reads the
item's current state on the side the hint came from (``source``), the mapping row
and the other side (``target``: the mapped or stamped counterpart, plus the
bookings that overlap it in that room), and gets back one frozen ``Action``.
Each branch carries a comment naming its case, like vdirsyncer's decision table.

Echo suppression (DESIGN invariant 2): the mapping stores, per side, the content
hash of what calsync last wrote or saw there. A source whose hash equals that
stored hash has not changed since; the hint is our own echo or a duplicate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from calsync.model import Side
from calsync.model.mapping import MappingRow
from calsync.settings import ConflictPolicy
from calsync.sync.state import ItemState, TargetView
from calsync.sync.translate import same_reservation


class ActionKind(StrEnum):
    CREATE = "create"  # write a new copy on the target side
    UPDATE = "update"  # change the existing copy on the target side
    DELETE = "delete"  # the source is gone or cancelled: remove the copy
    DECLINE = "decline"  # the source lost a conflict: decline it on its own side
    ADOPT = "adopt"  # the copy exists (stamped) but the mapping was lost: rebuild the mapping only
    FORGET = "forget"  # both sides are gone: drop the mapping
    SKIP_ECHO = "skip-echo"  # the source is what calsync itself last wrote there
    SKIP_UNCHANGED = "skip-unchanged"  # nothing to do (unchanged, unknown and gone, cancelled and unmapped)
    CONFLICT = "conflict"  # the source wins an overlap: decline the target-side booking, then create


WRITING_ACTIONS = frozenset({ActionKind.CREATE, ActionKind.UPDATE, ActionKind.DELETE, ActionKind.DECLINE,
                             ActionKind.CONFLICT})  # fmt: skip


@dataclass(frozen=True)
class Policy:
    conflict_policy: ConflictPolicy = ConflictPolicy.FIRST_COME
    private_subject: str = "Private booking"


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    reason: str
    loser: ItemState | None = None  # CONFLICT/DECLINE: the booking that lost the overlap
    winner: ItemState | None = None
    counterpart: ItemState | None = None  # UPDATE/DELETE/ADOPT: the item on the target side

    @property
    def writes(self) -> bool:
        """Whether applying the action writes to a calendar (lag is measured for these)."""
        return self.kind in WRITING_ACTIONS


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


def plan(source: ItemState, mapping: MappingRow | None, target: TargetView, policy: Policy) -> Action:
    """Decide the single action for one hint (see ActionKind for the vocabulary)."""
    counterpart = target.counterpart

    if not source.exists:
        if mapping is None and counterpart is None:
            # gone or cancelled, never synced: nothing exists elsewhere
            return Action(ActionKind.SKIP_UNCHANGED, "source gone and never synced")
        if counterpart is not None and counterpart.exists:
            # deleted or cancelled at the source: remove the copy
            return Action(ActionKind.DELETE, "source deleted or cancelled", counterpart=counterpart)
        # both sides gone: only the mapping remains
        return Action(ActionKind.FORGET, "both sides gone")

    if mapping is not None and source.content_hash == mapping.hash_on(source.side):
        # the source is exactly what calsync last wrote or saw: our own echo or a duplicate hint
        return Action(ActionKind.SKIP_ECHO, "source unchanged since calsync last wrote or saw it")

    if mapping is None and counterpart is not None and counterpart.exists:
        # a stamped copy exists but the mapping was lost (crash after create, wiped table): adopt it
        assert source.booking is not None and counterpart.booking is not None
        if same_reservation(source.booking, counterpart.booking, private_subject=policy.private_subject):
            return Action(ActionKind.ADOPT, "found the stamped copy; mapping rebuilt", counterpart=counterpart)
        return Action(ActionKind.UPDATE, "found the stamped copy with older content", counterpart=counterpart)

    rivals = [item for item in target.overlapping if item.exists and not _is_counterpart(item, counterpart)]
    if rivals:
        rival = rivals[0]
        winner = winner_of(source, rival, policy.conflict_policy)
        if winner is rival:
            # the source overlaps a booking on the other side that keeps the room: decline the source
            return Action(ActionKind.DECLINE, _conflict_reason(rival, policy), loser=source, winner=rival,
                          counterpart=counterpart)  # fmt: skip
        # the source keeps the room: decline the rival on its side, then write the source across
        return Action(ActionKind.CONFLICT, _conflict_reason(source, policy), loser=rival, winner=source,
                      counterpart=counterpart)  # fmt: skip

    if counterpart is not None and counterpart.exists:
        # the source changed and its copy exists: bring the copy up to date
        return Action(ActionKind.UPDATE, "source changed", counterpart=counterpart)
    # new source, or its copy was deleted behind calsync's back: (re)create the copy
    return Action(ActionKind.CREATE, "new at the source" if mapping is None else "copy missing on the target")


def _is_counterpart(item: ItemState, counterpart: ItemState | None) -> bool:
    return counterpart is not None and item.item_id == counterpart.item_id


def _conflict_reason(winner: ItemState, policy: Policy) -> str:
    where = "Outlook" if winner.side is Side.OUTLOOK else "the booking system"
    rule = {
        ConflictPolicy.FIRST_COME: "the earlier booking keeps the room",
        ConflictPolicy.OUTLOOK_WINS: "Outlook bookings take precedence",
        ConflictPolicy.BOOKING_WINS: "booking-system bookings take precedence",
    }[policy.conflict_policy]
    return f"The room is already booked at this time in {where} ({rule})."
