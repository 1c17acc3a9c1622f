"""The conflict part of the sync decision, pure: who keeps the room when the source overlaps bookings on the other side.

``overlap_action`` is called by calsync.sync.plan once the source's rivals are known.
Per rival, the policy (``winner_of``) picks the winner; a room-unavailability block
always wins. The loser is its *origin* (calsync.sync.ownership): a person's meeting
is declined, a booking rejected, a room-organised event deleted.

Per-occurrence conflicts (issue #11): when the loser is a series and the rival
overlaps only some of its occurrences in the sync window, only those occurrences
give way (``Loser.occurrences``: their original starts); the rest of the series keeps
the room, and its copy on the other side is written without the lost dates. The
reason its organiser sees lists those dates, in the series' own time zone (calsync
has no time-zone setting per room; a series expands in the zone it was made in).
A single booking, or a series that loses every occurrence in the window, gives way
whole, as before. How each kind of origin gives way per occurrence is in
calsync.sync.occurrences.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from calsync.model import BookingKind, Side, content_hash
from calsync.model.booking import Booking
from calsync.model.mapping import MappingRow
from calsync.settings import ConflictPolicy
from calsync.sync.actions import Action, Conflict, Create, Decline, DeclineOccurrences, Update
from calsync.sync.overlap import occurrence_starts_in, overlapping_occurrences
from calsync.sync.ownership import origin_created, released_by_decline
from calsync.sync.recurrence_edits import without_occurrences
from calsync.sync.state import ItemState, Loser, Policy, TargetView

Window = tuple[dt.datetime, dt.datetime]


def overlap_action(source: ItemState, mapping: MappingRow | None, target: TargetView, rivals: list[ItemState],
                   write: Create | Update, policy: Policy) -> Action:  # fmt: skip
    """The action when ``source`` overlaps ``rivals`` (live, not its own copy) on the other side."""
    assert source.booking is not None
    mine = dataclasses.replace(source, created_at=origin_created(source, mapping))
    beaten_by: list[ItemState] = []  # rivals that keep the room against the source
    beaten: list[tuple[ItemState, Loser]] = []  # rivals that give way to the source
    for rival in rivals:
        origin = target.rival_origins.get(rival.stamp or "")
        loser = rival_loser(rival, origin)
        theirs = dataclasses.replace(rival, created_at=loser.origin.created_at)
        if _released(rival, origin):
            beaten.append((rival, loser))  # calsync's copy of a reservation that no longer holds the room
        elif not is_block(source) and (is_block(rival) or winner_of(mine, theirs, policy.conflict_policy) is theirs):
            beaten_by.append(rival)
        else:
            beaten.append((rival, loser))  # a room-unavailability block wins whatever the policy
    window = target.window
    lost = _lost_occurrences(source, beaten_by, window)
    if beaten_by and not lost:
        # the source overlaps a booking on the other side that keeps the room: its origin gives way whole
        return Decline(conflict_reason(beaten_by[0], policy), loser=source_loser(source), winner=beaten_by[0])
    if lost:
        # a series loses only the dates it shares with bookings that keep the room; the rest is written across
        assert window is not None
        reason = conflict_reason(beaten_by[0], policy, dates=_dates(source.booking, lost))
        kept = trimmed(source, lost)
        own = DeclineOccurrences(reason, loser=_on_dates(source_loser(source), lost, reason), winner=beaten_by[0],
                                 then=dataclasses.replace(write, source=kept))  # fmt: skip
        if not beaten:
            return own
        source, write = kept, own  # type: ignore[assignment]  # rivals it still beats give way first
    losers = tuple(_partial(loser, rival, source, window, policy) for rival, loser in beaten)
    # the source keeps the room against every rival: their origins give way, then the source is written across
    return Conflict(conflict_reason(source, policy), losers=losers, winner=source, then=write)  # type: ignore[arg-type]


def _lost_occurrences(source: ItemState, beaten_by: list[ItemState], window: Window | None) -> tuple[dt.datetime, ...]:
    """The source's occurrences that overlap rivals keeping the room, when that is only some of a series."""
    assert source.booking is not None
    if not beaten_by or window is None or source.booking.recurrence is None or not _per_occurrence(source):
        return ()
    lost: set[dt.datetime] = set()
    for rival in beaten_by:
        assert rival.booking is not None
        lost |= set(overlapping_occurrences(source.booking, rival.booking, window))
    if not lost or lost >= set(occurrence_starts_in(source.booking, window)):
        return ()  # it loses every occurrence in the window: the whole series gives way
    return tuple(sorted(lost))


