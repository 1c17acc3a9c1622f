"""The booking system as a CalendarSide: any BookingSystem implementation, seen by the engine.

Reads become ItemStates (version = the booking's ETag, stamp = external_ref, the
Outlook id calsync wrote), creates carry the Idempotency-Key and the stamp,
updates and deletes send If-Match, and a lost conflict is declined with
``reject_booking`` so the organiser sees the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from calsync.booking.protocol import BookingRecord, BookingSystem
from calsync.errors import NotFound
from calsync.model import Booking, BookingStatus, Side, content_hash
from calsync.model.booking import Cancellation
from calsync.room_options import BookingScope
from calsync.settings import Room
from calsync.sync.scope import booking_out_of_scope, out_of_scope
from calsync.sync.state import ItemState


def item_from_record(record: BookingRecord, scope: BookingScope | None = None) -> ItemState:
    """The record as the sync sees it; out of ``scope`` (and not calsync's copy) it reads as cancelled."""
    booking = record.booking
    reason = booking_out_of_scope(scope, booking) if scope is not None and not record.external_ref else None
    if reason is not None:
        booking = out_of_scope(booking, reason)
    return ItemState(
        side=Side.BOOKING, item_id=record.id, booking=booking, content_hash=content_hash(booking),
        version=record.version, created_at=record.created_at, stamp=record.external_ref,
    )  # fmt: skip


class BookingSide:
    side = Side.BOOKING

    def __init__(self, system: BookingSystem, *, scope: Callable[[Room], BookingScope] | None = None) -> None:
        self.system = system
        self.scope = scope or (lambda room: BookingScope())

    async def read(self, room: Room, item_id: str) -> ItemState:
        try:
            record = await self.system.get_booking(item_id)
        except NotFound:
            return ItemState(side=self.side, item_id=item_id, booking=None)
        if record.room_id != room.booking_room_id:
            # the booking moved to another room: from this room's point of view it is gone (calsync.sync.moves)
            return ItemState(side=self.side, item_id=item_id, booking=None, version=record.version,
                             moved_to=record.booking.room or record.room_id, stamp=record.external_ref)  # fmt: skip
        return item_from_record(record, self.scope(room))

    async def find_copy(self, room: Room, source_id: str) -> ItemState | None:
        record = await self.system.find_by_external_ref(source_id)
        if record is None or record.room_id != room.booking_room_id:
            return None
        return item_from_record(record)

    async def list_window(self, room: Room, start: dt.datetime, end: dt.datetime, *,
                          content: bool = True) -> list[ItemState]:  # fmt: skip
        """The room's bookings in the window, always with content (the listing carries it)."""
        scope = self.scope(room)
        return [item_from_record(r, scope) async for r in self.system.list_bookings(room.booking_room_id, start, end)]

    async def create(self, room: Room, booking: Booking, *, stamp: str, idempotency_key: str) -> ItemState:
        record = await self.system.create_booking(
            room.booking_room_id, booking, idempotency_key=idempotency_key, external_ref=stamp
        )
        return item_from_record(record)

    async def update(self, room: Room, current: ItemState, desired: Booking) -> ItemState:
        """Replace the booking's content; its organizer stays as it was created (never rewritten)."""
        if current.booking is None or current.version is None:
            record = await self.system.get_booking(current.item_id)
            organizer, version = record.booking.organizer, current.version or record.version
        else:
            organizer, version = current.booking.organizer, current.version
        # written into ``room``: a copy moved to another room by the booking system's users goes back
        desired = desired.model_copy(update={"organizer": organizer, "room": room.key})
        return item_from_record(await self.system.update_booking(current.item_id, desired, if_match=version))

    async def delete(self, room: Room, current: ItemState) -> None:
        version = current.version or (await self.system.get_booking(current.item_id)).version
        await self.system.delete_booking(current.item_id, if_match=version)

    async def cancel(self, room: Room, current: ItemState, cancellation: Cancellation) -> ItemState:
        """Soft cancellation: the booking stays, with status cancelled and who/when/why."""
        record = await self.system.get_booking(current.item_id)
        if record.booking.is_cancelled:
            return item_from_record(record)  # already cancelled: nothing to write
        desired = record.booking.model_copy(update={"status": BookingStatus.CANCELLED, "cancellation": cancellation})
        return item_from_record(await self.system.update_booking(current.item_id, desired, if_match=record.version))

    async def decline(self, room: Room, item: ItemState, reason: str) -> None:
        await self.system.reject_booking(item.item_id, reason)

    async def close(self) -> None:
        close = getattr(self.system, "aclose", None)
        if close is not None:
            await close()
