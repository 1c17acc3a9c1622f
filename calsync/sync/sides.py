"""The one interface the sync engine uses for either calendar.

``CalendarSide`` is implemented once for Outlook (calsync.sync.outlook_side, over
the Graph adapter) and once for the booking system (calsync.sync.booking_side,
over any BookingSystem). Every method works on canonical Bookings and
``ItemState``s and raises calsync.errors types only: NotFound when an item is
gone, Conflict when it changed meanwhile or the room is taken, Throttled /
TransientError when a retry can help, PermissionDenied when it cannot.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from calsync.model import Booking, Side
from calsync.model.booking import Cancellation
from calsync.settings import Room
from calsync.sync.state import ItemState


class CalendarSide(Protocol):
    side: Side

    async def read(self, room: Room, item_id: str) -> ItemState:
        """The item's current state; ``booking=None`` when it is gone (never raises NotFound)."""
        ...

    async def find_copy(self, room: Room, source_id: str) -> ItemState | None:
        """The item calsync stamped with ``source_id`` (the other side's id), or None."""
        ...

    async def list_window(self, room: Room, start: dt.datetime, end: dt.datetime, *,
                          content: bool = False) -> list[ItemState]:  # fmt: skip
        """Every item of the room overlapping [start, end) (series once); a side may list ids only unless ``content``."""
        ...

    async def create(self, room: Room, booking: Booking, *, stamp: str, idempotency_key: str) -> ItemState:
        """Write a new copy stamped with the source id; a retry with the same key returns the same item."""
        ...

    async def update(self, room: Room, current: ItemState, desired: Booking) -> ItemState:
        """Change the copy to ``desired``, guarded by ``current.version`` where the side offers it."""
        ...

    async def delete(self, room: Room, current: ItemState) -> None:
        """Remove the copy (NotFound when it is already gone)."""
        ...

    async def cancel(self, room: Room, current: ItemState, cancellation: Cancellation) -> ItemState | None:
        """Cancel the copy, keeping it where the side can (booking: status cancelled with who/when/why;
        Outlook: calsync's meeting cancelled at its organiser with the reason, a room event deleted).
        Returns the copy as it is now, when the side tells."""
        ...

    async def decline(self, room: Room, item: ItemState, reason: str) -> None:
        """Decline the item as the room; its organiser sees ``reason``."""
        ...

    async def decline_occurrences(self, room: Room, item: ItemState, starts: tuple[dt.datetime, ...],
                                  reason: str) -> None:  # fmt: skip
        """Decline as the room only the occurrences of the series ``item`` (the room's copy of a person's
        meeting) that originally start at ``starts``; its organiser sees ``reason``. Occurrences already
        declined or gone are skipped. Only Outlook has it: other series give way per occurrence by an
        ``update`` that adds EXDATEs (calsync.sync.occurrences)."""
        ...

    async def close(self) -> None:
        """Release the side's connections."""
        ...
