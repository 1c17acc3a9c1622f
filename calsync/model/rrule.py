"""calsync's one recurrence convention: how ``Booking.recurrence.rrule`` is written, checked and completed.

The convention (every module reads and writes ``Booking.recurrence.rrule`` this way):

- The value is an RFC 5545 RRULE *value*: no "RRULE:" prefix, upper case.
- It is evaluated with DTSTART = the booking's start as local wall time in
  ``booking.time_zone`` (a date for all-day series), so a weekly 09:00 in
  Europe/Berlin stays 09:00 across daylight-saving changes. DTSTART counts as an
  occurrence only when it matches the rule (as in dateutil and in Graph).
- UNTIL is a local date, ``UNTIL=YYYYMMDD``: the last local day on which an
  occurrence may start, inclusive, like Graph's ``range.endDate``. A UTC date-time
  ``UNTIL=YYYYMMDDTHHMMSSZ`` (strict RFC 5545 form) is accepted;
  ``canonical_rrule`` rewrites it to the local date of the last occurrence.
- ``normalise_rrule`` fixes the spelling so equal rules compare equal: parts in the
  order of ``PART_ORDER`` (FREQ first), INTERVAL=1 dropped, number lists sorted
  and de-duplicated, BYDAY sorted MO..SU, "+1MO" written "1MO", a single weekday
  with one BYSETPOS written as an ordinal ("BYDAY=TU;BYSETPOS=2" -> "BYDAY=2TU"),
  DAILY with plain BYDAY written WEEKLY, the last day of a month written
  BYMONTHDAY=-1 (monthly) or as the month's day (yearly; February as
  "BYMONTHDAY=28,29;BYSETPOS=-1"),
  WKST dropped where it cannot change the dates: when it is MO (the default), or
  the rule is neither WEEKLY with INTERVAL>1 nor uses BYWEEKNO.
- ``canonical_rrule`` additionally needs the start and makes the parts that
  DTSTART implies explicit, exactly as RFC 5545 / dateutil fill them in
  (WEEKLY -> BYDAY=<start's weekday>; MONTHLY -> BYMONTHDAY=<start's day>;
  YEARLY -> BYMONTH and BYMONTHDAY of the start), because Graph always states them.
  The Booking model applies it, so every Booking carries the canonical rule.

EXDATEs and override original starts are the instants of the occurrences they
replace (aware UTC for timed series, local dates for all-day ones). Expanding a
Booking into occurrences is calsync.recurrence's job.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from calsync.errors import ValidationError

UTC = dt.UTC

PART_ORDER = (
    "FREQ",
    "INTERVAL",
    "COUNT",
    "UNTIL",
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "BYSETPOS",
    "WKST",
)
FREQUENCIES = ("SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

_NUMBER_LISTS: dict[str, tuple[int, int, bool]] = {  # part: (lowest, highest, negative values allowed)
    "BYMONTH": (1, 12, False),
    "BYWEEKNO": (1, 53, True),
    "BYYEARDAY": (1, 366, True),
    "BYMONTHDAY": (1, 31, True),
    "BYHOUR": (0, 23, False),
    "BYMINUTE": (0, 59, False),
    "BYSECOND": (0, 60, False),
    "BYSETPOS": (1, 366, True),
}
_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # longest length of each month
_BYDAY = re.compile(r"^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_UNTIL_DATE = re.compile(r"^\d{8}$")
_UNTIL_UTC = re.compile(r"^\d{8}T\d{6}Z$")


def _fail(rule: str, problem: str) -> ValidationError:
    return ValidationError(f"recurrence rule {rule!r}: {problem}", rrule=rule)


def parse_parts(text: str) -> dict[str, str]:
    """The rule's parts as {NAME: VALUE}, in canonical spelling (see module docstring)."""
    rule = (text or "").strip()
    body = rule[6:] if rule.upper().startswith("RRULE:") else rule
    parts: dict[str, str] = {}
    for chunk in body.split(";"):
        if not chunk.strip():
            continue
        name, sep, value = chunk.partition("=")
        name, value = name.strip().upper(), value.strip().upper()
        if not sep or not value:
            raise _fail(rule, f"part {chunk.strip()!r} is not NAME=VALUE")
        if name not in PART_ORDER:
            raise _fail(rule, f"{name} is not an RFC 5545 RRULE part")
        if name in parts:
            raise _fail(rule, f"{name} appears twice")
        parts[name] = value
    if "FREQ" not in parts:
        raise _fail(rule, "has no FREQ")
    if parts["FREQ"] not in FREQUENCIES:
        raise _fail(rule, f"FREQ={parts['FREQ']} is not one of {', '.join(FREQUENCIES)}")
    if "COUNT" in parts and "UNTIL" in parts:
        raise _fail(rule, "COUNT and UNTIL cannot both be given")
    for name in ("INTERVAL", "COUNT"):
        if name in parts:
            if not parts[name].isdigit() or int(parts[name]) < 1:
                raise _fail(rule, f"{name}={parts[name]} is not a positive integer")
            parts[name] = str(int(parts[name]))
    if parts.get("INTERVAL") == "1":
        del parts["INTERVAL"]
    if "UNTIL" in parts:
        parts["UNTIL"] = _check_until(rule, parts["UNTIL"])
    for name, (low, high, signed) in _NUMBER_LISTS.items():
        if name in parts:
            parts[name] = _number_list(rule, name, parts[name], low, high, signed)
    if "BYDAY" in parts:
        parts["BYDAY"] = _byday(rule, parts["BYDAY"], parts["FREQ"], "BYWEEKNO" in parts)
    if "WKST" in parts and parts["WKST"] not in WEEKDAYS:
        raise _fail(rule, f"WKST={parts['WKST']} is not a weekday ({', '.join(WEEKDAYS)})")
    _simplify(parts)
    return parts


