"""The content hash: equal for equal synced content however written, different for any synced change."""

from __future__ import annotations

import datetime as dt
import unicodedata
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from calsync.model import Booking, BookingStatus, Organizer, Recurrence, Sensitivity, SourceIds, content_hash

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]

instants = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2090, 1, 1),
                        timezones=st.just(dt.UTC))  # fmt: skip
texts = st.text(max_size=40)


@st.composite
def bookings(draw: st.DrawFn) -> Booking:
    start = draw(instants)
    return Booking(
        room=draw(st.sampled_from(["room-a", "room-b"])),
        subject=draw(texts),
        start=start,
        end=start + dt.timedelta(minutes=draw(st.integers(1, 600))),
        organizer=Organizer(email=draw(st.sampled_from([None, "ada@contoso.com", "bob@contoso.com"]))),
        sensitivity=draw(st.sampled_from(list(Sensitivity))),
        status=draw(st.sampled_from(list(BookingStatus))),
        recurrence=draw(st.sampled_from([None, Recurrence(rrule="FREQ=WEEKLY;BYDAY=MO")])),
    )


@given(bookings(), st.sampled_from(ZONES), st.sampled_from(ZONES))
def test_equal_instants_in_other_zones_hash_equal(booking: Booking, zone_a: str, zone_b: str) -> None:
    a = booking.model_copy(update={"start": booking.start.astimezone(ZoneInfo(zone_a))})
    b = Booking(**{**booking.model_dump(), "start": booking.start.astimezone(ZoneInfo(zone_b)),
                   "end": booking.end.astimezone(ZoneInfo(zone_b))})  # fmt: skip
    assert content_hash(Booking(**a.model_dump())) == content_hash(b) == content_hash(booking)


@given(bookings(), texts)
def test_unicode_normalisation_does_not_change_the_hash(booking: Booking, subject: str) -> None:
    nfc = booking.model_copy(update={"subject": unicodedata.normalize("NFC", subject)})
    nfd = booking.model_copy(update={"subject": unicodedata.normalize("NFD", subject)})
    assert content_hash(nfc) == content_hash(nfd)


@given(bookings())
def test_ids_and_field_order_do_not_change_the_hash(booking: Booking) -> None:
    reordered = Booking(**dict(reversed(list(booking.model_dump().items()))))
    restamped = booking.model_copy(update={"ids": SourceIds(outlook="AAMk/+=", booking="B-9")})
    assert content_hash(reordered) == content_hash(booking) == content_hash(restamped)


@given(bookings(), st.data())
def test_any_synced_field_change_changes_the_hash(booking: Booking, data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(["room", "subject", "start", "end", "organizer", "sensitivity", "status",
                                       "recurrence"]))  # fmt: skip
    changes = {
        "room": booking.room + "-x",
        "subject": booking.subject + "!",
        "start": booking.start - dt.timedelta(minutes=1),
        "end": booking.end + dt.timedelta(minutes=1),
        "organizer": Organizer(email="someone-else@contoso.com"),
        "sensitivity": next(s for s in Sensitivity if s is not booking.sensitivity),
        "status": next(s for s in BookingStatus if s is not booking.status),
        "recurrence": Recurrence(rrule="FREQ=DAILY;COUNT=3") if booking.recurrence is None else None,
    }
    changed = booking.model_copy(update={field: changes[field]})
    if field == "organizer" and booking.organizer.email == "someone-else@contoso.com":
        return
    assert content_hash(changed) != content_hash(booking)


def test_all_day_zone_matters_but_timed_zone_does_not() -> None:
    day = {"room": "r", "all_day": True, "start": dt.date(2026, 5, 1), "end": dt.date(2026, 5, 2)}
    assert content_hash(Booking(**day, time_zone="Europe/Berlin")) != content_hash(Booking(**day, time_zone="UTC"))
    timed = {"room": "r", "start": dt.datetime(2026, 5, 1, 9, tzinfo=dt.UTC),
             "end": dt.datetime(2026, 5, 1, 10, tzinfo=dt.UTC)}  # fmt: skip
    assert content_hash(Booking(**timed, time_zone="Europe/Berlin")) == content_hash(Booking(**timed))
