"""Room moves (issue #11) in the engine: a booking moved to another room, over the in-memory sides and Azurite.

The booking system's webhook names only the booking's new room. Each test moves a booking
as a booking-system user would, hands the engine that one hint, delivers whatever the
engine put on the queue (a hint for the old room, calsync.sync.moves) and checks what
people see in both rooms: no full compare runs. The crash tests stop the worker between
the steps of the new room's pass and check that the retry converges with one copy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from calsync.errors import QueueError, StoreError, TransientError
from calsync.model import Booking, ChangeHint, HintReason, Organizer, Side
from calsync.settings import Room, Settings
from calsync.store.client import TableStore
from calsync.store.mappings import MappingStore
from calsync.sync.actions import ActionKind
from calsync.sync.context import SyncStores
from calsync.sync.engine import Outcome, SyncEngine
from calsync.sync.state import ItemState, OrganizerRole
from tests.sync.memory_sides import MemorySide

pytestmark = pytest.mark.azurite

OLD = Room(key="atlas", mailbox="atlas@contoso.example", booking_room_id="R-100", name="Atlas")
NEW = Room(key="boreas", mailbox="boreas@contoso.example", booking_room_id="R-200", name="Boreas")
ADA = Organizer(name="Ada", email="ada@example.com")
T0 = dt.datetime(2030, 3, 1, 8, tzinfo=dt.UTC)


def planning(hour: int = 9) -> Booking:
    start = dt.datetime(2030, 3, 4, hour, tzinfo=dt.UTC)
    return Booking(room=OLD.key, subject="Planning", start=start, end=start + dt.timedelta(hours=1), organizer=ADA)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@dataclass
class Queue:
    """The engine's publisher: what it published, and failures to inject."""

    hints: list[ChangeHint] = field(default_factory=list)
    fail: int = 0

    async def publish(self, hints: Sequence[ChangeHint], *, queue: str) -> None:
        if self.fail:
            self.fail -= 1
            raise QueueError("the queue refused the message (injected)", queue=queue, count=len(hints))
        self.hints.extend(hints)


class CrashingMappings:
    """The real MappingStore, whose next index upserts fail: the worker died after the publish."""

    def __init__(self, store: MappingStore) -> None:
        self.store = store
        self.crashes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def place_booking(self, booking_id: str, room: str) -> None:
        if self.crashes:
            self.crashes -= 1
            raise StoreError("the worker crashed before pointing the index at the new room (injected)")
        await self.store.place_booking(booking_id, room)


@dataclass
class Rooms:
    engine: SyncEngine
    outlook: MemorySide
    booking: MemorySide
    queue: Queue
    mappings: CrashingMappings

    async def hint(self, room: Room, side: Side, item_id: str) -> Outcome:
        hint = ChangeHint(source=side, room=room.key, item_id=item_id, reason=HintReason.WEBHOOK,
                          observed_at=self.engine.clock())  # fmt: skip
        return await self.engine.handle(hint)

    async def drain(self) -> list[ChangeHint]:
        """Deliver what the engine published, as the queue would (duplicate MessageIds dropped)."""
        delivered: list[ChangeHint] = []
        seen: set[str] = set()
        while self.queue.hints:
            hint = self.queue.hints.pop(0)
            if hint.message_id in seen:
                continue
            seen.add(hint.message_id)
            delivered.append(hint)
            await self.engine.handle(hint)
        return delivered

    def live(self, side: Side, room: Room) -> list[ItemState]:
        return (self.outlook if side is Side.OUTLOOK else self.booking).live(room.key)

    async def mapped(self, room: Room) -> list[tuple[str | None, str | None]]:
        return [(row.outlook_id, row.booking_id) for row in await self.mappings.list_room(room.key)]


@pytest.fixture
async def rooms(settings: Settings) -> AsyncIterator[Rooms]:
    configured = settings.model_copy(update={"rooms": [OLD, NEW], "mass_delete_min_bookings": 1000})
    tables = TableStore.from_settings(configured)
    await tables.ensure_tables()
    clock = Clock()
    outlook, booking = MemorySide(Side.OUTLOOK, clock=clock), MemorySide(Side.BOOKING, clock=clock)
    queue = Queue()
    engine = SyncEngine(configured, tables, {Side.OUTLOOK: outlook, Side.BOOKING: booking}, clock=clock,
                        publisher=queue)  # type: ignore[arg-type]  # fmt: skip
    mappings = CrashingMappings(engine.stores.mappings)
    engine.stores = SyncStores(mappings, engine.stores.conflicts, engine.stores.holds)  # type: ignore[arg-type]
    yield Rooms(engine, outlook, booking, queue, mappings)
    await engine.close()


