"""The expansion of a Booking into its occurrences, by calsync's recurrence convention (calsync.model.rrule).

``expand`` gives every occurrence of a booking (moved and cancelled ones applied)
inside a window as aware UTC instants; ``occurrence_starts`` the original starts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule

from calsync.errors import ValidationError
from calsync.model.booking import Booking
from calsync.model.rrule import UTC, dateutil_rule, local_start, parse_parts


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a booking: aware UTC instants; ``subject`` only when overridden."""

    original_start: dt.datetime
    start: dt.datetime
    end: dt.datetime
    subject: str | None = None


def _aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{name} must be timezone-aware (got naive {value.isoformat()})")
    return value.astimezone(UTC)


def _instant(local: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)


def _bound(value: dt.date | dt.datetime, zone: ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC)
    return _instant(dt.datetime.combine(value, dt.time(0)), zone)


def expand(booking: Booking, window_start: dt.datetime, window_end: dt.datetime) -> list[Occurrence]:
    """The booking's occurrences that overlap [window_start, window_end), sorted by start.

    A non-recurring booking has one occurrence. All-day occurrences run from local
    midnight to local midnight in ``booking.time_zone``. EXDATEs remove occurrences,
    overrides replace them (even when moved into the window from outside it). The
    booking's status is not looked at: a cancelled booking still expands.
    """
    lo, hi = _aware(window_start, "window_start"), _aware(window_end, "window_end")
    zone = ZoneInfo(booking.time_zone)
    first_start, first_end = booking.interval_utc()
    found: list[Occurrence] = []

    def keep(occurrence: Occurrence) -> None:
        if occurrence.start < hi and (occurrence.end > lo or (occurrence.end == occurrence.start == lo)):
            found.append(occurrence)

    if booking.recurrence is None:
        keep(Occurrence(first_start, first_start, first_end))
        return found

    dtstart = local_start(booking.start, booking.time_zone)
    rule = dateutil_rule(parse_parts(booking.recurrence.rrule), dtstart, booking.time_zone)
    if booking.all_day:
        days = dt.timedelta(days=(booking.end - booking.start).days)  # type: ignore[operator]

        def bounds(local: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
            return _instant(local, zone), _instant(local + days, zone)
    else:
        duration = first_end - first_start

        def bounds(local: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
            start = _instant(local, zone)
            return start, start + duration

    excluded = {_bound(value, zone) for value in booking.recurrence.exdates}
    overrides = {_bound(o.original_start, zone): o for o in booking.recurrence.overrides}
    margin = dt.timedelta(days=2) + (first_end - first_start)
    local_lo = lo.astimezone(zone).replace(tzinfo=None) - margin
    local_hi = hi.astimezone(zone).replace(tzinfo=None) + dt.timedelta(days=2)
    for local in rule.between(local_lo, local_hi, inc=True):
        start, end = bounds(local)
        if start in excluded or start in overrides:
            continue
        keep(Occurrence(start, start, end))
    for original, override in overrides.items():
        if original in excluded or not _occurs(rule, original, zone):
            continue
        keep(Occurrence(original, _bound(override.start, zone), _bound(override.end, zone), override.subject))
    found.sort(key=lambda o: (o.start, o.original_start))
    return found


def _occurs(rule: rrule, original: dt.datetime, zone: ZoneInfo) -> bool:
    return original.astimezone(zone).replace(tzinfo=None) in rule


def occurrence_starts(booking: Booking, window_start: dt.datetime, window_end: dt.datetime) -> Iterable[dt.datetime]:
    """Original starts (aware UTC) of the pattern's occurrences in the window, EXDATEs and overrides ignored."""
    if booking.recurrence is None:
        return [booking.interval_utc()[0]]
    zone = ZoneInfo(booking.time_zone)
    rule = dateutil_rule(
        parse_parts(booking.recurrence.rrule), local_start(booking.start, booking.time_zone), booking.time_zone
    )
    lo = _aware(window_start, "window_start").astimezone(zone).replace(tzinfo=None)
    hi = _aware(window_end, "window_end").astimezone(zone).replace(tzinfo=None)
    return [_instant(local, zone) for local in rule.between(lo, hi, inc=True)]
