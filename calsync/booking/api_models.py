"""The booking system's wire payloads (docs/booking-api.yaml) as pydantic v2 models.

These mirror the JSON on the wire, field for field; calsync.booking.conversion turns
them into the canonical Booking and back. Instants are RFC 3339 date-times with an
offset; all-day bookings carry local midnights in ``time_zone``. Unknown response
fields are ignored so the booking system may add fields without breaking calsync;
request bodies refuse unknown fields.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from calsync.model.booking import check_zone


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"date-time {value.isoformat()} has no UTC offset (RFC 3339 needs one)")
    return value


AwareDateTime = Annotated[dt.datetime, AfterValidator(_aware)]
ZoneName = Annotated[str, AfterValidator(check_zone)]


class WireStatus(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"
    REJECTED = "rejected"  # declined by the booking system's side of a lost conflict


class WireSensitivity(StrEnum):
    NORMAL = "normal"
    PERSONAL = "personal"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"


class WireKind(StrEnum):
    MEETING = "meeting"
    BLOCK = "block"  # room out of service: maintenance, closure


class WebhookEventType(StrEnum):
    CREATED = "booking.created"
    UPDATED = "booking.updated"
    DELETED = "booking.deleted"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RoomOut(_Response):
    id: str
    name: str
    email: str | None = None


class RoomList(_Response):
    items: list[RoomOut]


class OrganizerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, max_length=256)
    email: str | None = Field(default=None, max_length=320)


class CancellationIn(BaseModel):
    """Who cancelled a booking, when and why (soft cancellation: the booking stays with status cancelled)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str | None = Field(default=None, max_length=2000)
    cancelled_by: str | None = Field(default=None, max_length=320)
    cancelled_at: AwareDateTime | None = None


class OverrideIn(BaseModel):
    """One moved or retitled occurrence of a series."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    original_start: AwareDateTime
    start: AwareDateTime
    end: AwareDateTime
    title: str | None = Field(default=None, max_length=1024)

    @model_validator(mode="after")
    def _ordered(self) -> OverrideIn:
        if self.end <= self.start:
            raise ValueError("override end must be after its start")
        return self


class RecurrenceIn(BaseModel):
    """RFC 5545 RRULE (without 'RRULE:'), cancelled occurrence starts and overridden occurrences."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rrule: str = Field(min_length=6, max_length=1024, pattern=r"(?i)FREQ=")
    exdates: list[AwareDateTime] = Field(default_factory=list, max_length=1000)
    overrides: list[OverrideIn] = Field(default_factory=list, max_length=1000)


class BookingWrite(_Request):
    """Body of POST /bookings and PUT /bookings/{id}: every mutable field of a booking."""

    room_id: str = Field(min_length=1, max_length=128)
    title: str = Field(default="", max_length=1024)
    start: AwareDateTime
    end: AwareDateTime
    all_day: bool = False
    time_zone: ZoneName = "UTC"
    organizer: OrganizerIn = OrganizerIn()
    status: WireStatus = WireStatus.CONFIRMED
    sensitivity: WireSensitivity = WireSensitivity.NORMAL
    kind: WireKind = WireKind.MEETING
    recurrence: RecurrenceIn | None = None
    external_ref: str | None = Field(default=None, max_length=1024)
    cancellation: CancellationIn | None = None  # with status cancelled
    note: str | None = Field(default=None, max_length=2000)  # calsync's message to the booking's users

    @model_validator(mode="after")
    def _ordered(self) -> BookingWrite:
        if self.end < self.start:
            raise ValueError("end is before start")
        if self.all_day and self.end == self.start:
            raise ValueError("an all-day booking must last at least one day")
        return self


class BookingOut(_Response):
    """A booking as the booking system serves it."""

    id: str
    room_id: str
    title: str = ""
    start: AwareDateTime
    end: AwareDateTime
    all_day: bool = False
    time_zone: str = "UTC"
    organizer: OrganizerIn = OrganizerIn()
    status: WireStatus = WireStatus.CONFIRMED
    sensitivity: WireSensitivity = WireSensitivity.NORMAL
    kind: WireKind = WireKind.MEETING
    recurrence: RecurrenceIn | None = None
    external_ref: str | None = None
    rejection_reason: str | None = None
    cancellation: CancellationIn | None = None
    note: str | None = None
    version: str
    created_at: AwareDateTime
    updated_at: AwareDateTime


class BookingPage(_Response):
    items: list[BookingOut]
    next_page_token: str | None = None


class RejectRequest(_Request):
    reason: str = Field(min_length=1, max_length=2000)


class ChangePage(_Response):
    """GET /changes: ids changed or deleted since the cursor, oldest first."""

    changed: list[str]
    deleted: list[str]
    next_cursor: str
    has_more: bool = False


class Problem(_Response):
    """RFC 9457 problem details; extension members are kept."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = "about:blank"
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None


class WebhookPayload(BaseModel):
    """Body of a webhook POST: a hint that one booking changed; never the booking itself."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event: WebhookEventType
    booking_id: str = Field(min_length=1, max_length=256)
    room_id: str = Field(min_length=1, max_length=256)
    version: str | None = Field(default=None, max_length=256)