async def synced_booking(rooms: Rooms) -> tuple[str, str]:
    """A booking in the old room, copied to the old room's Outlook calendar: (booking id, copy id)."""
    booking_id = rooms.booking.user_create(OLD, planning())
    await rooms.hint(OLD, Side.BOOKING, booking_id)
    (copy,) = rooms.live(Side.OUTLOOK, OLD)
    assert rooms.queue.hints == [], "a new booking hints no other room"
    rooms.outlook.reset_counts()
    return booking_id, copy.item_id


async def test_a_moved_booking_leaves_the_old_rooms_calendar_in_the_same_pass(rooms: Rooms) -> None:
    booking_id, old_copy = await synced_booking(rooms)

    rooms.booking.move_room(booking_id, NEW)
    await rooms.hint(NEW, Side.BOOKING, booking_id)  # the webhook names the new room only
    delivered = await rooms.drain()

    assert [(h.room, h.item_id, h.reason) for h in delivered] == [(OLD.key, booking_id, HintReason.MOVED)]
    assert rooms.live(Side.OUTLOOK, OLD) == []
    (new_copy,) = rooms.live(Side.OUTLOOK, NEW)
    assert new_copy.stamp == booking_id and new_copy.booking is not None
    assert new_copy.booking.subject == "Planning"
    assert rooms.outlook.write_log == [("create", new_copy.item_id), ("delete", old_copy)]
    assert await rooms.mapped(OLD) == []
    assert await rooms.mapped(NEW) == [(new_copy.item_id, booking_id)]


async def test_a_booking_moved_back_and_forth_ends_with_one_copy_in_its_room(rooms: Rooms) -> None:
    booking_id, _ = await synced_booking(rooms)

    for room in (NEW, OLD):
        rooms.booking.move_room(booking_id, room)
        await rooms.hint(room, Side.BOOKING, booking_id)
        await rooms.drain()

    assert rooms.live(Side.OUTLOOK, NEW) == []
    assert [c.stamp for c in rooms.live(Side.OUTLOOK, OLD)] == [booking_id]


async def test_when_both_rooms_are_hinted_in_either_order_the_copy_moves_once(rooms: Rooms) -> None:
    """MRBS's outbox names the old and the new room; the old room's hint may come first."""
    booking_id, _ = await synced_booking(rooms)

    rooms.booking.move_room(booking_id, NEW)
    await rooms.hint(OLD, Side.BOOKING, booking_id)
    await rooms.hint(NEW, Side.BOOKING, booking_id)
    await rooms.drain()

    assert rooms.live(Side.OUTLOOK, OLD) == []
    assert [c.stamp for c in rooms.live(Side.OUTLOOK, NEW)] == [booking_id]
    assert [op for op, _ in rooms.outlook.write_log] == ["delete", "create"]


async def test_a_crash_after_the_publish_republishes_the_same_message_and_creates_one_copy(rooms: Rooms) -> None:
    booking_id, _ = await synced_booking(rooms)
    rooms.booking.move_room(booking_id, NEW)

    rooms.mappings.crashes = 1  # the index upsert fails after the hint for the old room was published
    with pytest.raises(StoreError):
        await rooms.hint(NEW, Side.BOOKING, booking_id)
    assert rooms.live(Side.OUTLOOK, NEW) == [], "nothing is created before the index points at the new room"
    await rooms.hint(NEW, Side.BOOKING, booking_id)  # Service Bus delivers the hint again

    first, again = rooms.queue.hints
    assert first.message_id == again.message_id, "a retry's hint is dropped by duplicate detection"
    await rooms.drain()
    assert rooms.live(Side.OUTLOOK, OLD) == []
    assert [c.stamp for c in rooms.live(Side.OUTLOOK, NEW)] == [booking_id]


async def test_a_crash_between_the_index_and_the_create_publishes_nothing_more(rooms: Rooms) -> None:
    booking_id, _ = await synced_booking(rooms)
    rooms.booking.move_room(booking_id, NEW)

    rooms.outlook.fail_next(1, error=TransientError, ops={"create"})  # Graph fails the create
    with pytest.raises(TransientError):
        await rooms.hint(NEW, Side.BOOKING, booking_id)
    await rooms.hint(NEW, Side.BOOKING, booking_id)

    assert [h.room for h in rooms.queue.hints] == [OLD.key], "the old room is hinted once"
    await rooms.drain()
    assert rooms.live(Side.OUTLOOK, OLD) == []
    assert [c.stamp for c in rooms.live(Side.OUTLOOK, NEW)] == [booking_id]


