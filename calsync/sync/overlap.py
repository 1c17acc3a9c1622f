"""The overlap rule: when two bookings hold the same room at the same time (series expanded in the window)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from calsync.model import Booking
from calsync.recurrence import expand
from calsync.sync.state import ItemState


def overlaps(a: Booking, b: Booking, window: tuple[dt.datetime, dt.datetime]) -> bool:
    """Whether any occurrence of ``a`` overlaps any occurrence of ``b`` inside ``window``."""
    first = [(o.start, o.end) for o in expand(a, *window)]
    if not first:
        return False
    second = [(o.start, o.end) for o in expand(b, *window)]
    return any(s1 < e2 and s2 < e1 for s1, e1 in first for s2, e2 in second)


def rivals(candidate: Booking, items: Sequence[ItemState], window: tuple[dt.datetime, dt.datetime],
           *, exclude: set[str]) -> list[ItemState]:  # fmt: skip
    """The existing items that overlap ``candidate`` (a room's double booking), minus ``exclude`` ids."""
    return [
        item for item in items
        if item.item_id not in exclude and item.exists and item.booking is not None
        and overlaps(candidate, item.booking, window)
    ]  # fmt: skip


def overlapping_occurrences(a: Booking, b: Booking, window: tuple[dt.datetime, dt.datetime]) -> tuple[dt.datetime, ...]:
    """The original starts (aware UTC, sorted) of ``a``'s occurrences in ``window`` that overlap any of ``b``'s."""
    second = [(o.start, o.end) for o in expand(b, *window)]
    return tuple(sorted({o.original_start for o in expand(a, *window)
                         if any(o.start < e2 and s2 < o.end for s2, e2 in second)}))  # fmt: skip


def occurrence_starts_in(a: Booking, window: tuple[dt.datetime, dt.datetime]) -> tuple[dt.datetime, ...]:
    """The original starts of ``a``'s live occurrences in ``window`` (EXDATEs left out, moved ones included)."""
    return tuple(sorted({o.original_start for o in expand(a, *window)}))
