"""A MRBS ``repeat`` row <-> calsync's RRULE (pure).

MRBS's repeat types (web/lib/MRBS/RepeatRule.php): 1 daily, 2 weekly with ``rep_opt`` (a
7-character day mask starting on Sunday), 3 monthly on an absolute day (``month_absolute``)
or a relative one (``month_relative``, RFC 5545 spelling such as ``2TU`` or ``-1FR``), 4 yearly;
``rep_interval``; ``end_date`` = the last day, at the series' start time (MRBS always has one).
calsync's RRULE (calsync.recurrence) expands in the area's zone from the series' start:

    daily    FREQ=DAILY;INTERVAL=n;UNTIL=<local date of end_date>
    weekly   FREQ=WEEKLY;INTERVAL=n;BYDAY=TU,TH;UNTIL=...
    monthly  FREQ=MONTHLY;BYMONTHDAY=15 (31: BYMONTHDAY=-1)  |  FREQ=MONTHLY;BYDAY=2TU
    yearly   FREQ=YEARLY (month and day of the start)

A rule MRBS cannot hold (several month days, BYSETPOS, yearly by weekday...) is refused with
a ValidationError naming it; COUNT becomes the end date of the last occurrence; a rule with no
end is capped at MAX_OCCURRENCES (MRBS's own $max_rep_entrys default).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import islice
from zoneinfo import ZoneInfo

from calsync.errors import UnsupportedRecurrence, ValidationError
from calsync.model.rrule import (
    WEEKDAYS,
    dateutil_rule,  # the project's one way to build it
    normalise_rrule,
    parse_parts,
)

DAILY, WEEKLY, MONTHLY, YEARLY = 1, 2, 3, 4
MAX_OCCURRENCES = 365
_MASK_DAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")  # rep_opt index 0 is Sunday
_FREQ = {DAILY: "DAILY", WEEKLY: "WEEKLY", MONTHLY: "MONTHLY", YEARLY: "YEARLY"}


@dataclass(frozen=True)
class RepeatFields:
    """The repeat-rule columns of a ``repeat`` row."""

    rep_type: int
    rep_opt: str
    rep_interval: int
    month_absolute: int | None
    month_relative: str | None
    end_date: int


def rrule_from_repeat(fields: RepeatFields, zone: str) -> str:
    """The RRULE of a repeat row (UNTIL = the local date of ``end_date``)."""
    if fields.rep_type not in _FREQ:
        raise ValidationError(f"MRBS repeat type {fields.rep_type} is not one calsync knows", side="booking")
    parts = [f"FREQ={_FREQ[fields.rep_type]}"]
    if fields.rep_interval > 1:
        parts.append(f"INTERVAL={fields.rep_interval}")
    if fields.rep_type == WEEKLY:
        days = [_MASK_DAYS[i] for i, flag in enumerate(fields.rep_opt[:7]) if flag == "1"]
        if not days:
            raise ValidationError(f"MRBS weekly repeat with no day in rep_opt {fields.rep_opt!r}", side="booking")
        parts.append("BYDAY=" + ",".join(days))
    elif fields.rep_type == MONTHLY:
        if fields.month_absolute is not None:
            day = fields.month_absolute
            parts.append("BYMONTHDAY=-1" if day == 31 else f"BYMONTHDAY={day}")
        elif fields.month_relative:
            parts.append(f"BYDAY={fields.month_relative.upper()}")
        else:
            raise ValidationError("MRBS monthly repeat with neither month_absolute nor month_relative", side="booking")
    until = dt.datetime.fromtimestamp(fields.end_date, ZoneInfo(zone)).date()
    parts.append(f"UNTIL={until:%Y%m%d}")
    return normalise_rrule(";".join(parts))


def _refuse(rule: str, why: str) -> UnsupportedRecurrence:
    return UnsupportedRecurrence(f"MRBS cannot hold the recurrence {rule!r}: {why}", side="booking", rrule=rule)


def repeat_from_rrule(rule: str, first_start: dt.datetime, zone: str) -> RepeatFields:
    """The repeat columns for calsync's (canonical) ``rule`` starting at ``first_start`` (aware)."""
    parts = parse_parts(rule)
    local = first_start.astimezone(ZoneInfo(zone))
    freq = parts.pop("FREQ")
    interval = int(parts.pop("INTERVAL", "1"))
    parts.pop("WKST", None)
    count, until = parts.pop("COUNT", None), parts.pop("UNTIL", None)
    rep_opt, absolute, relative = "0000000", None, None
    if freq == "DAILY" and not parts:
        rep_type = DAILY
    elif freq == "WEEKLY" and set(parts) <= {"BYDAY"}:
        days = parts.get("BYDAY", WEEKDAYS[local.weekday()]).split(",")
        if any(day not in _MASK_DAYS for day in days):
            raise _refuse(rule, "weekly days must be plain weekdays")
        rep_type, rep_opt = WEEKLY, "".join("1" if day in days else "0" for day in _MASK_DAYS)
    elif freq == "MONTHLY" and set(parts) == {"BYMONTHDAY"} and "," not in parts["BYMONTHDAY"]:
        day = int(parts["BYMONTHDAY"])
        if not (1 <= day <= 31 or day == -1):
            raise _refuse(rule, "MRBS repeats monthly on a day 1..31 or the last day")
        rep_type, absolute = MONTHLY, 31 if day == -1 else day
    elif freq == "MONTHLY" and set(parts) == {"BYDAY"} and "," not in parts["BYDAY"] and parts["BYDAY"][:-2]:
        rep_type, relative = MONTHLY, parts["BYDAY"]
    elif freq == "YEARLY" and set(parts) <= {"BYMONTH", "BYMONTHDAY"} and parts.get("BYMONTH", str(local.month)) == str(
        local.month
    ) and parts.get("BYMONTHDAY", str(local.day)) == str(local.day):
        rep_type = YEARLY
    else:
        raise _refuse(rule, "MRBS repeats daily, weekly on weekdays, monthly on one day, or yearly on the start's date")
    starts = series_starts(rule, first_start, zone)
    if not starts:
        raise _refuse(rule, "it has no occurrence")
    del count, until  # the end is where the expansion ends (COUNT, UNTIL, or the cap)
    return RepeatFields(rep_type, rep_opt, interval, absolute, relative, int(starts[-1].timestamp()))


def series_starts(rule: str, first_start: dt.datetime, zone: str) -> list[dt.datetime]:
    """Every occurrence start (aware UTC) of ``rule`` from ``first_start``, at most MAX_OCCURRENCES."""
    local = first_start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    expanded = dateutil_rule(parse_parts(rule), local, zone)
    return [start.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC) for start in islice(expanded, MAX_OCCURRENCES)]