def _check_until(rule: str, value: str) -> str:
    try:
        if _UNTIL_DATE.match(value):
            dt.datetime.strptime(value, "%Y%m%d")
            return value
        if _UNTIL_UTC.match(value):
            dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ")
            return value
    except ValueError:
        pass
    raise _fail(rule, f"UNTIL={value} must be a date YYYYMMDD or a UTC date-time YYYYMMDDTHHMMSSZ")


def _number_list(rule: str, name: str, value: str, low: int, high: int, signed: bool) -> str:
    numbers: set[int] = set()
    for item in value.split(","):
        try:
            number = int(item)
        except ValueError:
            raise _fail(rule, f"{name} value {item!r} is not an integer") from None
        size = abs(number) if signed else number
        if not (low <= size <= high) or (number < 0 and not signed):
            raise _fail(rule, f"{name} value {item} is out of range")
        numbers.add(number)
    return ",".join(str(n) for n in sorted(numbers))


def _byday(rule: str, value: str, freq: str, has_weekno: bool) -> str:
    days: set[tuple[int, int]] = set()
    for item in value.split(","):
        match = _BYDAY.match(item.strip())
        if not match:
            raise _fail(rule, f"BYDAY value {item!r} is not a weekday such as MO or 2TU")
        ordinal = int(match.group(1)) if match.group(1) else 0
        if match.group(1) and (ordinal == 0 or abs(ordinal) > 53):
            raise _fail(rule, f"BYDAY value {item} has an ordinal out of range")
        if ordinal and (freq not in ("MONTHLY", "YEARLY") or has_weekno):
            raise _fail(rule, f"BYDAY value {item} has an ordinal, allowed only in MONTHLY or YEARLY rules")
        days.add((WEEKDAYS.index(match.group(2)), ordinal))
    return ",".join(f"{ordinal or ''}{WEEKDAYS[day]}" for day, ordinal in sorted(days))


def _simplify(parts: dict[str, str]) -> None:
    """Rewrite parts into the one canonical spelling of the same set of dates."""
    byday = parts.get("BYDAY", "")
    single_plain_day = byday in WEEKDAYS
    others = {"BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYHOUR", "BYMINUTE", "BYSECOND"}
    in_months = parts["FREQ"] == "MONTHLY" or (
        parts["FREQ"] == "YEARLY" and "BYMONTH" in parts and "," not in parts["BYMONTH"]
    )
    setpos = parts.get("BYSETPOS", "")
    ordinal_setpos = bool(setpos) and "," not in setpos and abs(int(setpos or 0)) <= 5
    if single_plain_day and in_months and ordinal_setpos and not others & parts.keys():
        parts["BYDAY"] = f"{setpos}{byday}"
        del parts["BYSETPOS"]
    plain_days = bool(byday) and all(day in WEEKDAYS for day in byday.split(","))
    if (
        parts["FREQ"] == "DAILY"
        and plain_days
        and "INTERVAL" not in parts
        and not (others | {"BYMONTH", "BYSETPOS"}) & parts.keys()
    ):
        parts["FREQ"] = "WEEKLY"  # every listed weekday, every week: the same dates
    last_day = {"BYMONTHDAY": "28,29,30,31", "BYSETPOS": "-1"}
    if parts["FREQ"] == "MONTHLY" and all(parts.get(k) == v for k, v in last_day.items()) and "BYDAY" not in parts:
        parts["BYMONTHDAY"] = "-1"  # the last day of every month
        del parts["BYSETPOS"]
    if (
        in_months
        and parts["FREQ"] == "YEARLY"
        and parts.get("BYMONTHDAY") == "-1"
        and not parts.keys() & {"BYDAY", "BYSETPOS"}
    ):
        month = int(parts["BYMONTH"])
        if month == 2:
            parts.update(BYMONTHDAY="28,29", BYSETPOS="-1")
        else:
            parts["BYMONTHDAY"] = str(_MONTH_DAYS[month])
    if "WKST" in parts:
        matters = "BYWEEKNO" in parts or (parts["FREQ"] == "WEEKLY" and "INTERVAL" in parts)
        if parts["WKST"] == "MO" or not matters:
            del parts["WKST"]


