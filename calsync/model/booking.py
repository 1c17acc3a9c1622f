"""The canonical Booking: what calsync reads from either side and writes to the other.

Timed bookings carry timezone-aware UTC datetimes; all-day bookings carry dates
(end exclusive) plus the IANA zone they were made in, so they never shift by a day
when zones differ. ``time_zone`` is kept for every booking because recurrence rules
expand in it (a weekly 09:00 in Berlin stays 09:00 across daylight-saving changes).
Recurring series carry an RFC 5545 RRULE, EXDATEs and overridden instances.
Validation rejects naive datetimes, unknown zones, end before start and all-day
bookings off date boundaries, each with a message that names the problem.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

UTC = dt.UTC


class Side(StrEnum):
    """The two calendars calsync keeps identical."""

    OUTLOOK = "outlook"
    BOOKING = "booking"

    @property
    def other(self) -> Side:
        return Side.BOOKING if self is Side.OUTLOOK else Side.OUTLOOK


class Sensitivity(StrEnum):
    NORMAL = "normal"
    PERSONAL = "personal"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"

    @property
    def hides_subject(self) -> bool:
        """Private and confidential meetings never have their subject copied."""
        return self in (Sensitivity.PRIVATE, Sensitivity.CONFIDENTIAL)


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


class BookingKind(StrEnum):
    """A meeting, or a room-unavailability block (maintenance, closure) shown as busy."""

    MEETING = "meeting"
    BLOCK = "block"


class Organizer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    email: str | None = None


class Cancellation(BaseModel):
    """Who cancelled a booking, when and why (soft cancellation); not part of the content hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str | None = None
    by: str | None = None
    at: dt.datetime | None = None


class SourceIds(BaseModel):
    """The item's id on each side, where known."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outlook: str | None = None
    booking: str | None = None


def check_zone(name: str) -> str:
    """Return ``name`` if it is a known IANA zone, else raise ValueError naming it."""
    if not isinstance(name, str) or not name:
        raise ValueError("time_zone must be a non-empty IANA zone name such as 'Europe/Berlin'")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin'") from None
    if name not in _known_zones() and name != "UTC":
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin'")
    return name


_ZONES: frozenset[str] | None = None


def _known_zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def to_utc(value: dt.datetime, field: str) -> dt.datetime:
    """An aware datetime converted to UTC; a naive one is refused with the field's name."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{field} must be timezone-aware (got naive {value.isoformat()})")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+12:45: no UTC instant in Python's range
        raise ValueError(f"{field} is out of range (got {value.isoformat()})") from None