async def test_a_lost_create_response_and_a_crash_before_the_mapping_still_give_one_copy(rooms: Rooms) -> None:
    booking_id, _ = await synced_booking(rooms)
    rooms.booking.move_room(booking_id, NEW)

    rooms.outlook.lose_next_response(1, ops={"create"})  # the copy was made, the worker never heard
    with pytest.raises(TransientError):
        await rooms.hint(NEW, Side.BOOKING, booking_id)
    await rooms.hint(NEW, Side.BOOKING, booking_id)
    await rooms.drain()

    assert [c.stamp for c in rooms.live(Side.OUTLOOK, NEW)] == [booking_id]
    assert rooms.live(Side.OUTLOOK, OLD) == []


async def test_a_queue_that_refuses_the_hint_fails_the_pass_before_anything_is_written(rooms: Rooms) -> None:
    booking_id, _ = await synced_booking(rooms)
    rooms.booking.move_room(booking_id, NEW)

    rooms.queue.fail = 1
    with pytest.raises(QueueError) as refused:
        await rooms.hint(NEW, Side.BOOKING, booking_id)
    assert refused.value.retryable
    assert rooms.live(Side.OUTLOOK, NEW) == [] and rooms.outlook.writes == 0
    await rooms.hint(NEW, Side.BOOKING, booking_id)
    await rooms.drain()
    assert rooms.live(Side.OUTLOOK, OLD) == []
    assert [c.stamp for c in rooms.live(Side.OUTLOOK, NEW)] == [booking_id]


async def copy_of_a_meeting(rooms: Rooms, role: OrganizerRole) -> tuple[str, str]:
    """A person's meeting (or a room-organised event) in the old room and its booking copy: (meeting, copy)."""
    meeting_id = rooms.outlook.user_create(OLD, planning(), role=role)
    await rooms.hint(OLD, Side.OUTLOOK, meeting_id)
    (copy,) = rooms.live(Side.BOOKING, OLD)
    rooms.outlook.reset_counts()
    rooms.booking.reset_counts()
    return meeting_id, copy.item_id


@pytest.mark.parametrize("role", [OrganizerRole.PERSON, OrganizerRole.ROOM])
async def test_a_moved_copy_of_an_outlook_meeting_goes_back_to_the_meetings_room(rooms: Rooms,
                                                                                role: OrganizerRole) -> None:  # fmt: skip
    meeting_id, copy_id = await copy_of_a_meeting(rooms, role)

    rooms.booking.move_room(copy_id, NEW)
    outcome = await rooms.hint(NEW, Side.BOOKING, copy_id)
    assert rooms.booking.writes == 0, f"the new room only tells the old one: {outcome}"
    await rooms.drain()

    (back,) = rooms.live(Side.BOOKING, OLD)
    assert back.item_id == copy_id and back.stamp == meeting_id
    assert back.booking is not None and back.booking.start == planning().start
    stored = rooms.booking.items[copy_id]
    assert stored.booking.note is not None and "only its organiser can move" in stored.booking.note
    assert rooms.live(Side.BOOKING, NEW) == []
    assert rooms.outlook.writes == 0, "the meeting is neither declined nor written"
    assert rooms.outlook.violations == [] and rooms.outlook.declined == {}
    assert [c.stamp for c in rooms.live(Side.BOOKING, OLD)] == [meeting_id]
    # and the room is quiet again: the revert's own notification is an echo
    assert (await rooms.hint(OLD, Side.BOOKING, copy_id)).action is ActionKind.SKIP_ECHO
    assert rooms.booking.writes == 1 and rooms.queue.hints == []


async def test_a_moved_copy_whose_meeting_was_cancelled_meanwhile_is_removed_not_moved_back(rooms: Rooms) -> None:
    meeting_id, copy_id = await copy_of_a_meeting(rooms, OrganizerRole.PERSON)

    rooms.booking.move_room(copy_id, NEW)
    rooms.outlook.user_cancel(meeting_id)
    await rooms.hint(NEW, Side.BOOKING, copy_id)
    await rooms.drain()

    assert rooms.live(Side.BOOKING, OLD) == [] and rooms.live(Side.BOOKING, NEW) == []
    assert rooms.outlook.violations == [] and rooms.outlook.declined == {}


