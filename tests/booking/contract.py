"""BookingSystemContract: the Protocol's promises as one test class, for every BookingSystem implementation.

Subclass it and provide three fixtures (see TestRestClientContract in test_protocol_contract.py):

- ``system``: the BookingSystem under test, with rooms ``room_a`` and ``room_b`` free in March 2030;
- ``room_a`` / ``room_b``: booking-system room ids (their calsync room keys are ``key_a``/``key_b``);
- ``backdoor``: edits "as a user of the booking system" (``touch(booking_id)`` changes the
  booking so its version moves on; ``expire_cursors()`` makes old change-feed cursors invalid).

An organisation that writes its own adapter runs this class against a test instance of its
system: when it passes, the sync engine can rely on the adapter.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Protocol

import pytest

from calsync.booking.protocol import (
    BookingSystem,
    ChangedMeanwhile,
    ChangeFeedExpired,
    RoomAlreadyBooked,
)
from calsync.errors import NotFound
from calsync.model import Booking, BookingKind, BookingStatus, Organizer, Recurrence, content_hash


class Backdoor(Protocol):
    def touch(self, booking_id: str) -> None: ...

    def expire_cursors(self) -> None: ...


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2030, 3, day, hour, tzinfo=dt.UTC)


class BookingSystemContract:
    key_a = "atlas"

    def meeting(self, day: int = 4, hour: int = 9, **fields: Any) -> Booking:
        values: dict[str, Any] = {
            "room": self.key_a,
            "subject": "Contract",
            "start": at(day, hour),
            "end": at(day, hour + 1),
            "time_zone": "Europe/Berlin",
            "organizer": Organizer(name="Ada", email="ada@example.com"),
        }
        return Booking(**{**values, **fields})

    async def test_rooms_are_listed(self, system: BookingSystem, room_a: str, room_b: str) -> None:
        ids = {room.id for room in await system.list_rooms()}
        assert {room_a, room_b} <= ids

    async def test_create_read_and_find_by_stamp(self, system: BookingSystem, room_a: str) -> None:
        stamp = f"AAMk-{uuid.uuid4().hex}"
        booking = self.meeting()
        created = await system.create_booking(room_a, booking, idempotency_key=uuid.uuid4().hex, external_ref=stamp)
        read = await system.get_booking(created.id)
        assert read.version == created.version and read.external_ref == stamp
        assert content_hash(read.booking) == content_hash(booking)
        assert read.booking.ids.booking == created.id and read.booking.ids.outlook == stamp
        assert read.created_at.tzinfo is not None and read.updated_at >= read.created_at
        found = await system.find_by_external_ref(stamp)
        assert found is not None and found.id == created.id
        assert await system.find_by_external_ref(f"AAMk-{uuid.uuid4().hex}") is None

    async def test_a_retried_create_makes_one_booking(self, system: BookingSystem, room_a: str) -> None:
        key = uuid.uuid4().hex
        first = await system.create_booking(room_a, self.meeting(), idempotency_key=key, external_ref=None)
        again = await system.create_booking(room_a, self.meeting(), idempotency_key=key, external_ref=None)
        assert again.id == first.id
        listed = [r.id async for r in system.list_bookings(room_a, at(4, 0), at(5, 0))]
        assert listed == [first.id]

    async def test_double_booking_is_refused_also_against_a_series(self, system: BookingSystem, room_a: str) -> None:
        series = self.meeting(recurrence=Recurrence(rrule="FREQ=WEEKLY;COUNT=4"))
        await system.create_booking(room_a, series, idempotency_key=uuid.uuid4().hex, external_ref=None)
        with pytest.raises(RoomAlreadyBooked):
            await system.create_booking(room_a, self.meeting(), idempotency_key=uuid.uuid4().hex, external_ref=None)
        with pytest.raises(RoomAlreadyBooked):
            await system.create_booking(
                room_a, self.meeting(day=18), idempotency_key=uuid.uuid4().hex, external_ref=None
            )

    async def test_a_block_occupies_the_room(self, system: BookingSystem, room_a: str) -> None:
        block = self.meeting(kind=BookingKind.BLOCK, subject="Maintenance")
        created = await system.create_booking(room_a, block, idempotency_key=uuid.uuid4().hex, external_ref=None)
        assert (await system.get_booking(created.id)).booking.kind is BookingKind.BLOCK
        with pytest.raises(RoomAlreadyBooked):
            await system.create_booking(room_a, self.meeting(), idempotency_key=uuid.uuid4().hex, external_ref=None)

    async def test_update_needs_the_current_version(
        self, system: BookingSystem, room_a: str, backdoor: Backdoor
    ) -> None:
        created = await system.create_booking(
            room_a, self.meeting(), idempotency_key=uuid.uuid4().hex, external_ref="AAMk-u"
        )
        updated = await system.update_booking(created.id, self.meeting(subject="New"), if_match=created.version)
        assert updated.version != created.version and updated.booking.subject == "New"
        assert updated.external_ref == "AAMk-u"
        backdoor.touch(created.id)
        with pytest.raises(ChangedMeanwhile):
            await system.update_booking(created.id, self.meeting(subject="Late"), if_match=updated.version)

    async def test_delete_needs_the_current_version_and_then_it_is_gone(
        self, system: BookingSystem, room_a: str
    ) -> None:
        created = await system.create_booking(
            room_a, self.meeting(), idempotency_key=uuid.uuid4().hex, external_ref=None
        )
        with pytest.raises(ChangedMeanwhile):
            await system.delete_booking(created.id, if_match=created.version + "-stale")
        await system.delete_booking(created.id, if_match=created.version)
        with pytest.raises(NotFound):
            await system.get_booking(created.id)

    async def test_reject_keeps_the_reason_and_frees_the_room(self, system: BookingSystem, room_a: str) -> None:
        created = await system.create_booking(
            room_a, self.meeting(), idempotency_key=uuid.uuid4().hex, external_ref=None
        )
        rejected = await system.reject_booking(created.id, "Booked in Outlook first")
        assert rejected.booking.status is BookingStatus.CANCELLED
        assert rejected.rejection_reason == "Booked in Outlook first"
        await system.create_booking(room_a, self.meeting(), idempotency_key=uuid.uuid4().hex, external_ref=None)

    async def test_change_feed_reports_changes_and_deletions_after_a_cursor(
        self, system: BookingSystem, room_a: str, backdoor: Backdoor
    ) -> None:
        cursor = None
        while True:  # catch up first
            page = await system.changes(cursor)
            cursor = page.next_cursor
            if not page.has_more:
                break
        kept = await system.create_booking(
            room_a, self.meeting(hour=9), idempotency_key=uuid.uuid4().hex, external_ref=None
        )
        gone = await system.create_booking(
            room_a, self.meeting(hour=12), idempotency_key=uuid.uuid4().hex, external_ref=None
        )
        await system.delete_booking(gone.id, if_match=gone.version)
        changed: set[str] = set()
        deleted: set[str] = set()
        while True:
            page = await system.changes(cursor)
            changed |= set(page.changed)
            deleted |= set(page.deleted)
            cursor = page.next_cursor
            if not page.has_more:
                break
        assert kept.id in changed and gone.id in deleted and gone.id not in changed
        backdoor.expire_cursors()
        with pytest.raises(ChangeFeedExpired):
            await system.changes(cursor)

    async def test_missing_bookings_are_not_found(self, system: BookingSystem) -> None:
        with pytest.raises(NotFound):
            await system.get_booking("bk_does_not_exist")
        with pytest.raises(NotFound):
            await system.reject_booking("bk_does_not_exist", "x")
