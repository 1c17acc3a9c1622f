"""Property: any canonical Booking survives canonical -> wire JSON -> served booking -> canonical unchanged."""

from __future__ import annotations

import datetime as dt

from hypothesis import example, given, settings
from hypothesis import strategies as st

from calsync.booking.api_models import BookingOut
from calsync.booking.conversion import booking_from_wire, booking_to_wire
from calsync.model import (
    Booking,
    BookingKind,
    BookingStatus,
    OccurrenceOverride,
    Organizer,
    Recurrence,
    Sensitivity,
    content_hash,
)

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/Havana"]
RULES = ["FREQ=DAILY;COUNT=5", "FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20400101T000000Z", "FREQ=MONTHLY;BYMONTHDAY=1"]
UTC = dt.UTC


@st.composite
def bookings(draw: st.DrawFn) -> Booking:
    zone = draw(st.sampled_from(ZONES))
    all_day = draw(st.booleans())
    if all_day:
        day = draw(st.dates(dt.date(2025, 1, 1), dt.date(2035, 12, 31)))
        start: dt.datetime | dt.date = day
        end: dt.datetime | dt.date = day + dt.timedelta(days=draw(st.integers(1, 5)))
        step = dt.timedelta(days=1)
    else:
        minutes = draw(st.integers(0, 10 * 365 * 24 * 4)) * 15
        start = dt.datetime(2025, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=minutes)
        end = start + dt.timedelta(minutes=15 * draw(st.integers(1, 32)))
        step = dt.timedelta(days=1)
    recurrence = None
    if draw(st.booleans()):
        exdates = tuple(start + step * k for k in draw(st.sets(st.integers(1, 4), max_size=2)))
        overrides: tuple[OccurrenceOverride, ...] = ()
        if draw(st.booleans()):
            original = start + step * 2
            moved = original + (step if all_day else dt.timedelta(hours=1))
            overrides = (
                OccurrenceOverride(
                    original_start=original,
                    start=moved,
                    end=moved + (end - start),
                    subject=draw(st.none() | st.text(max_size=20)),
                ),
            )
        recurrence = Recurrence(rrule=draw(st.sampled_from(RULES)), exdates=exdates, overrides=overrides)
    return Booking(
        room="atlas",
        subject=draw(st.text(max_size=40)),
        start=start,
        end=end,
        all_day=all_day,
        time_zone=zone,
        organizer=Organizer(
            name=draw(st.none() | st.text(max_size=20)), email=draw(st.none() | st.emails().map(lambda e: e[:300]))
        ),
        sensitivity=draw(st.sampled_from(Sensitivity)),
        status=draw(st.sampled_from(BookingStatus)),
        kind=draw(st.sampled_from(BookingKind)),
        recurrence=recurrence,
    )


HAVANA_SKIPS_MIDNIGHT = Booking(
    room="atlas", start=dt.date(2030, 3, 10), end=dt.date(2030, 3, 11), all_day=True, time_zone="America/Havana"
)


@settings(max_examples=150, deadline=None)
@given(booking=bookings(), ref=st.none() | st.text(min_size=1, max_size=60))
@example(booking=HAVANA_SKIPS_MIDNIGHT, ref=None)
def test_canonical_to_wire_and_back_is_lossless(booking: Booking, ref: str | None) -> None:
    write = booking_to_wire(booking, room_id="room-1", external_ref=ref)
    served = BookingOut.model_validate(
        {
            **write.model_dump(mode="json"),
            "id": "bk_1",
            "version": "1",
            "created_at": "2030-01-01T00:00:00Z",
            "updated_at": "2030-01-01T00:00:00Z",
        }
    )
    again = booking_from_wire(served, room="atlas")
    assert again.model_dump(exclude={"ids"}) == booking.model_dump(exclude={"ids"})
    assert content_hash(again) == content_hash(booking)
    assert (again.ids.booking, again.ids.outlook) == ("bk_1", ref)