def _as_date(value: dt.date | dt.datetime, zone: str, field: str) -> dt.date:
    """An all-day boundary as a date; a datetime must be local midnight in ``zone``."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"{field} must be timezone-aware (got naive {value.isoformat()})")
        try:
            local = value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(f"{field} is out of range (got {value.isoformat()})") from None
        if local.time() != dt.time(0):
            raise ValueError(
                f"all-day booking {field} must fall on a date boundary in {zone} (got {value.isoformat()})"
            )
        return local.date()
    return value


class OccurrenceOverride(BaseModel):
    """One instance of a series that differs from the pattern (moved, retitled)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    original_start: dt.datetime | dt.date
    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    subject: str | None = None
    ids: SourceIds = SourceIds()

    @field_validator("original_start", "start", "end")
    @classmethod
    def _aware(cls, value: dt.datetime | dt.date, info: Any) -> dt.datetime | dt.date:
        if isinstance(value, dt.datetime):
            return to_utc(value, f"override {info.field_name}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> OccurrenceOverride:
        if _key(self.end) <= _key(self.start):
            raise ValueError(
                f"override end ({self.end.isoformat()}) must be after its start ({self.start.isoformat()})"
            )
        return self


def _key(value: dt.datetime | dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(0), tzinfo=UTC)


class Recurrence(BaseModel):
    """An RFC 5545 recurrence: the RRULE (without 'RRULE:'), cancelled dates, moved instances.

    EXDATEs and override original starts use the same type as the series' start:
    aware UTC datetimes for timed series, dates for all-day ones.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rrule: str = Field(min_length=1)
    exdates: tuple[dt.datetime | dt.date, ...] = ()
    overrides: tuple[OccurrenceOverride, ...] = ()

    @field_validator("rrule")
    @classmethod
    def _parse(cls, value: str) -> str:
        from dateutil.rrule import rrulestr

        from calsync.errors import CalsyncError
        from calsync.model.rrule import normalise_rrule

        try:
            text = normalise_rrule(value)  # calsync's canonical spelling, see calsync.recurrence
        except CalsyncError as exc:
            raise ValueError(f"{exc.message} (not valid RFC 5545)") from None
        try:
            rrulestr(text, dtstart=dt.datetime(2000, 1, 1), ignoretz=True)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"recurrence rule {value!r} is not valid RFC 5545: {exc}") from None
        return text

    @field_validator("exdates")
    @classmethod
    def _exdates_aware(cls, values: tuple[dt.datetime | dt.date, ...]) -> tuple[dt.datetime | dt.date, ...]:
        return tuple(sorted((to_utc(v, "exdate") if isinstance(v, dt.datetime) else v for v in values), key=_key))

    @field_validator("overrides")
    @classmethod
    def _overrides_sorted(cls, values: tuple[OccurrenceOverride, ...]) -> tuple[OccurrenceOverride, ...]:
        return tuple(sorted(values, key=lambda o: _key(o.original_start)))


class Booking(BaseModel):
    """A room reservation in calsync's canonical form (see module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    room: str = Field(min_length=1)
    subject: str = ""
    start: dt.datetime | dt.date
    end: dt.datetime | dt.date
    all_day: bool = False
    time_zone: str = "UTC"
    organizer: Organizer = Organizer()
    sensitivity: Sensitivity = Sensitivity.NORMAL
    status: BookingStatus = BookingStatus.CONFIRMED
    kind: BookingKind = BookingKind.MEETING
    recurrence: Recurrence | None = None
    ids: SourceIds = SourceIds()
    cancellation: Cancellation | None = None  # with status cancelled: who, when, why (not hashed)
    # calsync's message to the booking system's users with a write (why calsync changed the booking): written
    # only, never read back into a Booking, not synced to Outlook and not hashed (the booking API's ``note``)
    note: str | None = None

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @model_validator(mode="before")
    @classmethod
    def _normalise_bounds(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        zone = data.get("time_zone", "UTC")
        try:
            check_zone(zone)
        except ValueError:
            return data  # the field validator reports the zone
        for field in ("start", "end"):
            value = data.get(field)
            if isinstance(value, str):
                value = _parse_iso(value, field)
            if data.get("all_day"):
                if isinstance(value, dt.date):
                    value = _as_date(value, zone, field)
            elif isinstance(value, dt.datetime):
                value = to_utc(value, field)
            elif isinstance(value, dt.date):
                raise ValueError(f"{field} is a date ({value.isoformat()}) but the booking is not all-day")
            data[field] = value
        return data

    @model_validator(mode="after")
    def _ordered(self) -> Booking:
        if self.all_day and (isinstance(self.start, dt.datetime) or isinstance(self.end, dt.datetime)):
            raise ValueError("all-day booking start and end must be dates")
        if _key(self.end) < _key(self.start) or (_key(self.end) == _key(self.start) and self.all_day):
            raise ValueError(f"end ({self.end.isoformat()}) is before start ({self.start.isoformat()})")
        return self

    @model_validator(mode="after")
    def _canonical_rrule(self) -> Booking:
        """The RRULE with the parts its start implies made explicit (calsync.recurrence.canonical_rrule)."""
        if self.recurrence is None:
            return self
        from calsync.errors import CalsyncError
        from calsync.model.rrule import canonical_rrule

        try:
            rule = canonical_rrule(self.recurrence.rrule, self.start, self.time_zone)
        except CalsyncError as exc:
            raise ValueError(exc.message) from None
        if rule != self.recurrence.rrule:
            object.__setattr__(self, "recurrence", self.recurrence.model_copy(update={"rrule": rule}))
        return self

    @property
    def is_recurring(self) -> bool:
        return self.recurrence is not None

    @property
    def is_cancelled(self) -> bool:
        return self.status is BookingStatus.CANCELLED

    def interval_utc(self) -> tuple[dt.datetime, dt.datetime]:
        """First occurrence's [start, end) as aware UTC datetimes; all-day dates are read in ``time_zone``."""
        if self.all_day:
            zone = ZoneInfo(self.time_zone)
            start = dt.datetime.combine(self.start, dt.time(0), tzinfo=zone).astimezone(UTC)  # type: ignore[arg-type]
            end = dt.datetime.combine(self.end, dt.time(0), tzinfo=zone).astimezone(UTC)  # type: ignore[arg-type]
            return start, end
        return self.start, self.end  # type: ignore[return-value]


def _parse_iso(text: str, field: str) -> dt.datetime | dt.date:
    try:
        if "T" in text or " " in text.strip():
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field} {text!r} is not an ISO 8601 date or date-time") from None
