"""Booking validation: every bad value is refused with a message that says what was wrong."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from calsync.model import Booking, ChangeHint, ChangeKind, HintReason, Recurrence, Side

BERLIN = ZoneInfo("Europe/Berlin")


def test_timed_booking_is_stored_in_utc() -> None:
    booking = Booking(room="r", start=dt.datetime(2026, 3, 2, 9, tzinfo=BERLIN),
                      end=dt.datetime(2026, 3, 2, 10, tzinfo=BERLIN), time_zone="Europe/Berlin")  # fmt: skip
    assert booking.start == dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
    assert booking.start.tzinfo is dt.UTC


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"start": dt.datetime(2026, 1, 1, 9), "end": dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)},
         "start must be timezone-aware"),
        ({"start": dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC), "end": dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)},
         "is before start"),
        ({"start": dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC), "end": dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC),
          "time_zone": "Mars/Olympus_Mons"}, "unknown time zone 'Mars/Olympus_Mons'"),
        ({"start": dt.datetime(2026, 1, 1, 9, tzinfo=BERLIN), "end": dt.date(2026, 1, 2), "all_day": True,
          "time_zone": "Europe/Berlin"}, "must fall on a date boundary in Europe/Berlin"),
        ({"start": dt.date(2026, 1, 2), "end": dt.date(2026, 1, 2), "all_day": True}, "is before start"),
        ({"start": dt.date(2026, 1, 1), "end": dt.date(2026, 1, 2)}, "not all-day"),
        ({"start": "yesterday", "end": dt.date(2026, 1, 2), "all_day": True}, "'yesterday' is not an ISO 8601"),
        # no UTC instant in Python's range: refused, never an OverflowError (a booking system's odd answer)
        ({"start": "0001-01-01T00:00:00+12:45", "end": "0045-01-01T00:00:00+12:45"}, "start is out of range"),
        ({"start": "9999-12-31T23:00:00-05:00", "end": "9999-12-31T23:30:00-05:00"}, "start is out of range"),
        ({"start": "0001-01-01T00:00:00+12:45", "end": "0001-01-02T00:00:00+12:45", "all_day": True,
          "time_zone": "Pacific/Chatham"}, "start is out of range"),
    ],
)  # fmt: skip
def test_bad_bookings_are_refused_with_a_reason(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Booking(room="r", **fields)


def test_all_day_booking_accepts_local_midnight_and_keeps_dates() -> None:
    booking = Booking(room="r", all_day=True, time_zone="Europe/Berlin",
                      start=dt.datetime(2026, 3, 29, tzinfo=BERLIN), end=dt.datetime(2026, 3, 30, tzinfo=BERLIN))  # fmt: skip
    assert booking.start == dt.date(2026, 3, 29) and booking.end == dt.date(2026, 3, 30)
    start, end = booking.interval_utc()
    assert end - start == dt.timedelta(hours=23)  # the day clocks go forward in Berlin


def test_recurrence_rule_is_checked() -> None:
    with pytest.raises(ValidationError, match="has no FREQ"):
        Recurrence(rrule="INTERVAL=2")
    with pytest.raises(ValidationError, match="not valid RFC 5545"):
        Recurrence(rrule="FREQ=WEEKLY;BYDAY=XX")
    assert Recurrence(rrule="RRULE:FREQ=WEEKLY;BYDAY=MO").rrule.startswith("FREQ=WEEKLY")


def test_hint_message_id_is_deterministic_per_change() -> None:
    seen = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    a = ChangeHint(source=Side.BOOKING, room="r", item_id="B1", change_kind=ChangeKind.UPDATED,
                   observed_at=seen, version="7")  # fmt: skip
    b = a.model_copy(update={"observed_at": seen + dt.timedelta(seconds=3)})
    c = a.model_copy(update={"version": "8"})
    assert a.message_id == b.message_id  # the same change notified twice
    assert a.message_id != c.message_id  # a later change
    assert len(a.message_id) <= 128
    assert ChangeHint.from_json(a.to_json()) == a
    assert a.session_id == "r" and a.reason is HintReason.WEBHOOK


def test_hint_without_version_distinguishes_observations() -> None:
    seen = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    a = ChangeHint(source=Side.OUTLOOK, room="r", item_id="O", reason=HintReason.RECONCILE, observed_at=seen)
    assert a.message_id != a.model_copy(update={"observed_at": seen + dt.timedelta(minutes=5)}).message_id


def test_hint_rejects_naive_observation_time() -> None:
    with pytest.raises(ValidationError, match="observed_at must be timezone-aware"):
        ChangeHint(source=Side.OUTLOOK, room="r", item_id="x", observed_at=dt.datetime(2026, 1, 1))
