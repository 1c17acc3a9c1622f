"""The Graph emulator's own expansion of a patternedRecurrence (Graph JSON) into occurrence starts.

Deliberately independent of calsync.outlook.patterns: the emulator plays Exchange, so
it must not share the mapping code it is used to test. dateutil does the expanding;
this module only reads Graph's pattern/range JSON. Occurrences are generated in the
series' own zone (a weekly 09:00 in Berlin stays 09:00 across DST) and returned as
aware UTC datetimes. Windows zone names are resolved with tzlocal's CLDR table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from dateutil import rrule as du
from tzlocal.windows_tz import win_tz

UTC = dt.UTC
_DAYS = {
    "monday": du.MO,
    "tuesday": du.TU,
    "wednesday": du.WE,
    "thursday": du.TH,
    "friday": du.FR,
    "saturday": du.SA,
    "sunday": du.SU,
}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_FREQ = {
    "daily": du.DAILY,
    "weekly": du.WEEKLY,
    "absoluteMonthly": du.MONTHLY,
    "relativeMonthly": du.MONTHLY,
    "absoluteYearly": du.YEARLY,
    "relativeYearly": du.YEARLY,
}


def zone(name: str | None) -> ZoneInfo:
    """A ZoneInfo for an IANA or Windows zone name (Graph accepts both); UTC when empty."""
    if not name or name.upper() in ("UTC", "COORDINATED UNIVERSAL TIME"):
        return ZoneInfo("UTC")
    return ZoneInfo(win_tz.get(name, name))


def parse_local(value: str) -> dt.datetime:
    """Graph's '2026-05-01T09:00:00.0000000' (no offset) as a naive datetime."""
    text = value.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return dt.datetime.fromisoformat(text)


def to_utc(when: dict) -> dt.datetime:
    """A Graph dateTimeTimeZone dict as an aware UTC datetime."""
    return parse_local(when["dateTime"]).replace(tzinfo=zone(when.get("timeZone"))).astimezone(UTC)


def _rule(pattern: dict, rng: dict, dtstart: dt.datetime) -> du.rrule:
    kind = pattern["type"]
    if kind not in _FREQ:
        raise ValueError(f"unknown recurrence pattern type {kind!r}")
    kwargs: dict = {"interval": int(pattern.get("interval") or 1), "dtstart": dtstart}
    kwargs["wkst"] = _DAYS[(pattern.get("firstDayOfWeek") or "sunday").lower()]
    days = [_DAYS[d.lower()] for d in pattern.get("daysOfWeek") or []]
    if kind == "weekly":
        kwargs["byweekday"] = days or [dtstart.weekday()]
    elif kind == "absoluteMonthly":
        kwargs["bymonthday"] = int(pattern["dayOfMonth"])
    elif kind in ("relativeMonthly", "relativeYearly"):
        kwargs["byweekday"] = days
        kwargs["bysetpos"] = _INDEX[(pattern.get("index") or "first").lower()]
    if kind == "absoluteYearly":
        kwargs["bymonth"] = int(pattern["month"])
        kwargs["bymonthday"] = int(pattern["dayOfMonth"])
    if kind == "relativeYearly":
        kwargs["bymonth"] = int(pattern["month"])
    range_type = rng.get("type", "noEnd")
    if range_type == "endDate":
        end = dt.date.fromisoformat(rng["endDate"])
        kwargs["until"] = dt.datetime.combine(end, dt.time(23, 59, 59))
    elif range_type == "numbered":
        kwargs["count"] = int(rng["numberOfOccurrences"])
    return du.rrule(_FREQ[kind], **kwargs)


def _anchor(pattern: dict, rng: dict, dtstart: dt.datetime) -> dt.datetime:
    """Where Outlook starts counting intervals: the first occurrence on or after range.startDate.

    With interval > 1 the count starts there, not at startDate's own week, month or year: the
    patternedRecurrence docs' example, every 2 months on the first Thursday from 2017-08-29,
    gives 2017-09-07, 2017-11-02, 2018-01-04
    (https://learn.microsoft.com/graph/api/resources/patternedrecurrence, relative monthly).
    """
    if int(pattern.get("interval") or 1) <= 1:
        return dtstart
    first = _rule(pattern | {"interval": 1}, {"type": "noEnd"}, dtstart).after(dtstart, inc=True)
    return first or dtstart


def occurrence_starts(
    master: dict, window_start: dt.datetime, window_end: dt.datetime
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """(start, end) in UTC of every pattern occurrence of ``master`` overlapping the window.

    Cancelled occurrences and exceptions are the caller's business; this is the bare pattern.
    """
    recurrence = master["recurrence"]
    rng = recurrence.get("range") or {}
    tz = zone(rng.get("recurrenceTimeZone") or master["start"].get("timeZone"))
    first_local = to_utc(master["start"]).astimezone(tz).replace(tzinfo=None)
    duration = to_utc(master["end"]) - to_utc(master["start"])
    if master.get("isAllDay"):
        first_local = parse_local(master["start"]["dateTime"])
        duration = parse_local(master["end"]["dateTime"]) - first_local
    start_date = dt.date.fromisoformat(rng["startDate"]) if rng.get("startDate") else first_local.date()
    dtstart = _anchor(recurrence["pattern"], rng, dt.datetime.combine(start_date, first_local.time()))
    rule = _rule(recurrence["pattern"], rng, dtstart)
    # Bounds in local wall time, widened by a day each side, then filtered exactly in UTC.
    lo = (window_start - duration).astimezone(tz).replace(tzinfo=None) - dt.timedelta(days=1)
    hi = window_end.astimezone(tz).replace(tzinfo=None) + dt.timedelta(days=1)
    for local in rule.between(lo, hi, inc=True):
        start = local.replace(tzinfo=tz).astimezone(UTC)
        end = start + duration
        if master.get("isAllDay"):
            end = (local + duration).replace(tzinfo=tz).astimezone(UTC)
        if start < window_end and end > window_start:
            yield start, end
