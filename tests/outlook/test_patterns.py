"""Graph patternedRecurrence <-> canonical RRULE: exact both ways, or UnsupportedRecurrence."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calsync.errors import UnsupportedRecurrence
from calsync.model import Booking, Recurrence
from calsync.outlook.patterns import pattern_to_rrule, rrule_to_pattern
from calsync.outlook.serialization import parse_recurrence, recurrence_to_dict
from calsync.recurrence import expand

UTC = dt.UTC
DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
INDEXES = ["first", "second", "third", "fourth", "last"]


def _graph(pattern: dict[str, Any], range_: dict[str, Any] | None = None) -> dict[str, Any]:
    span = {"type": "noEnd", "startDate": "2024-01-15", "recurrenceTimeZone": "W. Europe Standard Time"}
    return {"pattern": pattern, "range": span | (range_ or {})}


@pytest.mark.parametrize(
    ("pattern", "rrule"),
    [
        ({"type": "daily", "interval": 3}, "FREQ=DAILY;INTERVAL=3"),
        (
            {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "thursday"], "firstDayOfWeek": "sunday"},
            "FREQ=WEEKLY;BYDAY=MO,TH",
        ),
        (
            {"type": "weekly", "interval": 2, "daysOfWeek": ["sunday", "monday"], "firstDayOfWeek": "sunday"},
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,SU;WKST=SU",
        ),
        ({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 15}, "FREQ=MONTHLY;BYMONTHDAY=15"),
        ({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31}, "FREQ=MONTHLY;BYMONTHDAY=-1"),
        (
            {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 30},
            "FREQ=MONTHLY;BYMONTHDAY=28,29,30;BYSETPOS=-1",
        ),
        (
            {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
            "FREQ=MONTHLY;BYDAY=-1FR",
        ),
        (
            {"type": "relativeMonthly", "interval": 2, "daysOfWeek": ["saturday", "sunday"], "index": "second"},
            "FREQ=MONTHLY;INTERVAL=2;BYDAY=SA,SU;BYSETPOS=2",
        ),
        ({"type": "absoluteYearly", "interval": 1, "month": 7, "dayOfMonth": 4}, "FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=4"),
        (
            {"type": "absoluteYearly", "interval": 1, "month": 2, "dayOfMonth": 29},
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28,29;BYSETPOS=-1",
        ),
        (
            {"type": "relativeYearly", "interval": 1, "month": 11, "daysOfWeek": ["thursday"], "index": "fourth"},
            "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
        ),
    ],
)
def test_each_pattern_type_has_one_rrule(pattern: dict[str, Any], rrule: str) -> None:
    assert pattern_to_rrule(parse_recurrence(_graph(pattern))) == rrule


@pytest.mark.parametrize(
    ("range_", "part"),
    [
        ({"type": "endDate", "endDate": "2024-06-30"}, ";UNTIL=20240630"),
        ({"type": "numbered", "numberOfOccurrences": 10}, ";COUNT=10"),
        ({"type": "noEnd", "endDate": "0001-01-01", "numberOfOccurrences": 0}, ""),
    ],
)
def test_range_types(range_: dict[str, Any], part: str) -> None:
    rule = pattern_to_rrule(parse_recurrence(_graph({"type": "daily", "interval": 2}, range_)))
    assert rule == f"FREQ=DAILY;INTERVAL=2{part}"
    back = recurrence_to_dict(rrule_to_pattern(rule, dt.date(2024, 1, 15), "Europe/Berlin"))["range"]
    assert back["type"] == range_["type"]
    if range_["type"] != "noEnd":
        assert {k: back[k] for k in range_} == range_
    assert back["startDate"] == "2024-01-15" and back["recurrenceTimeZone"] == "W. Europe Standard Time"


@st.composite
def graph_recurrences(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(["daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"])
    )
    pattern: dict[str, Any] = {"type": kind, "interval": draw(st.integers(1, 4))}
    days = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True))
    if kind == "weekly":
        pattern |= {"daysOfWeek": days, "firstDayOfWeek": draw(st.sampled_from(DAYS))}
    if kind in ("relativeMonthly", "relativeYearly"):
        pattern |= {"daysOfWeek": days, "index": draw(st.sampled_from(INDEXES))}
    if kind.endswith("Yearly"):
        pattern["month"] = draw(st.integers(1, 12))
    if kind == "absoluteMonthly":
        pattern["dayOfMonth"] = draw(st.integers(1, 31))
    if kind == "absoluteYearly":
        longest = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][pattern["month"] - 1]
        pattern["dayOfMonth"] = draw(st.integers(1, longest))
    range_kind = draw(st.sampled_from(["endDate", "numbered", "noEnd"]))
    span: dict[str, Any] = {"type": range_kind, "startDate": "2024-01-01", "recurrenceTimeZone": "Tokyo Standard Time"}
    if range_kind == "endDate":
        span["endDate"] = draw(st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31))).isoformat()
    if range_kind == "numbered":
        span["numberOfOccurrences"] = draw(st.integers(1, 500))
    return {"pattern": pattern, "range": span}


def _meaningful(pattern: dict[str, Any]) -> dict[str, Any]:
    """The pattern fields that change which dates occur."""
    kept = dict(pattern)
    if "daysOfWeek" in kept:
        kept["daysOfWeek"] = sorted(kept["daysOfWeek"], key=DAYS.index)
    if kept["type"] == "weekly" and kept["interval"] == 1:
        kept.pop("firstDayOfWeek")  # cannot change the dates: the canonical rule drops WKST
    return kept


@given(graph_recurrences())
def test_graph_to_rrule_to_graph_keeps_every_field_that_changes_the_dates(graph: dict[str, Any]) -> None:
    rule = pattern_to_rrule(parse_recurrence(graph))
    back = recurrence_to_dict(rrule_to_pattern(rule, dt.date(2024, 1, 1), "Asia/Tokyo"))
    assert _meaningful(back["pattern"]) == _meaningful(graph["pattern"])
    assert back["range"] == graph["range"]
    assert pattern_to_rrule(parse_recurrence(back)) == rule


@pytest.mark.parametrize(
    ("rule", "part"),
    [
        ("FREQ=HOURLY", "FREQ=HOURLY"),
        ("FREQ=MINUTELY;INTERVAL=30", "FREQ=MINUTELY"),
        ("FREQ=DAILY;BYHOUR=9,17", "BYHOUR=9,17"),
        ("FREQ=YEARLY;BYYEARDAY=100", "BYYEARDAY=100"),
        ("FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "BYWEEKNO=20"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY=1,15"),
        ("FREQ=MONTHLY;BYMONTHDAY=31", "BYMONTHDAY=31"),  # RFC skips short months; Outlook would not
        ("FREQ=MONTHLY;BYMONTHDAY=-2", "BYMONTHDAY=-2"),
        ("FREQ=MONTHLY;BYDAY=-2MO", "position -2"),
        ("FREQ=MONTHLY;BYDAY=5FR", "position 5"),
        ("FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=1,-1", "BYSETPOS=-1,1"),
        ("FREQ=MONTHLY;BYDAY=1MO,3MO", "BYDAY=1MO,3MO"),
        ("FREQ=MONTHLY;BYDAY=MO", "BYDAY=MO"),
        ("FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1", "BYMONTH=1,7"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "BYMONTHDAY=29"),
        ("FREQ=DAILY;INTERVAL=2;BYDAY=MO,FR", "BYDAY=MO,FR"),
        ("FREQ=WEEKLY;BYDAY=MO;BYMONTH=3", "BYMONTH=3"),
        ("FREQ=WEEKLY;BYDAY=MO;BYSETPOS=1", "BYSETPOS=1"),
    ],
)
def test_rules_graph_cannot_express_are_refused_naming_the_part(rule: str, part: str) -> None:
    with pytest.raises(UnsupportedRecurrence, match=part.replace("(", r"\(")) as raised:
        rrule_to_pattern(rule, dt.date(2024, 1, 1), "UTC")
    assert raised.value.http_status == 422


def _days(rule: str, start: dt.date, count: int) -> list[dt.date]:
    booking = Booking(
        room="r",
        all_day=True,
        start=start,
        end=start + dt.timedelta(days=1),
        time_zone="UTC",
        recurrence=Recurrence(rrule=f"{rule};COUNT={count}"),
    )
    window = (dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2100, 1, 1, tzinfo=UTC))
    return [o.start.date() for o in expand(booking, *window)]


def test_outlooks_day_31_falls_on_the_last_day_of_shorter_months() -> None:
    rule = pattern_to_rrule(parse_recurrence(_graph({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31})))
    assert _days(rule, dt.date(2024, 1, 31), 4) == [
        dt.date(2024, 1, 31),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
        dt.date(2024, 4, 30),
    ]


def test_several_days_with_an_index_mean_the_nth_of_those_days() -> None:
    pattern = {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["saturday", "sunday"], "index": "first"}
    rule = pattern_to_rrule(parse_recurrence(_graph(pattern)))
    # June 2024 starts on a Saturday, September 2024 on a Sunday.
    assert _days(rule, dt.date(2024, 6, 1), 4) == [
        dt.date(2024, 6, 1),
        dt.date(2024, 7, 6),
        dt.date(2024, 8, 3),
        dt.date(2024, 9, 1),
    ]


@st.composite
def supported_rrules(draw: st.DrawFn) -> str:
    """RRULEs Graph can express, in the spellings other systems send."""
    kind = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY-DAY", "MONTHLY-NTH", "YEARLY-DAY", "YEARLY-NTH"]))
    parts = [f"FREQ={kind.split('-')[0]}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 3))}")
    weekdays = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
    if kind == "WEEKLY":
        parts.append("BYDAY=" + ",".join(draw(st.lists(st.sampled_from(weekdays), min_size=1, unique=True))))
        parts.append(f"WKST={draw(st.sampled_from(weekdays))}")
    if kind in ("MONTHLY-DAY", "YEARLY-DAY"):
        parts.append(f"BYMONTHDAY={draw(st.sampled_from([*range(1, 29), -1]))}")
    if kind.endswith("NTH"):
        position = draw(st.sampled_from([1, 2, 3, 4, -1]))
        days = draw(st.lists(st.sampled_from(weekdays), min_size=1, max_size=3, unique=True))
        if len(days) == 1 and draw(st.booleans()):
            parts.append(f"BYDAY={position}{days[0]}")
        else:
            parts.append(f"BYDAY={','.join(days)};BYSETPOS={position}")
    if kind.startswith("YEARLY"):
        parts.append(f"BYMONTH={draw(st.integers(1, 12))}")
    end = draw(st.sampled_from(["", "COUNT", "UNTIL"]))
    if end == "COUNT":
        parts.append(f"COUNT={draw(st.integers(1, 50))}")
    if end == "UNTIL":
        parts.append(f"UNTIL={draw(st.dates(dt.date(2024, 1, 1), dt.date(2030, 1, 1))).strftime('%Y%m%d')}")
    order = draw(st.permutations(parts))
    return ";".join(order)


@given(supported_rrules(), st.dates(dt.date(2024, 1, 1), dt.date(2024, 12, 31)))
def test_rrule_to_graph_to_rrule_gives_the_canonical_rule(rule: str, start: dt.date) -> None:
    from calsync.model.rrule import canonical_rrule

    pattern = rrule_to_pattern(rule, start, "Europe/Berlin")
    assert pattern_to_rrule(pattern) == canonical_rrule(rule, start, "Europe/Berlin")


@given(graph_recurrences(), st.dates(dt.date(2024, 1, 1), dt.date(2024, 12, 31)))
def test_our_rule_expands_like_the_emulators_independent_reading_of_the_pattern(
    graph: dict[str, Any], first: dt.date
) -> None:
    """Two independent readings of a Graph pattern (ours via RRULE, the emulator's direct) agree.

    Days of month 29..31 are left out: Outlook moves those to a shorter month's last day
    (see calsync.outlook.patterns), which the emulator does not model.
    """
    from devstack.graph_recurrence import occurrence_starts

    pattern = graph["pattern"]
    if pattern.get("dayOfMonth", 0) > 28:
        return
    span = graph["range"] | {"startDate": first.isoformat(), "recurrenceTimeZone": "Tokyo Standard Time"}
    master = {
        "isAllDay": False,
        "start": {"dateTime": f"{first.isoformat()}T09:00:00.0000000", "timeZone": "Tokyo Standard Time"},
        "end": {"dateTime": f"{first.isoformat()}T10:00:00.0000000", "timeZone": "Tokyo Standard Time"},
        "recurrence": {"pattern": pattern | {"firstDayOfWeek": pattern.get("firstDayOfWeek", "sunday")}, "range": span},
    }
    window = (dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC))
    theirs = [start for start, _ in occurrence_starts(master, *window)]
    if not theirs:
        return
    # DTSTART is the first occurrence, as Graph makes the master's start.
    local_first = theirs[0].astimezone(ZoneInfo("Asia/Tokyo"))
    booking = Booking(
        room="r",
        start=local_first,
        end=local_first + dt.timedelta(hours=1),
        time_zone="Asia/Tokyo",
        recurrence=Recurrence(rrule=pattern_to_rrule(parse_recurrence(master["recurrence"]))),
    )
    ours = [o.start for o in expand(booking, *window)]
    assert ours == theirs
