"""The BookingSystem Protocol: everything the sync engine asks of an organisation's booking system.

calsync ships one implementation (calsync.booking.rest_client.BookingRestClient, for the
REST contract in docs/booking-api.yaml). An organisation whose system speaks something
else writes one class with these methods; docs/booking-api.md says how. Every method
documents which calsync.errors types it raises; implementations raise nothing else
on purpose (library exceptions must be translated).

Contract-specific errors live here as subclasses of the shared tree:

    Conflict ──┬── RoomTaken ── RoomAlreadyBooked   409: the room is taken for (part of) that time
               └── ChangedMeanwhile                 412: the If-Match version is stale
    NotFound ── SyncStateExpired ── ChangeFeedExpired   410 on /changes: the cursor is lost; do a full pass
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from calsync.errors import Conflict, RoomTaken, SyncStateExpired
from calsync.model.booking import Booking

SIDE = "booking"
"""The ``side`` every booking-system error carries."""


class RoomAlreadyBooked(RoomTaken):
    """The room already has a booking (or block) that overlaps; nothing was written."""


class ChangedMeanwhile(Conflict):
    """The booking changed since the version given in If-Match; re-read and decide again."""


class ChangeFeedExpired(SyncStateExpired):
    """The change-feed cursor is unknown or expired; the caller must do a full pass (list_bookings)."""


class BookingRoom(BaseModel):
    """A room as the booking system knows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    email: str | None = None


class BookingRecord(BaseModel):
    """One booking read from the booking system: the canonical Booking plus the system's bookkeeping.

    ``booking.ids.booking`` is ``id`` and ``booking.ids.outlook`` is ``external_ref``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    room_id: str
    booking: Booking
    version: str = Field(description="Opaque version; served as the ETag and sent back in If-Match.")
    external_ref: str | None = None
    rejection_reason: str | None = None
    note: str | None = None  # the message calsync left with its last write (why it changed the booking)
    created_at: dt.datetime
    updated_at: dt.datetime


class ChangeFeedPage(BaseModel):
    """Booking ids changed or deleted since a cursor, and the cursor to continue from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    changed: tuple[str, ...]
    deleted: tuple[str, ...]
    next_cursor: str
    has_more: bool = False


@runtime_checkable
class BookingSystem(Protocol):
    """What the sync engine needs from a booking system. All methods are coroutines except
    ``list_bookings``, which returns an async iterator.

    Every method may raise PermissionDenied (bad credentials or not allowed), Throttled
    (still rate-limited after the bounded wait) and TransientError (5xx, timeouts,
    connection errors after retries); the lists below name the others.
    """

    async def list_rooms(self) -> list[BookingRoom]:
        """All rooms of the booking system."""
        ...

    async def get_booking(self, booking_id: str) -> BookingRecord:
        """The booking's current state. Raises NotFound when it does not exist (any more)."""
        ...

    async def find_by_external_ref(self, external_ref: str) -> BookingRecord | None:
        """The booking stamped with this Outlook id, or None (crash recovery for creates)."""
        ...

    def list_bookings(self, room_id: str, start: dt.datetime, end: dt.datetime) -> AsyncIterator[BookingRecord]:
        """Every booking of the room that overlaps [start, end), following pages (reconcile, backfill).

        Recurring series are listed once (as the series) when any occurrence overlaps.
        Raises NotFound for an unknown room.
        """
        ...

    async def create_booking(
        self, room_id: str, booking: Booking, *, idempotency_key: str, external_ref: str | None
    ) -> BookingRecord:
        """Create a booking. Retrying with the same idempotency key returns the same booking.

        Raises RoomAlreadyBooked (a Conflict) when the room is taken, NotFound for an
        unknown room, ValidationError when the system refuses the booking's content.
        """
        ...

    async def update_booking(self, booking_id: str, booking: Booking, *, if_match: str) -> BookingRecord:
        """Replace the booking's content if its version is still ``if_match``.

        Raises ChangedMeanwhile (a Conflict) on a stale version, RoomAlreadyBooked when the
        new time collides, NotFound when the booking is gone, ValidationError on bad content.
        """
        ...

    async def delete_booking(self, booking_id: str, *, if_match: str) -> None:
        """Delete the booking if its version is still ``if_match``.

        Raises ChangedMeanwhile on a stale version and NotFound when it is already gone.
        """
        ...

    async def reject_booking(self, booking_id: str, reason: str) -> BookingRecord:
        """Decline the booking (the loser of a cross-side conflict): its status becomes
        rejected, the organiser sees ``reason``, and the room is free again.

        Raises NotFound when the booking is gone.
        """
        ...

    async def changes(self, cursor: str | None) -> ChangeFeedPage:
        """One page of the change feed after ``cursor`` (None: from the oldest retained change).

        Raises ChangeFeedExpired when the cursor is lost or expired: do a full pass with
        list_bookings, then continue from the new page's cursor.
        """
        ...
