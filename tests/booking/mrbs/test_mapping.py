"""Rows <-> Booking without a database: what calsync writes reads back as the same booking (echo hashes)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from calsync.booking.mrbs.mapping import AreaDay, Kinds, Row, booking_from_rows, plan_rows, recur_id, version_of
from calsync.booking.mrbs.repeat_rule import RepeatFields, repeat_from_rrule, rrule_from_repeat
from calsync.errors import ValidationError
from calsync.model import Booking, BookingKind, BookingStatus, Recurrence, Sensitivity, content_hash
from calsync.model.booking import OccurrenceOverride

AREA = AreaDay("Europe/Berlin")
KINDS = Kinds(meeting="I", block="B")
UTC = dt.UTC


def rows_of(planned: Any) -> list[Row]:
    ids = itertools.count(1)
    repeat_id = next(ids) if planned.repeat else None
    rows = []
    if planned.repeat:
        rows.append(Row.from_mapping({**planned.repeat, "id": repeat_id}, repeat=True))
    for entry in planned.entries:
        detached = entry.get("detached", False)
        rows.append(Row.from_mapping({**entry, "id": next(ids), "repeat_id": None if detached else repeat_id}))
    return rows


def round_trip(booking: Booking) -> Booking:
    planned = plan_rows(booking, uid="MRBS-x@y", sequence=0, room_id=1, area=AREA, kinds=KINDS,
                        create_by="calsync", modified_by="")  # fmt: skip
    return booking_from_rows("MRBS-x@y", rows_of(planned), room="atlas", area=AREA, kinds=KINDS)


def at(month: int, day: int, hour: int) -> dt.datetime:
    return dt.datetime(2027, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"sensitivity": Sensitivity.PRIVATE},
        {"status": BookingStatus.TENTATIVE},
        {"kind": BookingKind.BLOCK},
        {"all_day": True, "start": dt.date(2027, 3, 24), "end": dt.date(2027, 3, 26)},
        {"recurrence": Recurrence(rrule="FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270422")},
        {"recurrence": Recurrence(rrule="FREQ=DAILY;INTERVAL=2;COUNT=5")},
        {"recurrence": Recurrence(rrule="FREQ=MONTHLY;BYDAY=4TU;COUNT=3")},
        {"recurrence": Recurrence(rrule="FREQ=MONTHLY;COUNT=3")},
        {"recurrence": Recurrence(rrule="FREQ=YEARLY;COUNT=2")},
        {"all_day": True, "start": dt.date(2027, 3, 23), "end": dt.date(2027, 3, 24),
         "recurrence": Recurrence(rrule="FREQ=WEEKLY;COUNT=3", exdates=(dt.date(2027, 3, 30),))},
    ],
)
def test_what_calsync_writes_reads_back_with_the_same_hash(fields: dict[str, Any]) -> None:
    values = {"room": "atlas", "subject": "Plan", "start": at(3, 23, 8), "end": at(3, 23, 9), "time_zone": "Europe/Berlin"}
    booking = Booking(**{**values, **fields})
    back = round_trip(booking)
    if booking.recurrence is not None and "COUNT" in booking.recurrence.rrule:
        assert back.recurrence is not None and "UNTIL=" in back.recurrence.rrule  # MRBS keeps an end date
        assert round_trip(back) == back
    else:
        assert content_hash(back) == content_hash(booking)


def test_a_series_with_a_moved_and_a_cancelled_occurrence_round_trips_across_dst() -> None:
    moved = OccurrenceOverride(original_start=at(3, 30, 7), start=at(3, 30, 12), end=at(3, 30, 13), subject="Moved")
    rule = Recurrence(rrule="FREQ=WEEKLY;BYDAY=TU,TH;UNTIL=20270408", exdates=(at(4, 1, 7),), overrides=(moved,))
    booking = Booking(room="atlas", subject="Weekly", start=at(3, 23, 8), end=at(3, 23, 9),
                      time_zone="Europe/Berlin", recurrence=rule)  # fmt: skip
    planned = plan_rows(booking, uid="u", sequence=0, room_id=1, area=AREA, kinds=KINDS, create_by="c", modified_by="")
    recur_ids = [e["ical_recur_id"] for e in planned.entries]
    assert recur_ids[:3] == ["20270323T080000Z", "20270325T080000Z", "20270330T070000Z"]  # DST shifts the UTC hour
    assert "20270401T070000Z" not in recur_ids
    assert [e["entry_type"] for e in planned.entries if e["ical_recur_id"] == "20270330T070000Z"] == [0]
    assert content_hash(round_trip(booking)) == content_hash(booking)


def test_rows_mrbs_wrote_read_as_the_series_mrbs_shows() -> None:
    """A weekly Tue+Thu series as MRBS writes it, with one occurrence edited (detached) and one deleted."""
    first = int(at(3, 23, 8).timestamp())
    fields = RepeatFields(2, "0010100", 1, None, None, int(at(4, 8, 7).timestamp()))
    common = {"room_id": 1, "name": "Standup", "status": 0, "type": "I", "ical_uid": "MRBS-1@h", "create_by": "ada"}
    rows = [Row(id=10, start_time=first, end_time=first + 3600, ical_sequence=0, repeat=fields, **common)]
    starts = [at(3, 23, 8), at(3, 25, 8), at(3, 30, 7), at(4, 1, 7), at(4, 6, 7), at(4, 8, 7)]
    for n, start in enumerate(starts):
        if n == 3:
            continue  # deleted occurrence: MRBS just deletes its row
        begin = int(start.timestamp()) + (7200 if n == 4 else 0)  # edited: detached, moved two hours
        rows.append(Row(id=20 + n, start_time=begin, end_time=begin + 3600, ical_sequence=1 if n == 4 else 0,
                        entry_type=0 if n == 4 else 1, repeat_id=None if n == 4 else 10,
                        ical_recur_id=recur_id(start), **common))  # fmt: skip
    booking = booking_from_rows("MRBS-1@h", rows, room="atlas", area=AREA, kinds=KINDS)
    assert booking.recurrence is not None
    assert booking.recurrence.rrule == "FREQ=WEEKLY;UNTIL=20270408;BYDAY=TU,TH"
    assert booking.recurrence.exdates == (at(4, 1, 7),)
    (override,) = booking.recurrence.overrides
    assert (override.original_start, override.start) == (at(4, 6, 7), at(4, 6, 9))
    assert booking.organizer.name == "ada" and booking.time_zone == "Europe/Berlin"
    assert version_of(rows) != version_of(rows[:-1])


def test_rules_mrbs_cannot_hold_are_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="MRBS cannot hold"):
        repeat_from_rrule("FREQ=MONTHLY;BYMONTHDAY=1,15", at(3, 1, 8), "Europe/Berlin")
    with pytest.raises(ValidationError, match="MRBS cannot hold"):
        repeat_from_rrule("FREQ=YEARLY;BYMONTH=3;BYDAY=1MO", at(3, 1, 8), "Europe/Berlin")


def test_every_repeat_type_reads_as_an_rrule() -> None:
    end = int(at(12, 31, 8).timestamp())
    assert rrule_from_repeat(RepeatFields(1, "0000000", 3, None, None, end), "UTC") == "FREQ=DAILY;INTERVAL=3;UNTIL=20271231"
    assert rrule_from_repeat(RepeatFields(3, "0000000", 1, 31, None, end), "UTC") == "FREQ=MONTHLY;UNTIL=20271231;BYMONTHDAY=-1"
    assert rrule_from_repeat(RepeatFields(3, "0000000", 2, None, "-1FR", end), "UTC") == "FREQ=MONTHLY;INTERVAL=2;UNTIL=20271231;BYDAY=-1FR"
    assert rrule_from_repeat(RepeatFields(4, "0000000", 1, None, None, end), "UTC") == "FREQ=YEARLY;UNTIL=20271231"