def _partial(loser: Loser, rival: ItemState, winner: ItemState, window: Window | None, policy: Policy) -> Loser:
    """A losing rival that is a series gives way only on the dates it shares with the winner."""
    assert rival.booking is not None and winner.booking is not None
    if window is None or rival.booking.recurrence is None or not _per_occurrence(loser.origin):
        return loser
    dates = overlapping_occurrences(rival.booking, winner.booking, window)
    if not dates or set(dates) >= set(occurrence_starts_in(rival.booking, window)):
        return loser
    return _on_dates(loser, dates, conflict_reason(winner, policy, dates=_dates(rival.booking, dates)))


def _on_dates(loser: Loser, dates: tuple[dt.datetime, ...], reason: str) -> Loser:
    """The loser giving way only on ``dates``: a person's meeting declines those instances, any other series
    (a booking, a room-organised event) gets them as EXDATEs (calsync.sync.occurrences)."""
    by_instance = loser.by_decline and loser.origin.side is Side.OUTLOOK
    return dataclasses.replace(loser, occurrences=dates, reason=reason, declines_instances=by_instance)


def _per_occurrence(origin: ItemState) -> bool:
    """Whether the origin can give way per occurrence: calsync must know what it is (a stamped copy of unknown
    origin, or an Outlook item whose organiser was not read, gives way whole)."""
    if origin.stamp:
        return False
    return origin.side is Side.BOOKING or origin.role is not None


def trimmed(item: ItemState, starts: tuple[dt.datetime, ...]) -> ItemState:
    """``item`` with the occurrences starting at ``starts`` cancelled (EXDATEs), as it will read once they are."""
    assert item.booking is not None
    booking = without_occurrences(item.booking, starts)
    return dataclasses.replace(item, booking=booking, content_hash=content_hash(booking))


def _dates(series: Booking, starts: tuple[dt.datetime, ...]) -> str:
    """The occurrences' dates as the organiser reads them: in the series' time zone, e.g. "2026-12-10, 2026-12-17"."""
    zone = ZoneInfo(series.time_zone)
    return ", ".join(sorted({s.astimezone(zone).date().isoformat() for s in starts}))


# --- who gives way, and why ---------------------------------------------------------------------------


def source_loser(source: ItemState) -> Loser:
    """The Outlook source lost: a person's meeting is declined, calsync's copy's booking rejected."""
    if source.stamp:
        return Loser(origin=ItemState.from_mapping(source.side.other, source.stamp, None), by_decline=True,
                     item=source)  # fmt: skip
    return Loser(origin=source, by_decline=released_by_decline(source), item=source)


def is_block(item: ItemState) -> bool:
    return item.booking is not None and item.booking.kind is BookingKind.BLOCK


def rival_loser(rival: ItemState, rival_origin: ItemState | None) -> Loser:
    """The rival lost: an original is declined/rejected; calsync's copy releases its original instead."""
    if rival.side is Side.OUTLOOK:
        # an Outlook meeting displaced by a booking-system block: a person's meeting declined, calsync's copy's
        # booking rejected, a room-organised event deleted
        return source_loser(rival)
    if not rival.stamp:
        return Loser(origin=rival, by_decline=True, item=rival)
    if rival_origin is None or not rival_origin.exists:
        # an orphaned copy of calsync's: nobody to tell, just remove it
        return Loser(origin=rival, by_decline=False, item=rival)
    return Loser(origin=rival_origin, by_decline=released_by_decline(rival_origin), item=rival)


def _released(rival: ItemState, origin: ItemState | None) -> bool:
    """Whether ``rival`` is calsync's copy of an original this room holds no more: cancelled, or declined by the room.

    An original not found at all may be another room's (a copy moved here by the booking system's
    users, on its way back: calsync.sync.moves), so it is not taken for released.
    """
    return bool(rival.stamp) and origin is not None and origin.booking is not None and not origin.exists


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


def conflict_reason(winner: ItemState, policy: Policy, *, dates: str | None = None) -> str:
    """What the loser's organiser reads; ``dates``: only these occurrences of a series gave way."""
    when = f"on {dates}" if dates else "at this time"
    if is_block(winner):
        return f"The room is unavailable {when} (blocked in the booking system)."
    where = "Outlook" if winner.side is Side.OUTLOOK else "the booking system"
    rule = {
        ConflictPolicy.FIRST_COME: "the earlier booking keeps the room",
        ConflictPolicy.OUTLOOK_WINS: "Outlook bookings take precedence",
        ConflictPolicy.BOOKING_WINS: "booking-system bookings take precedence",
    }[policy.conflict_policy]
    rest = "; the other occurrences of the series keep the room" if dates else ""
    return f"The room is already booked {when} in {where} ({rule}){rest}."
