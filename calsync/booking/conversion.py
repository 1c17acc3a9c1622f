"""Explicit conversion between the booking system's wire payloads and calsync's canonical Booking.

Field by field (wire -> canonical):

- ``title`` -> ``subject``; ``organizer`` {name, email} -> Organizer; ``kind`` meeting|block
  -> BookingKind; ``sensitivity`` -> Sensitivity (the engine, not this module, hides private
  subjects); ``status`` confirmed|tentative|cancelled -> the same, rejected -> CANCELLED.
- timed bookings: RFC 3339 ``start``/``end`` with any offset -> aware UTC datetimes.
- all-day bookings: ``start``/``end`` are local midnights in ``time_zone`` -> dates (end
  exclusive), ``time_zone`` kept, so a date never shifts by a day between zones.
- ``recurrence``: the RRULE text is carried as-is (calsync.recurrence owns normalisation);
  EXDATEs and override original starts become UTC datetimes for timed series and dates for
  all-day ones, as the canonical model requires.
- ``id`` -> ``ids.booking`` and ``external_ref`` (the Outlook id calsync stamped) -> ``ids.outlook``.
- ``room_id`` is the booking system's room id; the canonical ``room`` is calsync's room key,
  so callers pass it (see RoomMap).

A wire booking that cannot be read canonically raises calsync.errors.ValidationError naming
the booking and the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from pydantic import ValidationError as PydanticValidationError

from calsync.booking.api_models import (
    BookingOut,
    BookingWrite,
    CancellationIn,
    OrganizerIn,
    OverrideIn,
    RecurrenceIn,
    RoomOut,
    WireKind,
    WireSensitivity,
    WireStatus,
)
from calsync.booking.protocol import SIDE, BookingRecord, BookingRoom
from calsync.errors import ValidationError
from calsync.model.booking import (
    Booking,
    BookingKind,
    BookingStatus,
    Cancellation,
    OccurrenceOverride,
    Organizer,
    Recurrence,
    Sensitivity,
    SourceIds,
)

UTC = dt.UTC

_STATUS_IN = {
    WireStatus.CONFIRMED: BookingStatus.CONFIRMED,
    WireStatus.TENTATIVE: BookingStatus.TENTATIVE,
    WireStatus.CANCELLED: BookingStatus.CANCELLED,
    WireStatus.REJECTED: BookingStatus.CANCELLED,
}
_STATUS_OUT = {
    BookingStatus.CONFIRMED: WireStatus.CONFIRMED,
    BookingStatus.TENTATIVE: WireStatus.TENTATIVE,
    BookingStatus.CANCELLED: WireStatus.CANCELLED,
}


class RoomMap:
    """Translates between booking-system room ids and calsync room keys (Settings.rooms).

    A room id that is not configured maps to itself, so the map may be empty.
    """

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._key_by_id: dict[str, str] = {}
        self._id_by_key: dict[str, str] = {}
        for booking_room_id, key in pairs:
            self._key_by_id[booking_room_id] = key
            self._id_by_key[key] = booking_room_id

    @classmethod
    def from_settings_rooms(cls, rooms: Iterable[object]) -> RoomMap:
        """From calsync.settings.Room objects (``booking_room_id`` and ``key``)."""
        return cls((room.booking_room_id, room.key) for room in rooms)  # type: ignore[attr-defined]

    def key(self, booking_room_id: str) -> str:
        return self._key_by_id.get(booking_room_id, booking_room_id)

    def room_id(self, key: str) -> str:
        return self._id_by_key.get(key, key)


# --- wire -> canonical ---------------------------------------------------------------------------


def _all_day_date(value: dt.datetime, zone: str, what: str, booking_id: str) -> dt.date:
    zone_info = ZoneInfo(zone)
    local = value.astimezone(zone_info)
    # local midnight; where DST skips midnight, the instant a naive midnight resolves to
    if local.time() != dt.time(0) and dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone_info).astimezone(
        UTC
    ) != value.astimezone(UTC):
        raise ValidationError(
            f"booking {booking_id}: all-day {what} {value.isoformat()} is not midnight in {zone}",
            side=SIDE,
            booking_id=booking_id,
        )
    return local.date()


def _instant(value: dt.datetime, all_day: bool, zone: str, what: str, booking_id: str) -> dt.datetime | dt.date:
    return _all_day_date(value, zone, what, booking_id) if all_day else value.astimezone(UTC)


def _override_in(wire: OverrideIn, all_day: bool, zone: str, booking_id: str) -> OccurrenceOverride:
    return OccurrenceOverride(
        original_start=_instant(wire.original_start, all_day, zone, "override original_start", booking_id),
        start=_instant(wire.start, all_day, zone, "override start", booking_id),
        end=_instant(wire.end, all_day, zone, "override end", booking_id),
        subject=wire.title,
    )


def recurrence_from_wire(wire: RecurrenceIn, *, all_day: bool, time_zone: str, booking_id: str = "?") -> Recurrence:
    """The canonical Recurrence of a wire recurrence; the RRULE text is passed through."""
    return Recurrence(
        rrule=wire.rrule,
        exdates=tuple(_instant(value, all_day, time_zone, "exdate", booking_id) for value in wire.exdates),
        overrides=tuple(_override_in(o, all_day, time_zone, booking_id) for o in wire.overrides),
    )


def booking_from_wire(wire: BookingOut, *, room: str) -> Booking:
    """The canonical Booking of a served booking; ``room`` is calsync's room key."""
    try:
        return Booking(
            room=room,
            subject=wire.title,
            start=_instant(wire.start, wire.all_day, wire.time_zone, "start", wire.id),
            end=_instant(wire.end, wire.all_day, wire.time_zone, "end", wire.id),
            all_day=wire.all_day,
            time_zone=wire.time_zone,
            organizer=Organizer(name=wire.organizer.name, email=wire.organizer.email),
            sensitivity=Sensitivity(wire.sensitivity.value),
            status=_STATUS_IN[wire.status],
            kind=BookingKind(wire.kind.value),
            recurrence=(
                recurrence_from_wire(
                    wire.recurrence, all_day=wire.all_day, time_zone=wire.time_zone, booking_id=wire.id
                )
                if wire.recurrence is not None
                else None
            ),
            ids=SourceIds(booking=wire.id, outlook=wire.external_ref),
            cancellation=_cancellation_in(wire),
        )
    except PydanticValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'booking'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ValidationError(f"booking {wire.id} cannot be read: {problems}", side=SIDE, booking_id=wire.id) from None


