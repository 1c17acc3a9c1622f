"""Graph's patternedRecurrence <-> calsync's canonical RRULE (see calsync.recurrence).

Exact in both directions, or UnsupportedRecurrence naming the part Graph cannot
express; never an approximation.

Pattern types:

    daily            FREQ=DAILY[;INTERVAL=n]
    weekly           FREQ=WEEKLY[;INTERVAL=n];BYDAY=MO,TH[;WKST=SU]
    absoluteMonthly  FREQ=MONTHLY[;INTERVAL=n];BYMONTHDAY=d                     (d 1..28)
    relativeMonthly  FREQ=MONTHLY[;INTERVAL=n];BYDAY=2TU  or  BYDAY=SA,SU;BYSETPOS=2
    absoluteYearly   FREQ=YEARLY[;INTERVAL=n];BYMONTH=m;BYMONTHDAY=d
    relativeYearly   FREQ=YEARLY[;INTERVAL=n];BYMONTH=m;BYDAY=-1FR  or  BYDAY=..;BYSETPOS=k

Index first..fourth, last <-> ordinal / BYSETPOS 1..4, -1 (several days: BYSETPOS,
"the n-th of these days", as MS-OXOCAL's "Nth weekday/weekend day"). firstDayOfWeek
<-> WKST; it only matters for weekly patterns with interval > 1, elsewhere the
canonical rule drops it and firstDayOfWeek is written "monday" (RFC 5545's default).

Day of month 29..31: Outlook puts such an occurrence on the month's last day in
shorter months (Outlook object model RecurrencePattern.DayOfMonth; MS-OXOCAL), while
RFC 5545 skips those months. So dayOfMonth 31 <-> BYMONTHDAY=-1, dayOfMonth 29/30
<-> BYMONTHDAY=28,29[,30];BYSETPOS=-1, and 29 February yearly <->
BYMONTH=2;BYMONTHDAY=28,29;BYSETPOS=-1. A plain BYMONTHDAY=29..31 (skip short
months) has no Graph form and is refused.

Ranges: endDate <-> UNTIL=YYYYMMDD (local date, inclusive); numbered <-> COUNT;
noEnd <-> neither. range.startDate is the series' local start date and
recurrenceTimeZone the series' zone (Windows name when lossless, see zones).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TypeVar

from calsync.errors import UnsupportedRecurrence, ValidationError
from calsync.model.rrule import WEEKDAYS, canonical_rrule, normalise_rrule, parse_parts
from calsync.outlook.wire import (
    DayOfWeek,
    PatternedRecurrence,
    RecurrencePattern,
    RecurrencePatternType,
    RecurrenceRange,
    RecurrenceRangeType,
    WeekIndex,
)
from calsync.outlook.zones import graph_zone_name

E = TypeVar("E", bound=StrEnum)
_DAY_TO_RRULE = {
    DayOfWeek.Monday: "MO",
    DayOfWeek.Tuesday: "TU",
    DayOfWeek.Wednesday: "WE",
    DayOfWeek.Thursday: "TH",
    DayOfWeek.Friday: "FR",
    DayOfWeek.Saturday: "SA",
    DayOfWeek.Sunday: "SU",
}
_RRULE_TO_DAY = {code: day for day, code in _DAY_TO_RRULE.items()}
_INDEX_TO_POS = {WeekIndex.First: 1, WeekIndex.Second: 2, WeekIndex.Third: 3, WeekIndex.Fourth: 4, WeekIndex.Last: -1}
_POS_TO_INDEX = {pos: index for index, pos in _INDEX_TO_POS.items()}
_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_SHORT_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


# --- Graph -> RRULE -------------------------------------------------------------------------


def _enum(kind: type[E], value: object, what: str) -> E:
    """``value`` as a member of ``kind`` (Graph's names, compared case-blind); ValidationError otherwise."""
    text = str(value)
    for member in kind:
        if member.value.lower() == text.lower():
            return member
    raise ValidationError(f"recurrence {what} {text[:40]!r} is not one of {', '.join(m.value for m in kind)}")


def _days(pattern: RecurrencePattern, kind: str) -> list[str]:
    if not pattern.days_of_week:
        raise ValidationError(f"{kind} recurrence pattern has no daysOfWeek")
    return [_DAY_TO_RRULE[_enum(DayOfWeek, day, "day")] for day in pattern.days_of_week]


def _month_day_parts(day: int | None, kind: str) -> str:
    """BYMONTHDAY (and BYSETPOS) for Outlook's day of month, which clamps to the month's last day."""
    if day is None or not 1 <= day <= 31:
        raise ValidationError(f"{kind} recurrence pattern has dayOfMonth {day!r}; expected 1..31")
    if day <= 28:
        return f"BYMONTHDAY={day}"
    if day == 31:
        return "BYMONTHDAY=-1"
    return f"BYMONTHDAY={','.join(str(d) for d in range(28, day + 1))};BYSETPOS=-1"


def _relative_parts(pattern: RecurrencePattern, kind: str) -> str:
    position = _INDEX_TO_POS[_enum(WeekIndex, pattern.index or WeekIndex.First, "index")]
    return f"BYDAY={','.join(_days(pattern, kind))};BYSETPOS={position}"


def _month(pattern: RecurrencePattern, kind: str) -> int:
    if pattern.month is None or not 1 <= pattern.month <= 12:
        raise ValidationError(f"{kind} recurrence pattern has month {pattern.month!r}; expected 1..12")
    return pattern.month


def pattern_to_rrule(recurrence: PatternedRecurrence) -> str:
    """The canonical RRULE value for a Graph patternedRecurrence (see module docstring)."""
    pattern, span = recurrence.pattern, recurrence.range
    if pattern is None or pattern.type is None:
        raise ValidationError("recurrence has no pattern type")
    kind = _enum(RecurrencePatternType, pattern.type, "pattern type")
    interval = pattern.interval if pattern.interval is not None else 1
    if interval < 1:
        raise ValidationError(f"{kind.value} recurrence pattern has interval {interval}; expected 1 or more")
    parts = [f"INTERVAL={interval}"]
    if kind is RecurrencePatternType.Daily:
        parts.insert(0, "FREQ=DAILY")
    elif kind is RecurrencePatternType.Weekly:
        first = _DAY_TO_RRULE[_enum(DayOfWeek, pattern.first_day_of_week or DayOfWeek.Sunday, "firstDayOfWeek")]
        parts[:0] = ["FREQ=WEEKLY", f"BYDAY={','.join(_days(pattern, kind.value))}", f"WKST={first}"]
    elif kind is RecurrencePatternType.AbsoluteMonthly:
        parts[:0] = ["FREQ=MONTHLY", _month_day_parts(pattern.day_of_month, kind.value)]
    elif kind is RecurrencePatternType.RelativeMonthly:
        parts[:0] = ["FREQ=MONTHLY", _relative_parts(pattern, kind.value)]
    elif kind is RecurrencePatternType.AbsoluteYearly:
        month, day = _month(pattern, kind.value), pattern.day_of_month
        if day is None or not 1 <= day <= _MONTH_DAYS[month]:
            raise ValidationError(f"{kind.value} recurrence pattern has dayOfMonth {day!r} for month {month}")
        days = "BYMONTHDAY=28,29;BYSETPOS=-1" if (month, day) == (2, 29) else f"BYMONTHDAY={day}"
        parts[:0] = ["FREQ=YEARLY", f"BYMONTH={month}", days]
    else:  # relativeYearly
        parts[:0] = ["FREQ=YEARLY", f"BYMONTH={_month(pattern, kind.value)}", _relative_parts(pattern, kind.value)]
    parts.extend(_range_parts(span))
    return normalise_rrule(";".join(parts))


def _range_parts(span: RecurrenceRange | None) -> list[str]:
    if span is None or span.type is None:
        return []
    kind = _enum(RecurrenceRangeType, span.type, "range type")
    if kind is RecurrenceRangeType.EndDate:
        if span.end_date is None:
            raise ValidationError("recurrence range of type endDate has no endDate")
        return [f"UNTIL={span.end_date.strftime('%Y%m%d')}"]
    if kind is RecurrenceRangeType.Numbered:
        if not span.number_of_occurrences or span.number_of_occurrences < 1:
            raise ValidationError(
                f"numbered recurrence range has numberOfOccurrences {span.number_of_occurrences!r}; expected 1 or more"
            )
        return [f"COUNT={span.number_of_occurrences}"]
    return []


# --- RRULE -> Graph -------------------------------------------------------------------------


def _unsupported(rule: str, part: str, why: str) -> UnsupportedRecurrence:
    return UnsupportedRecurrence(f"recurrence rule {rule!r}: {part} {why}", rrule=rule, part=part)


def _only(rule: str, parts: dict[str, str], allowed: set[str], freq: str) -> None:
    for name in parts:
        if name not in allowed:
            raise _unsupported(rule, f"{name}={parts[name]}", f"cannot be expressed by Graph in a {freq} pattern")


def _graph_days(codes: list[str]) -> list[DayOfWeek]:
    return [_RRULE_TO_DAY[code] for code in codes]


def _relative(rule: str, parts: dict[str, str], pattern: RecurrencePattern) -> None:
    """BYDAY=2TU or BYDAY=SA,SU;BYSETPOS=2 into daysOfWeek and index."""
    entries = parts["BYDAY"].split(",")
    if "BYSETPOS" in parts:
        if "," in parts["BYSETPOS"]:
            raise _unsupported(rule, f"BYSETPOS={parts['BYSETPOS']}", "lists several positions; Graph takes one index")
        position = int(parts["BYSETPOS"])
        if any(entry not in WEEKDAYS for entry in entries):
            raise _unsupported(rule, f"BYDAY={parts['BYDAY']}", "mixes ordinals with BYSETPOS")
        days = entries
    else:
        if len(entries) > 1:
            raise _unsupported(
                rule, f"BYDAY={parts['BYDAY']}", "lists several days; Graph takes one position in the month"
            )
        entry = entries[0]
        if entry in WEEKDAYS:
            raise _unsupported(rule, f"BYDAY={entry}", "means every such day of the month; Graph needs one position")
        position, days = int(entry[:-2]), [entry[-2:]]
    if position not in _POS_TO_INDEX:
        raise _unsupported(
            rule, f"position {position}", "is not first..fourth or last (1..4 or -1), the only ones Graph has"
        )
    pattern.days_of_week = _graph_days(days)
    pattern.index = _POS_TO_INDEX[position]


def _absolute_day(rule: str, parts: dict[str, str], month: int | None) -> int:
    """Outlook's dayOfMonth for BYMONTHDAY[/BYSETPOS] (see module docstring on days 29..31)."""
    days, setpos = parts["BYMONTHDAY"], parts.get("BYSETPOS")
    if setpos is None and days == "-1" and month is None:
        return 31
    if setpos == "-1" and days in ("28,29", "28,29,30") and (month is None or (month, days) == (2, "28,29")):
        return int(days.rsplit(",", 1)[1])
    if setpos is None and "," not in days and not days.startswith("-"):
        day = int(days)
        limit = 28 if month is None else _SHORT_MONTH_DAYS[month]
        if day <= limit:
            return day
        raise _unsupported(
            rule,
            f"BYMONTHDAY={days}",
            "skips months that are too short; Outlook would move those occurrences to the month's last day",
        )
    described = f"BYMONTHDAY={days}" + (f";BYSETPOS={setpos}" if setpos else "")
    raise _unsupported(rule, described, "is not one day of the month, which is all Graph can express")


def rrule_to_pattern(rrule: str, start_local: dt.date | dt.datetime, zone: str) -> PatternedRecurrence:
    """The Graph patternedRecurrence for an RRULE whose DTSTART is ``start_local`` in ``zone``.

    ``start_local`` is the series' first start as local wall time (or a date for
    all-day series); an aware datetime is converted to ``zone`` first.
    Raises UnsupportedRecurrence naming the part Graph cannot express.
    """
    if isinstance(start_local, dt.datetime) and start_local.tzinfo is not None:
        from zoneinfo import ZoneInfo

        start_local = start_local.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    rule = canonical_rrule(rrule, start_local, zone)
    parts = parse_parts(rule)
    freq = parts["FREQ"]
    for name in ("BYHOUR", "BYMINUTE", "BYSECOND", "BYWEEKNO", "BYYEARDAY"):
        if name in parts:
            raise _unsupported(rule, f"{name}={parts[name]}", "has no Graph equivalent")
    if freq in ("SECONDLY", "MINUTELY", "HOURLY"):
        raise _unsupported(rule, f"FREQ={freq}", "is finer than Graph's daily patterns")
    common = {"FREQ", "INTERVAL", "COUNT", "UNTIL"}
    pattern = RecurrencePattern(interval=int(parts.get("INTERVAL", "1")))
    if freq == "DAILY":
        _only(rule, parts, common, "daily")
        pattern.type = RecurrencePatternType.Daily
    elif freq == "WEEKLY":
        _only(rule, parts, common | {"BYDAY", "WKST"}, "weekly")
        pattern.type = RecurrencePatternType.Weekly
        pattern.days_of_week = _graph_days(parts["BYDAY"].split(","))
        pattern.first_day_of_week = _RRULE_TO_DAY[parts.get("WKST", "MO")]
    elif freq == "MONTHLY":
        _only(rule, parts, common | {"BYDAY", "BYMONTHDAY", "BYSETPOS"}, "monthly")
        if "BYDAY" in parts and "BYMONTHDAY" in parts:
            raise _unsupported(rule, "BYDAY with BYMONTHDAY", "cannot be combined in a Graph pattern")
        if "BYDAY" in parts:
            pattern.type = RecurrencePatternType.RelativeMonthly
            _relative(rule, parts, pattern)
        else:
            pattern.type = RecurrencePatternType.AbsoluteMonthly
            pattern.day_of_month = _absolute_day(rule, parts, None)
    else:  # YEARLY
        _only(rule, parts, common | {"BYMONTH", "BYDAY", "BYMONTHDAY", "BYSETPOS"}, "yearly")
        if "BYMONTH" not in parts:
            raise _unsupported(rule, "a YEARLY rule without BYMONTH", "cannot be expressed by Graph")
        if "," in parts["BYMONTH"]:
            raise _unsupported(rule, f"BYMONTH={parts['BYMONTH']}", "lists several months; Graph takes one")
        pattern.month = int(parts["BYMONTH"])
        if "BYDAY" in parts and "BYMONTHDAY" in parts:
            raise _unsupported(rule, "BYDAY with BYMONTHDAY", "cannot be combined in a Graph pattern")
        if "BYDAY" in parts:
            pattern.type = RecurrencePatternType.RelativeYearly
            _relative(rule, parts, pattern)
        else:
            pattern.type = RecurrencePatternType.AbsoluteYearly
            pattern.day_of_month = _absolute_day(rule, parts, pattern.month)
    start_date = start_local.date() if isinstance(start_local, dt.datetime) else start_local
    span = RecurrenceRange(start_date=start_date, recurrence_time_zone=graph_zone_name(zone))
    if "COUNT" in parts:
        span.type = RecurrenceRangeType.Numbered
        span.number_of_occurrences = int(parts["COUNT"])
    elif "UNTIL" in parts:
        span.type = RecurrenceRangeType.EndDate
        span.end_date = dt.datetime.strptime(parts["UNTIL"], "%Y%m%d").date()
    else:
        span.type = RecurrenceRangeType.NoEnd
    return PatternedRecurrence(pattern=pattern, range=span)
