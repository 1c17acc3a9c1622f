"""Wire <-> canonical Booking conversion: every field, all-day dates in zones, recurrence, blocks, statuses."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from calsync.booking.api_models import BookingOut, WireStatus
from calsync.booking.conversion import RoomMap, booking_from_wire, booking_to_wire, record_from_wire
from calsync.errors import ValidationError
from calsync.model import (
    Booking,
    BookingKind,
    BookingStatus,
    OccurrenceOverride,
    Organizer,
    Recurrence,
    Sensitivity,
    SourceIds,
    content_hash,
)

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC


def served(**fields: object) -> BookingOut:
    base = {
        "id": "bk_1",
        "room_id": "room-1",
        "title": "Planning",
        "start": "2030-03-04T09:00:00+01:00",
        "end": "2030-03-04T10:00:00+01:00",
        "time_zone": "Europe/Berlin",
        "organizer": {"name": "Ada", "email": "ada@example.com"},
        "version": "3",
        "created_at": "2030-01-01T00:00:00Z",
        "updated_at": "2030-01-02T00:00:00Z",
    }
    return BookingOut.model_validate({**base, **fields})


def test_timed_booking_reads_as_utc_with_every_field() -> None:
    wire = served(sensitivity="private", kind="meeting", status="tentative", external_ref="AAMk/x+y=")
    booking = booking_from_wire(wire, room="atlas")
    assert booking.room == "atlas"
    assert booking.subject == "Planning"
    assert booking.start == dt.datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
    assert booking.end == dt.datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
    assert booking.organizer == Organizer(name="Ada", email="ada@example.com")
    assert booking.sensitivity is Sensitivity.PRIVATE
    assert booking.status is BookingStatus.TENTATIVE
    assert booking.ids == SourceIds(booking="bk_1", outlook="AAMk/x+y=")


def test_record_carries_version_external_ref_and_timestamps() -> None:
    record = record_from_wire(served(external_ref="AAMk", rejection_reason=None), room="atlas")
    assert (record.id, record.room_id, record.version, record.external_ref) == ("bk_1", "room-1", "3", "AAMk")
    assert record.created_at == dt.datetime(2030, 1, 1, tzinfo=UTC)
    assert record.updated_at.tzinfo is UTC


def test_all_day_reads_as_dates_in_its_zone_and_writes_back_as_local_midnights() -> None:
    wire = served(start="2030-03-04T00:00:00+01:00", end="2030-03-06T00:00:00+01:00", all_day=True)
    booking = booking_from_wire(wire, room="atlas")
    assert (booking.start, booking.end, booking.time_zone) == (
        dt.date(2030, 3, 4),
        dt.date(2030, 3, 6),
        "Europe/Berlin",
    )
    out = booking_to_wire(booking, room_id="room-1")
    assert out.start == dt.datetime(2030, 3, 4, tzinfo=BERLIN)
    assert out.start.utcoffset() == dt.timedelta(hours=1)
    assert out.all_day is True


def test_all_day_off_midnight_is_refused_naming_the_booking() -> None:
    wire = served(start="2030-03-04T01:00:00+01:00", end="2030-03-05T00:00:00+01:00", all_day=True)
    with pytest.raises(ValidationError, match=r"bk_1.*not midnight in Europe/Berlin"):
        booking_from_wire(wire, room="atlas")


def test_rejected_reads_as_cancelled() -> None:
    booking = booking_from_wire(served(status="rejected", rejection_reason="room taken"), room="atlas")
    assert booking.status is BookingStatus.CANCELLED


def test_block_kind_round_trips() -> None:
    booking = booking_from_wire(served(kind="block", title="Maintenance"), room="atlas")
    assert booking.kind is BookingKind.BLOCK
    assert booking_to_wire(booking, room_id="room-1").kind.value == "block"


def test_recurrence_keeps_rrule_text_and_converts_exdates_and_overrides() -> None:
    wire = served(
        recurrence={
            "rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=5",
            "exdates": ["2030-03-11T09:00:00+01:00"],
            "overrides": [
                {
                    "original_start": "2030-03-18T09:00:00+01:00",
                    "start": "2030-03-18T11:00:00+01:00",
                    "end": "2030-03-18T12:00:00+01:00",
                    "title": "Moved",
                }
            ],
        }
    )
    booking = booking_from_wire(wire, room="atlas")
    assert booking.recurrence is not None
    # the text is handed to the model unchanged; only the model's own normalisation applies
    assert booking.recurrence.rrule == Recurrence(rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=5").rrule
    assert booking.recurrence.exdates == (dt.datetime(2030, 3, 11, 8, tzinfo=UTC),)
    (override,) = booking.recurrence.overrides
    assert override.original_start == dt.datetime(2030, 3, 18, 8, tzinfo=UTC)
    assert override.subject == "Moved"
    back = booking_to_wire(booking, room_id="room-1")
    assert back.recurrence is not None and back.recurrence.rrule == booking.recurrence.rrule
    assert back.recurrence.overrides[0].title == "Moved"


def test_all_day_series_exdates_become_dates() -> None:
    wire = served(
        start="2030-03-04T00:00:00+01:00",
        end="2030-03-05T00:00:00+01:00",
        all_day=True,
        recurrence={"rrule": "FREQ=DAILY;COUNT=3", "exdates": ["2030-03-05T00:00:00+01:00"]},
    )
    booking = booking_from_wire(wire, room="atlas")
    assert booking.recurrence is not None and booking.recurrence.exdates == (dt.date(2030, 3, 5),)


def test_canonical_round_trip_keeps_the_content_hash() -> None:
    original = Booking(
        room="atlas",
        subject="Board",
        start=dt.date(2030, 3, 4),
        end=dt.date(2030, 3, 5),
        all_day=True,
        time_zone="America/New_York",
        organizer=Organizer(name="Grace", email="grace@example.com"),
        sensitivity=Sensitivity.CONFIDENTIAL,
        status=BookingStatus.TENTATIVE,
        kind=BookingKind.BLOCK,
        recurrence=Recurrence(
            rrule="FREQ=DAILY;COUNT=4",
            exdates=(dt.date(2030, 3, 5),),
            overrides=(
                OccurrenceOverride(
                    original_start=dt.date(2030, 3, 6), start=dt.date(2030, 3, 7), end=dt.date(2030, 3, 8)
                ),
            ),
        ),
        ids=SourceIds(outlook="AAMk=="),
    )
    write = booking_to_wire(original, room_id="room-1")
    assert write.external_ref == "AAMk=="
    served_back = served(
        **write.model_dump(mode="json"),
        id="bk_9",
    )
    again = booking_from_wire(served_back, room="atlas")
    assert content_hash(again) == content_hash(original)
    assert again.ids == SourceIds(booking="bk_9", outlook="AAMk==")


def test_cancelled_status_written_as_cancelled() -> None:
    booking = booking_from_wire(served(status=WireStatus.CANCELLED.value), room="atlas")
    assert booking_to_wire(booking, room_id="room-1").status is WireStatus.CANCELLED


def test_room_map_translates_both_ways_and_passes_unknown_ids_through() -> None:
    rooms = RoomMap([("room-1", "atlas")])
    assert (rooms.key("room-1"), rooms.room_id("atlas")) == ("atlas", "room-1")
    assert (rooms.key("room-9"), rooms.room_id("zeta")) == ("room-9", "zeta")
