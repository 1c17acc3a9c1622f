"""Pairing existing reservations of one room before it goes live (pure: no I/O, no clock).

Two items pair when they are the same reservation entered in both systems before
calsync was switched on:

1. same room (the caller lists one room), both live (not cancelled or declined);
2. same interval: timed items by their UTC start and end, all-day items by their dates;
   a series by its rule and first occurrence (RRULE, start, end) — it pairs as a series,
   and its exceptions (cancelled and moved occurrences) travel with it;
3. several candidates with the same interval: the closest title wins (difflib ratio on
   case-folded, whitespace-normalised subjects), then the same organiser's e-mail, then
   the earlier creation — so the choice never depends on listing order.

What is left over: an item that overlaps an item of the other side without pairing
is a **conflict**, reported for a person to decide (onboarding never declines or
rejects anything); any other item becomes a **copy** on the other side.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from calsync.model import Booking, Side
from calsync.sync.overlap import overlaps
from calsync.sync.state import ItemState

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Pair:
    outlook: ItemState
    booking: ItemState
    reason: str

    @property
    def origin(self) -> Side:
        """The side whose item was created first (unknown creation times count as later; ties: Outlook)."""
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        return Side.BOOKING if (self.booking.created_at or far) < (self.outlook.created_at or far) else Side.OUTLOOK


@dataclass(frozen=True)
class Clash:
    """An Outlook item and a booking that overlap but are not the same reservation: for a person to decide."""

    outlook: ItemState
    booking: ItemState
    reason: str


@dataclass(frozen=True)
class Pairing:
    pairs: tuple[Pair, ...]
    copies_to_booking: tuple[ItemState, ...]  # Outlook items without a partner
    copies_to_outlook: tuple[ItemState, ...]  # bookings without a partner
    conflicts: tuple[Clash, ...]


def interval_key(booking: Booking) -> tuple[object, ...]:
    """What "same interval" compares: dates for all-day items, UTC instants otherwise; a series adds its rule."""
    bounds: tuple[object, ...] = (booking.start, booking.end) if booking.all_day else booking.interval_utc()
    rule = booking.recurrence.rrule if booking.recurrence is not None else None
    return (booking.all_day, rule, *bounds)


def title_similarity(a: str, b: str) -> float:
    left, right = (_SPACES.sub(" ", text).strip().casefold() for text in (a, b))
    if not left and not right:
        return 1.0
    return SequenceMatcher(None, left, right).ratio()


def _same_organiser(a: Booking, b: Booking) -> bool:
    return bool(a.organizer.email) and (a.organizer.email or "").casefold() == (b.organizer.email or "").casefold()


def exceptions_note(a: Booking, b: Booking) -> str:
    """How a paired series' exceptions compare: cancelled dates and moved occurrences on both sides."""
    if a.recurrence is None or b.recurrence is None:
        return ""
    ex_a, ex_b = set(a.recurrence.exdates), set(b.recurrence.exdates)
    mv_a = {(o.original_start, o.start, o.end) for o in a.recurrence.overrides}
    mv_b = {(o.original_start, o.start, o.end) for o in b.recurrence.overrides}
    if ex_a == ex_b and mv_a == mv_b:
        return f"; series with {len(ex_a)} cancelled and {len(mv_a)} moved occurrence(s) on both sides"
    return (f"; series exceptions differ (Outlook {len(ex_a)} cancelled/{len(mv_a)} moved, booking system "
            f"{len(ex_b)} cancelled/{len(mv_b)} moved): check by hand")  # fmt: skip


def _reason(outlook: Booking, booking: Booking, candidates: int) -> str:
    what = "same dates (all-day)" if outlook.all_day else "same start and end"
    if outlook.recurrence is not None:
        what = f"same series ({outlook.recurrence.rrule}) from the same first occurrence"
    parts = [what, f"title similarity {title_similarity(outlook.subject, booking.subject):.2f}"]
    if _same_organiser(outlook, booking):
        parts.append("same organiser")
    if candidates > 1:
        parts.append(f"best of {candidates} candidates")
    return ", ".join(parts) + exceptions_note(outlook, booking)


def _score(outlook: ItemState, booking: ItemState) -> tuple[float, bool, float]:
    assert outlook.booking is not None and booking.booking is not None
    created = booking.created_at.timestamp() if booking.created_at else float("inf")
    return (title_similarity(outlook.booking.subject, booking.booking.subject),
            _same_organiser(outlook.booking, booking.booking), -created)  # fmt: skip


def pair_items(outlook: Sequence[ItemState], booking: Sequence[ItemState],
               window: tuple[dt.datetime, dt.datetime]) -> Pairing:  # fmt: skip
    """Pair, copy or report every live item of one room (the caller has left out mapped and cancelled ones)."""
    by_key: dict[tuple[object, ...], list[ItemState]] = {}
    for item in booking:
        assert item.booking is not None
        by_key.setdefault(interval_key(item.booking), []).append(item)
    taken: set[str] = set()
    pairs: list[Pair] = []
    for item in sorted(outlook, key=lambda i: i.item_id):
        assert item.booking is not None
        candidates = [b for b in by_key.get(interval_key(item.booking), []) if b.item_id not in taken]
        if not candidates:
            continue
        best = max(candidates, key=lambda b: (_score(item, b), b.item_id))
        taken.add(best.item_id)
        assert best.booking is not None
        pairs.append(Pair(item, best, _reason(item.booking, best.booking, len(candidates))))
    paired_outlook = {p.outlook.item_id for p in pairs}
    left_outlook = [i for i in outlook if i.item_id not in paired_outlook]
    left_booking = [b for b in booking if b.item_id not in taken]

    clashes: list[Clash] = []
    in_conflict: set[tuple[Side, str]] = set()
    every_booking = list(booking)
    for item in sorted(left_outlook, key=lambda i: i.item_id):
        assert item.booking is not None
        for other in every_booking:
            assert other.booking is not None
            if overlaps(item.booking, other.booking, window):
                partner = " (already paired)" if other.item_id in taken else ""
                clashes.append(Clash(item, other, f"overlaps booking {other.item_id}{partner} without being the "
                                                  "same reservation"))  # fmt: skip
                in_conflict |= {(Side.OUTLOOK, item.item_id), (Side.BOOKING, other.item_id)}
    for other in sorted(left_booking, key=lambda i: i.item_id):
        assert other.booking is not None
        for item in outlook:
            if item.item_id in paired_outlook and item.booking is not None and overlaps(other.booking, item.booking,
                                                                                        window):  # fmt: skip
                clashes.append(Clash(item, other, "overlaps an Outlook event (already paired) without being the "
                                                  "same reservation"))  # fmt: skip
                in_conflict |= {(Side.BOOKING, other.item_id)}
    to_booking = tuple(i for i in sorted(left_outlook, key=lambda i: i.item_id)
                       if (Side.OUTLOOK, i.item_id) not in in_conflict)  # fmt: skip
    to_outlook = tuple(b for b in sorted(left_booking, key=lambda i: i.item_id)
                       if (Side.BOOKING, b.item_id) not in in_conflict)  # fmt: skip
    return Pairing(tuple(pairs), to_booking, to_outlook, tuple(clashes))