def _cancellation_in(wire: BookingOut) -> Cancellation | None:
    if wire.status not in (WireStatus.CANCELLED, WireStatus.REJECTED):
        return None
    if wire.cancellation is not None:
        c = wire.cancellation
        return Cancellation(reason=c.reason, by=c.cancelled_by, at=c.cancelled_at and c.cancelled_at.astimezone(UTC))
    return Cancellation(reason=wire.rejection_reason) if wire.rejection_reason else None


def record_from_wire(wire: BookingOut, *, room: str) -> BookingRecord:
    """The BookingRecord (canonical Booking plus version, external_ref, timestamps) of a served booking."""
    return BookingRecord(
        id=wire.id,
        room_id=wire.room_id,
        booking=booking_from_wire(wire, room=room),
        version=wire.version,
        external_ref=wire.external_ref,
        rejection_reason=wire.rejection_reason,
        note=wire.note,
        created_at=wire.created_at.astimezone(UTC),
        updated_at=wire.updated_at.astimezone(UTC),
    )


def room_from_wire(wire: RoomOut) -> BookingRoom:
    return BookingRoom(id=wire.id, name=wire.name, email=wire.email)


# --- canonical -> wire ---------------------------------------------------------------------------


def _wire_instant(value: dt.datetime | dt.date, zone: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(UTC)
    return dt.datetime.combine(value, dt.time(0), tzinfo=ZoneInfo(zone))


def recurrence_to_wire(recurrence: Recurrence, *, time_zone: str) -> RecurrenceIn:
    """The wire recurrence of a canonical one; all-day dates become local midnights in ``time_zone``."""
    return RecurrenceIn(
        rrule=recurrence.rrule,
        exdates=[_wire_instant(value, time_zone) for value in recurrence.exdates],
        overrides=[
            OverrideIn(
                original_start=_wire_instant(o.original_start, time_zone),
                start=_wire_instant(o.start, time_zone),
                end=_wire_instant(o.end, time_zone),
                title=o.subject,
            )
            for o in recurrence.overrides
        ],
    )


def booking_to_wire(booking: Booking, *, room_id: str, external_ref: str | None = None) -> BookingWrite:
    """The POST/PUT body for a canonical Booking in the booking system's room ``room_id``.

    ``external_ref`` defaults to ``booking.ids.outlook``.
    """
    return BookingWrite(
        room_id=room_id,
        title=booking.subject,
        start=_wire_instant(booking.start, booking.time_zone),
        end=_wire_instant(booking.end, booking.time_zone),
        all_day=booking.all_day,
        time_zone=booking.time_zone,
        organizer=OrganizerIn(name=booking.organizer.name, email=booking.organizer.email),
        status=_STATUS_OUT[booking.status],
        sensitivity=WireSensitivity(booking.sensitivity.value),
        kind=WireKind(booking.kind.value),
        recurrence=(
            recurrence_to_wire(booking.recurrence, time_zone=booking.time_zone)
            if booking.recurrence is not None
            else None
        ),
        external_ref=external_ref if external_ref is not None else booking.ids.outlook,
        note=booking.note,
        **({"cancellation": CancellationIn(reason=booking.cancellation.reason, cancelled_by=booking.cancellation.by,
                                           cancelled_at=booking.cancellation.at)}
           if booking.cancellation is not None and booking.is_cancelled else {}),
    )  # fmt: skip