async def test_a_meeting_edited_while_its_copy_was_moved_away_takes_the_copy_back_with_the_edit(rooms: Rooms) -> None:
    """Found by the ownership machine: the meeting's update met its copy in the other room and made a second copy."""
    meeting_id, copy_id = await copy_of_a_meeting(rooms, OrganizerRole.PERSON)
    later = planning(hour=11)

    rooms.booking.move_room(copy_id, NEW)
    rooms.outlook.user_update(meeting_id, start=later.start, end=later.end)
    await rooms.hint(OLD, Side.OUTLOOK, meeting_id)  # the meeting's notification comes first
    await rooms.hint(NEW, Side.BOOKING, copy_id)
    await rooms.drain()

    (back,) = rooms.live(Side.BOOKING, OLD)
    assert back.item_id == copy_id and back.booking is not None and back.booking.start == later.start
    assert rooms.live(Side.BOOKING, NEW) == []
    assert rooms.outlook.violations == [] and rooms.outlook.declined == {}


async def test_a_moved_copy_going_back_meets_a_booking_made_in_the_slot_it_left(rooms: Rooms) -> None:
    """Found by the ownership machine: the copy could not go back (409) and its hint was retried for ever.

    Someone booked the meeting's slot in the booking system while the copy was away: the copy
    going back meets that booking as any copy would; first-come keeps the (older) meeting.
    """
    meeting_id, copy_id = await copy_of_a_meeting(rooms, OrganizerRole.PERSON)

    rooms.booking.move_room(copy_id, NEW)
    taken = rooms.booking.user_create(OLD, planning())
    await rooms.hint(OLD, Side.BOOKING, taken)
    await rooms.hint(NEW, Side.BOOKING, copy_id)
    await rooms.drain()

    assert taken in rooms.booking.declined, "the later booking gives way, with a reason"
    assert [c.item_id for c in rooms.live(Side.BOOKING, OLD)] == [copy_id]
    assert [e.item_id for e in rooms.live(Side.OUTLOOK, OLD)] == [meeting_id]
    assert rooms.outlook.violations == [] and rooms.outlook.declined == {}


async def test_a_moved_copy_whose_mapping_was_lost_goes_back_by_its_stamp(rooms: Rooms) -> None:
    """Found by the ownership machine: with the mapping lost in a crash, the old room did not know the moved copy
    as its own, and it stayed in the other room with no partner there."""
    meeting_id, copy_id = await copy_of_a_meeting(rooms, OrganizerRole.PERSON)
    (row,) = await rooms.mappings.list_room(OLD.key)
    await rooms.mappings.delete(row)  # the crash

    rooms.booking.move_room(copy_id, NEW)
    await rooms.hint(NEW, Side.BOOKING, copy_id)
    await rooms.drain()

    assert [c.item_id for c in rooms.live(Side.BOOKING, OLD)] == [copy_id]
    assert rooms.live(Side.BOOKING, NEW) == []
    assert await rooms.mapped(OLD) == [(meeting_id, copy_id)], "the mapping is rebuilt"
    assert rooms.outlook.violations == [] and rooms.outlook.declined == {}


async def test_a_moved_copy_whose_meeting_got_another_copy_is_removed_as_a_duplicate(rooms: Rooms) -> None:
    """Found by the ownership machine: the copy going back met the meeting's second copy (made after the mapping
    was lost) and was refused (409) on every retry."""
    meeting_id, copy_id = await copy_of_a_meeting(rooms, OrganizerRole.PERSON)
    (row,) = await rooms.mappings.list_room(OLD.key)
    await rooms.mappings.delete(row)
    rooms.booking.move_room(copy_id, NEW)
    rooms.outlook.user_update(meeting_id, subject="Planning, retitled")
    await rooms.hint(OLD, Side.OUTLOOK, meeting_id)  # no mapping, no copy around it: a second copy
    await rooms.hint(NEW, Side.BOOKING, copy_id)
    await rooms.drain()

    (kept,) = rooms.live(Side.BOOKING, OLD)
    assert kept.stamp == meeting_id and kept.item_id != copy_id
    assert rooms.live(Side.BOOKING, NEW) == []
    assert rooms.outlook.violations == [] and rooms.outlook.declined == {}


async def test_a_moved_copy_of_a_meeting_the_room_declined_is_removed_from_the_other_room(rooms: Rooms) -> None:
    """Found by the ownership machine: nothing mapped the moved copy (a crash) and the room had declined its
    meeting meanwhile; the copy stayed in the other room, holding it for nobody."""
    meeting_id, copy_id = await copy_of_a_meeting(rooms, OrganizerRole.PERSON)
    (row,) = await rooms.mappings.list_room(OLD.key)
    await rooms.mappings.delete(row)
    rooms.booking.move_room(copy_id, NEW)
    rooms.outlook.room_declines(meeting_id)
    await rooms.hint(NEW, Side.BOOKING, copy_id)
    await rooms.drain()

    assert rooms.live(Side.BOOKING, NEW) == [] and rooms.live(Side.BOOKING, OLD) == []
    assert meeting_id in rooms.outlook.items and rooms.outlook.violations == []