def _join(parts: dict[str, str]) -> str:
    return ";".join(f"{name}={parts[name]}" for name in PART_ORDER if name in parts)


def normalise_rrule(text: str) -> str:
    """The canonical spelling of an RRULE value; raises ValidationError naming the bad part."""
    return _join(parse_parts(text))


def local_start(start: dt.date | dt.datetime, zone: str) -> dt.datetime:
    """DTSTART as a naive local datetime (midnight for a date)."""
    if isinstance(start, dt.datetime):
        if start.tzinfo is None:
            return start
        return start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return dt.datetime.combine(start, dt.time(0))


def _local_until(until: str, zone: str) -> dt.datetime:
    """UNTIL as the last naive local moment an occurrence may start."""
    if _UNTIL_DATE.match(until):
        return dt.datetime.combine(dt.datetime.strptime(until, "%Y%m%d").date(), dt.time.max)
    instant = dt.datetime.strptime(until, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def dateutil_rule(parts: dict[str, str], dtstart: dt.datetime, zone: str) -> rrule:
    without_until = {name: value for name, value in parts.items() if name != "UNTIL"}
    rule = rrulestr(_join(without_until), dtstart=dtstart)
    assert isinstance(rule, rrule)
    if "UNTIL" in parts:
        rule = rule.replace(until=_local_until(parts["UNTIL"], zone))
    return rule


def outlook_anchor(rrule_text: str, start_date: dt.date, local_time: dt.time) -> dt.datetime | None:
    """The first occurrence on or after ``start_date`` (at ``local_time``), ignoring INTERVAL and the range.

    Outlook counts a pattern's intervals from there (patternedRecurrence's range.startDate),
    not from startDate's own week, month or year; a series read from Graph starts at it.
    Graph docs: every 2 months on the first Thursday from 2017-08-29 gives 2017-09-07,
    2017-11-02, 2018-01-04 (https://learn.microsoft.com/graph/api/resources/patternedrecurrence).
    """
    parts = {k: v for k, v in parse_parts(rrule_text).items() if k not in ("INTERVAL", "COUNT", "UNTIL")}
    dtstart = dt.datetime.combine(start_date, local_time)
    first = rrulestr(_join(parts), dtstart=dtstart).after(dtstart, inc=True)  # type: ignore[union-attr]
    return first


def canonical_rrule(text: str, start: dt.date | dt.datetime, zone: str) -> str:
    """``normalise_rrule`` plus the parts DTSTART implies, and UNTIL as a local date.

    ``start`` is the series' start (aware, read in ``zone``; or a date for all-day).
    """
    parts = parse_parts(text)
    local = local_start(start, zone)
    if not parts.keys() & {"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY"}:
        # RFC 5545 section 3.3.10: the missing day parts come from DTSTART (dateutil does the same).
        if parts["FREQ"] == "YEARLY":
            parts.setdefault("BYMONTH", str(local.month))
            parts["BYMONTHDAY"] = str(local.day)
        elif parts["FREQ"] == "MONTHLY":
            parts["BYMONTHDAY"] = str(local.day)
        elif parts["FREQ"] == "WEEKLY":
            parts["BYDAY"] = WEEKDAYS[local.weekday()]
    if "UNTIL" in parts and _UNTIL_UTC.match(parts["UNTIL"]):
        last = dateutil_rule(parts, local, zone).before(_local_until(parts["UNTIL"], zone), inc=True)
        if last is None:
            raise _fail(text, f"UNTIL={parts['UNTIL']} ends the series before its first occurrence")
        parts["UNTIL"] = last.strftime("%Y%m%d")
    return normalise_rrule(_join(parts))
