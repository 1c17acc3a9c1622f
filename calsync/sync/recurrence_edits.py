"""Pure edits of a series: the same booking with some occurrences cancelled (per-occurrence conflicts)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from calsync.model.booking import Booking, Recurrence


def without_occurrences(booking: Booking, starts: tuple[dt.datetime, ...]) -> Booking:
    """The series with EXDATEs added for ``starts`` (original starts, aware UTC; dates for an all-day series).

    An EXDATE on a moved occurrence's original start removes the moved occurrence too (calsync.recurrence).
    """
    assert booking.recurrence is not None
    zone = ZoneInfo(booking.time_zone)
    added = {s.astimezone(zone).date() if booking.all_day else s for s in starts}
    recurrence = Recurrence(rrule=booking.recurrence.rrule, exdates=(*set(booking.recurrence.exdates) | added,),
                            overrides=booking.recurrence.overrides)  # fmt: skip
    return booking.model_copy(update={"recurrence": recurrence})
