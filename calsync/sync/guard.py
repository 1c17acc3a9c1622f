"""The mass-deletion guard as a pure verdict, like vdirsyncer's StorageEmpty: never mass-delete on a wipe.

Before calsync deletes a copy because its source vanished, it asks: has that side
lost most of the room's synced bookings at once? The inputs are counts (mapped
rows, how many of them are missing from the side now, deletions already
propagated in the window) and the room's hold; the output is a verdict. The
engine stores the hold the verdict asks for; nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

CONFIRMED_HOLD_LIFETIME = dt.timedelta(hours=6)
"""How long an operator's confirmation of a room's mass deletion lets deletions through."""


class HoldState(StrEnum):
    NONE = "none"  # no hold: the guard watches
    BLOCKING = "blocking"  # tripped and not confirmed: the room's sync is stopped
    CONFIRMED = "confirmed"  # an operator confirmed the deletions: they go through
    EXPIRED = "expired"  # the confirmation is older than CONFIRMED_HOLD_LIFETIME: the guard watches again


def hold_state(*, exists: bool, confirmed: bool, confirmed_at: dt.datetime | None, now: dt.datetime) -> HoldState:
    """What a room's hold (as stored) means at ``now``."""
    if not exists:
        return HoldState.NONE
    if not confirmed:
        return HoldState.BLOCKING
    if confirmed_at is not None and now - confirmed_at > CONFIRMED_HOLD_LIFETIME:
        return HoldState.EXPIRED
    return HoldState.CONFIRMED


@dataclass(frozen=True)
class GuardLimits:
    min_bookings: int  # below this many synced bookings the guard never trips
    threshold: float  # the share of them that may vanish at once


@dataclass(frozen=True)
class Tally:
    """What the guard counts for one room and side."""

    mapped_ids: tuple[str | None, ...]  # the side's ids of the room's mapping rows
    recent: int  # deletions from that side already propagated within the window
    missing: int | None = None  # of the mapped rows, how many are missing from the side now (None: not counted)


@dataclass(frozen=True)
class Verdict:
    allow: bool
    gone: int = 0
    total: int = 0
    reason: str = ""


def needs_listing(tally: Tally, limits: GuardLimits) -> bool:
    """Whether the verdict depends on which mapped items are missing (a small room never trips: no listing)."""
    return tally.missing is None and len(tally.mapped_ids) + tally.recent >= limits.min_bookings


def verdict(tally: Tally, limits: GuardLimits, *, side: str) -> Verdict:
    """Allow the deletion, or trip: the side lost at least ``threshold`` of ``mapped + recent`` bookings."""
    total = len(tally.mapped_ids) + tally.recent
    gone = (tally.missing or 0) + tally.recent
    if total < limits.min_bookings or gone / total < limits.threshold:
        return Verdict(allow=True, gone=gone, total=total)
    reason = f"{gone} of {total} synced bookings vanished from {side} within minutes"
    return Verdict(allow=False, gone=gone, total=total, reason=reason)



def missing_from(tally: Tally, present_ids: set[str]) -> Tally:
    """The tally with how many of its mapped items are missing from the side's listing now."""
    missing = sum(1 for item_id in tally.mapped_ids if item_id and item_id not in present_ids)
    return Tally(mapped_ids=tally.mapped_ids, recent=tally.recent, missing=missing)
