"""CalendarSideContract: the promises of calsync.sync.sides.CalendarSide as one test class, for every side.

Like tests/booking/contract.py (and vdirsyncer's StorageTests), a subclass provides one fixture,
``under_test``: a ``SideUnderTest`` with the side, a room that is empty in March 2030, and a way to
book that room as a person would (for declines). tests/sync/test_side_contract.py runs it against
OutlookSide over the Graph emulator, BookingSide over the booking emulator, and both in-memory
sides of tests/sync/memory_sides.py, so the engine tests over memory sides mean something for
the real ones.

Where the sides legitimately differ, the test says so in a comment and asserts each side's way.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from calsync.errors import Conflict, NotFound, SideError, ValidationError
from calsync.model import Booking, Organizer, Recurrence, Sensitivity, Side, content_hash
from calsync.settings import Room
from calsync.sync.sides import CalendarSide
from calsync.sync.translate import same_reservation

PRIVATE_SUBJECT = "Private booking"


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """An aware UTC datetime in March 2030 (far from 'now', so nothing depends on the clock)."""
    return dt.datetime(2030, 3, day, hour, minute, tzinfo=dt.UTC)


@dataclass
class SideUnderTest:
    side: CalendarSide
    room: Room
    person_books: Callable[[Booking], Awaitable[str]]  # a person's booking of the room; returns its id
    name: str

    @property
    def is_outlook(self) -> bool:
        return self.side.side is Side.OUTLOOK


class CalendarSideContract:
    def meeting(self, room: Room, day: int = 4, hour: int = 9, **fields: Any) -> Booking:
        values: dict[str, Any] = {
            "room": room.key, "subject": "Contract", "start": at(day, hour), "end": at(day, hour + 1),
            "time_zone": "Europe/Berlin", "organizer": Organizer(name="Ada", email="ada@example.com"),
        }  # fmt: skip
        return Booking(**{**values, **fields})

    def all_day(self, room: Room, day: int = 6) -> Booking:
        return Booking(room=room.key, subject="Offsite", start=dt.date(2030, 3, day), end=dt.date(2030, 3, day + 1),
                       all_day=True, time_zone="Europe/Berlin",
                       organizer=Organizer(name="Ada", email="ada@example.com"))  # fmt: skip

    def weekly(self, room: Room, exdate: bool = True) -> Booking:
        start = dt.datetime(2030, 3, 5, 8, tzinfo=dt.UTC)  # 09:00 in Berlin, Tuesdays
        exdates = (start + dt.timedelta(weeks=1),) if exdate else ()
        return Booking(room=room.key, subject="Weekly", start=start, end=start + dt.timedelta(hours=1),
                       time_zone="Europe/Berlin", organizer=Organizer(name="Ada", email="ada@example.com"),
                       recurrence=Recurrence(rrule="FREQ=WEEKLY;COUNT=4", exdates=exdates))  # fmt: skip

    async def create(self, t: SideUnderTest, booking: Booking, stamp: str | None = None, key: str | None = None):
        stamp = stamp or f"other-{uuid.uuid4().hex}"
        return await t.side.create(t.room, booking, stamp=stamp, idempotency_key=key or uuid.uuid4().hex)

    # --- create and read ----------------------------------------------------------------------

    @pytest.mark.parametrize("shape", ["single", "all-day", "weekly-with-exdate", "private"])
    async def test_create_read_round_trip(self, under_test: SideUnderTest, shape: str) -> None:
        t = under_test
        booking = {
            "single": lambda: self.meeting(t.room),
            "all-day": lambda: self.all_day(t.room),
            "weekly-with-exdate": lambda: self.weekly(t.room),
            # calsync masks a private subject before writing (desired_copy); the side keeps it masked
            "private": lambda: self.meeting(t.room, subject=PRIVATE_SUBJECT, sensitivity=Sensitivity.PRIVATE),
        }[shape]()
        stamp = f"other-{uuid.uuid4().hex}"
        created = await self.create(t, booking, stamp=stamp)
        read = await t.side.read(t.room, created.item_id)
        assert read.exists and read.booking is not None and read.item_id == created.item_id
        # the organizer is left out: Graph makes the room the organizer of events an app creates
        assert same_reservation(booking, read.booking, private_subject=PRIVATE_SUBJECT)
        assert read.stamp == stamp
        assert read.version and read.created_at is not None and read.created_at.tzinfo is not None
        # what create returns is what the next read shows: the engine stores this hash as its echo memory
        assert created.content_hash == read.content_hash == content_hash(read.booking)
        assert created.version == read.version

    async def test_read_of_an_unknown_id_is_gone_not_an_error(self, under_test: SideUnderTest) -> None:
        created = await self.create(under_test, self.meeting(under_test.room))
        await under_test.side.delete(under_test.room, created)
        gone = await under_test.side.read(under_test.room, created.item_id)
        assert gone.booking is None and not gone.exists and gone.item_id == created.item_id

    async def test_the_stamp_is_found_by_find_copy(self, under_test: SideUnderTest) -> None:
        t = under_test
        stamp = f"other-{uuid.uuid4().hex}"
        created = await self.create(t, self.meeting(t.room), stamp=stamp)
        found = await t.side.find_copy(t.room, stamp)
        assert found is not None and found.item_id == created.item_id and found.stamp == stamp
        assert found.content_hash == created.content_hash
        assert await t.side.find_copy(t.room, f"other-{uuid.uuid4().hex}") is None

    async def test_a_create_retried_with_the_same_key_returns_the_same_item(self, under_test: SideUnderTest) -> None:
        t = under_test
        key, stamp = uuid.uuid4().hex, f"other-{uuid.uuid4().hex}"
        first = await self.create(t, self.meeting(t.room), stamp=stamp, key=key)
        again = await self.create(t, self.meeting(t.room), stamp=stamp, key=key)
        assert again.item_id == first.item_id
        listed = await t.side.list_window(t.room, at(4, 0), at(5, 0))
        assert [item.item_id for item in listed] == [first.item_id]

    async def test_a_key_reused_with_other_content_or_after_a_delete(self, under_test: SideUnderTest) -> None:
        """The sides differ here, and the engine must live with both (its keys are per mapping, not per write).

        Outlook (transactionId): the same key gives back the existing event whatever the body, and
        creates anew once that event is deleted. The booking system (Idempotency-Key): a key reused
        with another body is refused (422, ValidationError); with the same body it replays the
        first answer, even when that booking has been deleted since.
        """
        t = under_test
        key, stamp = uuid.uuid4().hex, f"other-{uuid.uuid4().hex}"
        first = await self.create(t, self.meeting(t.room), stamp=stamp, key=key)
        if t.is_outlook:
            same = await self.create(t, self.meeting(t.room, subject="Other body"), stamp=stamp, key=key)
            assert same.item_id == first.item_id and same.content_hash == first.content_hash
        else:
            with pytest.raises(ValidationError):
                await self.create(t, self.meeting(t.room, subject="Other body"), stamp=stamp, key=key)
        await t.side.delete(t.room, first)
        again = await self.create(t, self.meeting(t.room), stamp=stamp, key=key)
        if t.is_outlook:
            assert again.item_id != first.item_id and (await t.side.read(t.room, again.item_id)).exists
        else:
            assert again.item_id == first.item_id, "the booking system replays the first answer"
            assert not (await t.side.read(t.room, again.item_id)).exists, "... for a booking that is gone"

    # --- update and delete --------------------------------------------------------------------

    async def test_every_write_moves_the_version_and_keeps_stamp_and_organizer(self, under_test: SideUnderTest):
        t = under_test
        stamp = f"other-{uuid.uuid4().hex}"
        created = await self.create(t, self.meeting(t.room), stamp=stamp)
        moved = self.meeting(t.room, hour=14, subject="Moved", organizer=Organizer(email="someone@example.com"))
        updated = await t.side.update(t.room, created, moved)
        assert updated.version != created.version
        read = await t.side.read(t.room, created.item_id)
        assert read.version == updated.version and read.content_hash == updated.content_hash
        assert read.booking is not None and read.booking.subject == "Moved" and read.booking.start == at(4, 14)
        assert read.stamp == stamp, "an update keeps calsync's stamp"
        assert read.booking.organizer == created.booking.organizer, "calsync never rewrites the organizer"

    async def test_an_update_with_a_stale_version_is_a_conflict(self, under_test: SideUnderTest) -> None:
        t = under_test
        created = await self.create(t, self.meeting(t.room))
        await t.side.update(t.room, created, self.meeting(t.room, subject="First edit"))
        with pytest.raises(Conflict):
            await t.side.update(t.room, created, self.meeting(t.room, subject="Second edit"))
        read = await t.side.read(t.room, created.item_id)
        assert read.booking is not None and read.booking.subject == "First edit"

    async def test_a_delete_with_a_stale_version_is_a_conflict(self, under_test: SideUnderTest) -> None:
        t = under_test
        created = await self.create(t, self.meeting(t.room))
        await t.side.update(t.room, created, self.meeting(t.room, subject="Edited"))
        with pytest.raises(Conflict):
            await t.side.delete(t.room, created)
        assert (await t.side.read(t.room, created.item_id)).exists

    async def test_delete_then_read_is_gone_and_a_second_delete_is_not_found(self, under_test: SideUnderTest):
        t = under_test
        created = await self.create(t, self.meeting(t.room))
        await t.side.delete(t.room, created)
        read = await t.side.read(t.room, created.item_id)
        assert read.booking is None and not read.exists
        with pytest.raises(NotFound):
            await t.side.delete(t.room, created)
        with pytest.raises(NotFound):
            await t.side.update(t.room, created, self.meeting(t.room, subject="Too late"))
        assert await t.side.list_window(t.room, at(4, 0), at(5, 0)) == []

    # --- listing ------------------------------------------------------------------------------

    async def test_list_window_holds_what_overlaps_the_half_open_window(self, under_test: SideUnderTest) -> None:
        t = under_test
        created = await self.create(t, self.meeting(t.room, hour=10))  # [10:00, 11:00)

        async def listed(start: dt.datetime, end: dt.datetime) -> list[str]:
            return [item.item_id for item in await t.side.list_window(t.room, start, end)]

        assert await listed(at(4, 11), at(4, 12)) == [], "a window that starts at the end"
        assert await listed(at(4, 9), at(4, 10)) == [], "a window that ends at the start"
        assert await listed(at(4, 10, 59), at(4, 12)) == [created.item_id]
        assert await listed(at(4, 9), at(4, 10, 1)) == [created.item_id]
        assert await listed(at(1, 0), at(30, 0)) == [created.item_id]

    async def test_list_window_lists_a_series_once(self, under_test: SideUnderTest) -> None:
        t = under_test
        series = await self.create(t, self.weekly(t.room, exdate=False))
        listed = await t.side.list_window(t.room, at(1, 0), at(31, 0))
        assert [item.item_id for item in listed] == [series.item_id]
        # only the master's id: OutlookSide lists ids from the calendarView delta without reading the
        # items (read=False); BookingSide lists full states. Callers must read() what they need.
        if t.is_outlook:
            assert all(not item.read for item in listed)
        else:
            assert all(item.booking is not None for item in listed)
        # an occurrence inside the window is enough (the third Tuesday)
        assert [i.item_id for i in await t.side.list_window(t.room, at(19, 0), at(20, 0))] == [series.item_id]

    # --- declines -----------------------------------------------------------------------------

    async def test_a_declined_booking_no_longer_holds_the_room(self, under_test: SideUnderTest) -> None:
        t = under_test
        item_id = await t.person_books(self.meeting(t.room, day=7))
        item = await t.side.read(t.room, item_id)
        assert item.exists and item.booking is not None
        assert item.booking.organizer.email == "ada@example.com", "a person's booking keeps its organiser"
        await t.side.decline(t.room, item, "The room is already booked at this time.")
        # Outlook: the room's response becomes declined and the event stays; booking system: status
        # rejected. Both read as cancelled: the booking no longer holds the room.
        after = await t.side.read(t.room, item_id)
        assert not after.exists
        assert after.booking is not None and after.booking.is_cancelled
        assert after.version != item.version

    async def test_declining_calsyncs_own_copy(self, under_test: SideUnderTest) -> None:
        t = under_test
        created = await self.create(t, self.meeting(t.room, day=8))
        if t.is_outlook:
            # the sides differ: Graph refuses to let the room decline an event the room organises
            # (every event calsync creates); releasing such a copy means deleting it (EXCHANGE.md)
            with pytest.raises(SideError) as refused:
                await t.side.decline(t.room, created, "no")
            assert refused.value.status == 400 and not isinstance(refused.value, Conflict | NotFound)
            assert (await t.side.read(t.room, created.item_id)).exists
        else:
            await t.side.decline(t.room, created, "no")
            assert not (await t.side.read(t.room, created.item_id)).exists
