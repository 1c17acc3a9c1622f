"""The scope predicates and per-room options (issue #14): pure, so tested without I/O."""

from __future__ import annotations

import datetime as dt

from calsync.model import Booking, BookingKind, BookingStatus
from calsync.room_options import BookingScope, OrganizerMode, OutlookScope, options_for
from calsync.settings import Room, load_settings
from calsync.sync.scope import booking_out_of_scope, out_of_scope, outlook_out_of_scope

START = dt.datetime(2026, 12, 9, 9, tzinfo=dt.UTC)


def _outlook(scope: OutlookScope, show_as: str = "busy", categories: tuple[str, ...] = (),
             organizer: str | None = "ada@contoso.example") -> str | None:  # fmt: skip
    return outlook_out_of_scope(scope, show_as=show_as, categories=categories, organizer_email=organizer)


def test_free_events_do_not_hold_the_room_by_default() -> None:
    assert _outlook(OutlookScope(), "free") is not None
    assert _outlook(OutlookScope(), "busy") is None
    assert _outlook(OutlookScope(), "tentative") is None
    assert _outlook(OutlookScope(ignore_show_as=()), "free") is None


def test_categories_include_and_exclude_are_case_blind() -> None:
    scope = OutlookScope(categories_include=("Room booking",), categories_exclude=("Private",))
    assert _outlook(scope, categories=("room BOOKING",)) is None
    assert _outlook(scope, categories=()) is not None
    assert _outlook(scope, categories=("Room booking", "private")) is not None


def test_organiser_domains() -> None:
    scope = OutlookScope(organizer_domains=("contoso.example",))
    assert _outlook(scope) is None
    assert _outlook(scope, organizer="eve@fabrikam.example") is not None
    assert _outlook(scope, organizer=None) is not None


def test_bookings_out_of_scope_read_as_cancelled_with_the_reason() -> None:
    block = Booking(room="a", start=START, end=START + dt.timedelta(hours=1), kind=BookingKind.BLOCK)
    reason = booking_out_of_scope(BookingScope(ignore_kinds=("block",)), block)
    assert reason is not None
    hidden = out_of_scope(block, reason)
    assert hidden.status is BookingStatus.CANCELLED and hidden.cancellation and reason in hidden.cancellation.reason
    assert booking_out_of_scope(BookingScope(ignore_statuses=("tentative",)), block) is None


def test_options_resolve_room_overrides_over_the_defaults() -> None:
    rooms = [
        {"key": "a", "mailbox": "a@contoso.example", "booking_room_id": "1"},
        {"key": "b", "mailbox": "b@contoso.example", "booking_room_id": "2", "organizer_mode": "room",
         "outlook_scope": {"ignore_show_as": []}},
    ]  # fmt: skip
    settings = load_settings(tables_endpoint="https://t", service_mailbox="bookings@contoso.example", rooms=rooms,
                             tenant_domains="Contoso.example")  # fmt: skip
    a, b = (options_for(settings, room) for room in settings.rooms)
    assert a.mode is OrganizerMode.SERVICE_MAILBOX and a.organizer == "bookings@contoso.example"
    assert b.mode is OrganizerMode.ROOM and b.organizer is None and b.outlook_scope.ignore_show_as == ()
    assert a.in_tenant("ada@CONTOSO.example") and a.in_tenant("x@eu.contoso.example")
    assert not a.in_tenant("grace@fabrikam.example") and not a.in_tenant(None)


def test_room_mode_without_a_service_mailbox() -> None:
    settings = load_settings(tables_endpoint="https://t")
    room = Room(key="a", mailbox="a@contoso.example", booking_room_id="1")
    assert options_for(settings, room).mode is OrganizerMode.ROOM


def test_service_mailbox_mode_needs_a_service_mailbox() -> None:
    import pytest

    from calsync.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="SERVICE_MAILBOX"):
        load_settings(tables_endpoint="https://t", organizer_mode="service-mailbox",
                      rooms=[{"key": "a", "mailbox": "a@contoso.example", "booking_room_id": "1"}])  # fmt: skip
