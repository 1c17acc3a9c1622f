"""The sync engine, one behaviour per test, over the in-memory sides (tests/sync/memory_sides.py) and Azurite.

Each test acts as people would on one side, hands the engine the hint a webhook would
send, and checks what a person would then see: which bookings exist on each side, what
was declined, and how many writes calsync made. No emulator; the mapping table is real.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from calsync.errors import MassDeletionGuardTripped
from calsync.model import Booking, BookingStatus, ChangeHint, ChangeKind, HintReason, Organizer, Side
from calsync.model.booking import Recurrence
from calsync.settings import ConflictPolicy, Room, Settings
from calsync.store.client import TableStore
from calsync.sync.engine import Outcome, SyncEngine
from calsync.sync.state import ItemState, OrganizerRole
from calsync.sync.translate import same_reservation
from tests.sync.machine_support import ManualClock
from tests.sync.memory_sides import MemorySide

pytestmark = pytest.mark.azurite

ROOM = Room(key="atlas", mailbox="atlas@contoso.example", booking_room_id="R-100", name="Atlas")
PRIVATE = "Private booking"
T0 = dt.datetime(2030, 3, 1, 8, tzinfo=dt.UTC)


def at(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2030, 3, day, hour, tzinfo=dt.UTC)


def meeting(day: int = 4, hour: int = 9, subject: str = "Planning", **fields: Any) -> Booking:
    return Booking(room=ROOM.key, subject=subject, start=at(day, hour), end=at(day, hour + 1),
                   organizer=Organizer(name="Ada", email="ada@example.com"), **fields)  # fmt: skip


@dataclass
class World:
    engine: SyncEngine
    outlook: MemorySide
    booking: MemorySide
    clock: ManualClock

    def side(self, which: Side) -> MemorySide:
        return self.outlook if which is Side.OUTLOOK else self.booking

    def person_books(self, which: Side, booking: Booking) -> str:
        self.clock.tick()
        return self.side(which).user_create(ROOM, booking)

    async def hint(self, which: Side, item_id: str, reason: HintReason = HintReason.WEBHOOK) -> Outcome:
        self.clock.tick()
        hint = ChangeHint(source=which, room=ROOM.key, item_id=item_id, reason=reason, observed_at=self.clock())
        return await self.engine.handle(hint)

    async def synced(self, which: Side, booking: Booking) -> tuple[str, str]:
        """A person's booking on ``which``, already copied to the other side: (original id, copy id)."""
        origin = self.person_books(which, booking)
        await self.hint(which, origin)
        (copy,) = self.copies_of(origin)
        self.reset_counts()
        return origin, copy.item_id

    def copies_of(self, item_id: str) -> list[ItemState]:
        """The live items on either side that calsync stamped as copies of ``item_id``."""
        return [item for side in (self.outlook, self.booking) for item in side.live() if item.stamp == item_id]

    def writes(self) -> tuple[int, int]:
        """(writes to Outlook, writes to the booking system) since the last reset."""
        return self.outlook.writes, self.booking.writes

    def reset_counts(self) -> None:
        self.outlook.reset_counts()
        self.booking.reset_counts()


async def make_world(settings: Settings, **overrides: Any) -> World:
    values = {"rooms": [ROOM], "private_subject": PRIVATE, "mass_delete_min_bookings": 1000, **overrides}
    configured = settings.model_copy(update=values)
    tables = TableStore.from_settings(configured)
    await tables.ensure_tables()
    clock = ManualClock()
    outlook = MemorySide(Side.OUTLOOK, clock=clock, private_subject=PRIVATE)
    booking = MemorySide(Side.BOOKING, clock=clock, private_subject=PRIVATE)
    engine = SyncEngine(configured, tables, {Side.OUTLOOK: outlook, Side.BOOKING: booking}, clock=clock)
    return World(engine, outlook, booking, clock)


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    running = await make_world(settings)
    yield running
    await running.engine.close()


BOTH_WAYS = pytest.mark.parametrize("origin", [Side.OUTLOOK, Side.BOOKING], ids=["from-outlook", "from-booking"])


def one(items: list[ItemState]) -> ItemState:
    assert len(items) == 1, items
    return items[0]


# --- the three plain directions ------------------------------------------------------------------


@BOTH_WAYS
async def test_a_new_booking_is_copied_to_the_other_side(world: World, origin: Side) -> None:
    original = world.person_books(origin, meeting(subject="Quarterly review"))
    await world.hint(origin, original)
    copy = one(world.side(origin.other).live())
    assert copy.stamp == original
    assert same_reservation(world.side(origin).state(world.side(origin).items[original]).booking, copy.booking,
                            private_subject=PRIVATE)  # fmt: skip
    assert world.writes() == ((0, 1) if origin is Side.OUTLOOK else (1, 0))


@BOTH_WAYS
async def test_a_private_booking_is_copied_without_its_subject(world: World, origin: Side) -> None:
    original = world.person_books(origin, meeting(subject="Secret merger", sensitivity="private"))
    await world.hint(origin, original)
    copy = one(world.side(origin.other).live())
    assert copy.booking.subject == PRIVATE


@BOTH_WAYS
async def test_an_edit_moves_the_copy_with_one_write(world: World, origin: Side) -> None:
    original, copy_id = await world.synced(origin, meeting())
    world.side(origin).user_update(original, start=at(5, 14), end=at(5, 15), subject="Moved")
    await world.hint(origin, original)
    copy = one(world.side(origin.other).live())
    assert copy.item_id == copy_id and copy.booking.start == at(5, 14) and copy.booking.subject == "Moved"
    assert world.writes() == ((0, 1) if origin is Side.OUTLOOK else (1, 0))


@BOTH_WAYS
async def test_a_deleted_booking_takes_its_copy_with_it(world: World, origin: Side) -> None:
    original, copy_id = await world.synced(origin, meeting())
    world.side(origin).user_delete(original)
    await world.hint(origin, original)
    if origin is Side.OUTLOOK:  # a booking copy is kept, cancelled with the reason (soft cancellation)
        assert world.side(origin.other).items[copy_id].booking.is_cancelled
    else:
        assert copy_id in world.side(origin.other).graveyard
    assert world.side(origin.other).live() == [] and world.side(origin).live() == []
    assert world.writes() == ((0, 1) if origin is Side.OUTLOOK else (1, 0))


@BOTH_WAYS
async def test_a_cancelled_booking_takes_its_copy_with_it(world: World, origin: Side) -> None:
    original, _ = await world.synced(origin, meeting())
    world.side(origin).user_cancel(original)
    await world.hint(origin, original)
    assert world.side(origin.other).live() == []


# --- no loops, no duplicates -----------------------------------------------------------------------


@BOTH_WAYS
async def test_the_echo_of_calsyncs_own_write_writes_nothing(world: World, origin: Side) -> None:
    _, copy_id = await world.synced(origin, meeting())
    await world.hint(origin.other, copy_id)  # the webhook for the copy calsync just wrote
    assert world.writes() == (0, 0)
    assert len(world.outlook.live()) == len(world.booking.live()) == 1


@BOTH_WAYS
async def test_a_duplicated_hint_writes_once(world: World, origin: Side) -> None:
    original = world.person_books(origin, meeting())
    await world.hint(origin, original)
    await world.hint(origin, original)
    await world.hint(origin, original, HintReason.RECONCILE)
    assert len(world.side(origin.other).live()) == 1
    assert world.writes() == ((0, 1) if origin is Side.OUTLOOK else (1, 0))


@BOTH_WAYS
async def test_a_copy_whose_original_vanished_with_its_mapping_is_removed_not_copied_back(world: World,
                                                                                         origin: Side) -> None:
    """Found by the ownership machine: mapping lost (a crash) and the original gone, then the copy's hint."""
    original, copy_id = await world.synced(origin, meeting())
    for row in await world.engine.mappings.list_room(ROOM.key):
        await world.engine.mappings.delete(row)
    world.side(origin).user_delete(original)
    await world.hint(origin.other, copy_id, HintReason.RECONCILE)
    assert world.side(origin.other).live() == [], "calsync's orphaned copy no longer holds the room"
    assert world.side(origin).live() == [], "the copy was not copied back as a new original"


async def test_a_copy_wanted_again_after_its_mapping_was_forgotten_gets_a_fresh_create_key(world: World) -> None:
    """Found by the ownership machine: the first create key is spent on another body (booking API 422)."""
    original, copy_id = await world.synced(Side.OUTLOOK, meeting())
    for row in await world.engine.mappings.list_room(ROOM.key):
        await world.engine.mappings.delete(row)
    world.booking.user_delete(copy_id)
    world.outlook.user_update(original, subject="Planning (moved)", start=at(4, 14), end=at(4, 15))
    await world.hint(Side.OUTLOOK, original)
    copy = one(world.booking.live())
    assert copy.item_id != copy_id and copy.booking.subject == "Planning (moved)" and copy.stamp == original


@BOTH_WAYS
async def test_a_stamped_copy_is_adopted_when_the_mapping_was_lost(world: World, origin: Side) -> None:
    original, copy_id = await world.synced(origin, meeting())
    for row in await world.engine.mappings.list_room(ROOM.key):
        await world.engine.mappings.delete(row)  # the crash between "copy written" and "mapping saved"
    await world.hint(origin, original, HintReason.RECONCILE)
    assert world.writes() == (0, 0), "the copy is adopted, not written again"
    world.side(origin).user_update(original, subject="After the crash")
    await world.hint(origin, original)
    copy = one(world.side(origin.other).live())
    assert copy.item_id == copy_id and copy.booking.subject == "After the crash"


async def test_a_create_whose_answer_was_lost_is_not_duplicated_on_retry(world: World) -> None:
    original = world.person_books(Side.OUTLOOK, meeting())
    world.booking.lose_next_response(ops={"create"})
    with pytest.raises(Exception, match="injected"):
        await world.hint(Side.OUTLOOK, original)
    await world.hint(Side.OUTLOOK, original)  # the queue delivers it again
    assert one(world.booking.live()).stamp == original


async def test_both_gone_forgets_the_pair_without_writing(world: World) -> None:
    original, copy_id = await world.synced(Side.OUTLOOK, meeting())
    world.outlook.user_delete(original)
    world.booking.user_delete(copy_id)
    await world.hint(Side.OUTLOOK, original)
    await world.hint(Side.BOOKING, copy_id)
    assert world.writes() == (0, 0)
    assert await world.engine.mappings.list_room(ROOM.key) == []


# --- conflicts (first-come: the earlier booking keeps the room) -------------------------------------


@BOTH_WAYS
@pytest.mark.parametrize("winner_hint_first", [False, True], ids=["loser-hint-first", "winner-hint-first"])
async def test_the_later_of_two_overlapping_bookings_is_declined(world: World, origin: Side,
                                                                  winner_hint_first: bool) -> None:  # fmt: skip
    """Overlaps are checked against the booking system, so a booking-system hint may copy a loser into
    Outlook first; once both hints are in, the later booking is declined and the earlier one is copied."""
    earlier = world.person_books(origin.other, meeting(subject="First"))
    later = world.person_books(origin, meeting(subject="Second"))
    hints = [(origin.other, earlier), (origin, later)]
    for which, item_id in hints if winner_hint_first else reversed(hints):
        await world.hint(which, item_id)
    assert set(world.side(origin).declined) == {later} and world.side(origin.other).declined == {}
    assert "already booked" in world.side(origin).declined[later]
    assert world.copies_of(later) == []
    assert one(world.side(origin).live()).stamp == earlier, "the winner is copied over"
    assert one(world.side(origin.other).live()).item_id == earlier


async def test_a_winning_source_declines_its_rival_and_is_copied_at_once(world: World) -> None:
    earlier = world.person_books(Side.OUTLOOK, meeting(subject="First"))
    later = world.person_books(Side.BOOKING, meeting(subject="Second"))
    await world.hint(Side.OUTLOOK, earlier)
    assert set(world.booking.declined) == {later}
    assert one(world.booking.live()).stamp == earlier
    assert world.writes() == (0, 2), "one decline and one create in the booking system"


async def test_outlook_wins_policy_declines_the_booking_system_side(settings: Settings) -> None:
    world = await make_world(settings, conflict_policy=ConflictPolicy.OUTLOOK_WINS)
    try:
        earlier = world.person_books(Side.BOOKING, meeting(subject="Booked first"))
        later = world.person_books(Side.OUTLOOK, meeting(subject="Outlook later"))
        await world.hint(Side.OUTLOOK, later)
        assert set(world.booking.declined) == {earlier}
        assert one(world.booking.live()).stamp == later
    finally:
        await world.engine.close()


async def test_the_stale_copy_of_a_meeting_the_room_declined_is_removed_and_the_meeting_kept(world: World) -> None:
    """The room declined a person's meeting after calsync copied it; a later meeting takes the time.

    The stale booking copy gives way to the new meeting; the declined meeting is the person's and
    stays in the room calendar untouched (found by the ownership machine: it was DELETEd).
    """
    declined, stale_copy = await world.synced(Side.OUTLOOK, meeting(subject="Declined later"))
    world.outlook.room_declines(declined)
    later = world.person_books(Side.OUTLOOK, meeting(subject="Takes the slot"))
    await world.hint(Side.OUTLOOK, later)
    assert world.outlook.violations == []
    assert declined in world.outlook.items, "the person's declined meeting is still in the room calendar"
    assert stale_copy not in {item.item_id for item in world.booking.live()}
    assert one(world.booking.live()).stamp == later


async def test_a_copy_found_without_its_mapping_goes_back_through_the_conflict_policy(world: World) -> None:
    """The mapping of a meeting's copy was lost (a crash), and its copy moved in the booking system onto free time;
    a second meeting took the hour the copy left. Rewriting the copy meets that meeting's copy: the conflict policy
    decides (the earlier meeting keeps the room) instead of a 409 retried for ever (found by the ownership machine).
    """
    world.outlook.allow_conflicts = True  # the race before calsync sees either invitation
    first, copy = await world.synced(Side.OUTLOOK, meeting(hour=8, subject="First").model_copy(update={"end": at(4, 10)}))
    row = await world.engine.mappings.find(ROOM.key, Side.OUTLOOK, first)
    assert row is not None
    await world.engine.mappings.delete(row)  # the crash
    world.booking.user_update(copy, start=at(4, 9), end=at(4, 11))  # the copy is moved off the first hour
    second = world.person_books(Side.OUTLOOK, meeting(hour=8, subject="Second"))
    await world.hint(Side.OUTLOOK, second)
    await world.hint(Side.OUTLOOK, first)  # raised RoomAlreadyBooked before the fix
    assert set(world.outlook.declined) == {second}
    kept = one(world.booking.live())
    assert kept.stamp == first and kept.booking is not None and kept.booking.start == at(4, 8)
    assert world.outlook.violations == []


# --- writes that meet a changed target --------------------------------------------------------------


async def test_an_edit_recreates_a_copy_deleted_behind_calsyncs_back_in_outlook(world: World) -> None:
    original, copy_id = await world.synced(Side.BOOKING, meeting())
    world.outlook.items.pop(copy_id)  # an admin removed the event; no hint reached calsync
    world.booking.user_update(original, subject="Edited")
    await world.hint(Side.BOOKING, original)
    copy = one(world.outlook.live())
    assert copy.item_id != copy_id and copy.booking.subject == "Edited" and copy.stamp == original


async def test_an_edit_recreates_a_copy_deleted_behind_calsyncs_back_in_the_booking_system(world: World) -> None:
    original, copy_id = await world.synced(Side.OUTLOOK, meeting())
    world.booking.items.pop(copy_id)  # deleted in the booking system; no hint reached calsync
    world.outlook.user_update(original, subject="Edited")
    await world.hint(Side.OUTLOOK, original)
    copy = one(world.booking.live())
    assert copy.item_id != copy_id and copy.booking.subject == "Edited" and copy.stamp == original


async def test_an_edit_is_applied_over_a_copy_changed_meanwhile(world: World) -> None:
    original, copy_id = await world.synced(Side.OUTLOOK, meeting())
    world.booking.user_update(copy_id, subject="Typed in the booking system")  # its hint is still queued
    world.outlook.user_update(original, start=at(4, 15), end=at(4, 16))
    await world.hint(Side.OUTLOOK, original)
    copy = one(world.booking.live())
    assert copy.item_id == copy_id and copy.booking.start == at(4, 15) and copy.booking.subject == "Planning"
    assert world.writes() == (0, 1)


async def test_a_delete_removes_a_copy_changed_meanwhile(world: World) -> None:
    original, copy_id = await world.synced(Side.OUTLOOK, meeting())
    world.booking.user_update(copy_id, subject="Typed in the booking system")
    world.outlook.user_delete(original)
    await world.hint(Side.OUTLOOK, original)
    assert world.booking.live() == []


# --- edits of a copy flowing back to its original (issue 11) ----------------------------------------


async def synced_room_event(world: World, which: Side, booking: Booking) -> tuple[str, str]:
    """An original calsync may write (a booking, or a room-organised Outlook event), already copied."""
    if which is Side.BOOKING:
        return await world.synced(which, booking)
    world.clock.tick()
    origin = world.outlook.user_create(ROOM, booking, role=OrganizerRole.ROOM)
    await world.hint(which, origin)
    copy = one(world.copies_of(origin))
    world.reset_counts()
    return origin, copy.item_id


@BOTH_WAYS
async def test_a_retitled_placeholder_on_a_copy_of_a_private_booking_shows_the_placeholder_again(
    world: World, origin: Side
) -> None:
    original, copy_id = await synced_room_event(world, origin, meeting(subject="Secret merger", sensitivity="private"))
    world.side(origin.other).user_update(copy_id, subject=PRIVATE + " (Ada)")  # someone retitles the copy
    await world.hint(origin.other, copy_id)
    assert world.side(origin).get(original).booking.subject == "Secret merger", "the original keeps its title"
    assert world.side(origin.other).get(copy_id).booking.subject == PRIVATE
    assert world.writes() == ((0, 1) if origin is Side.OUTLOOK else (1, 0)), "one write, on the copy only"
    world.reset_counts()
    await world.hint(origin.other, copy_id)  # the notification of calsync's own write
    await world.hint(origin, original)
    await world.hint(origin.other, copy_id, HintReason.RECONCILE)
    assert world.writes() == (0, 0), "quiet after the copy is masked again"


async def test_a_time_change_made_with_a_retitled_placeholder_flows_back_and_the_copy_is_masked_again(
    world: World,
) -> None:
    original, copy_id = await synced_room_event(world, Side.BOOKING, meeting(subject="Secret", sensitivity="private"))
    world.outlook.delegate_update(copy_id, subject="Taken by Ada", end=at(4, 11))  # lengthened and retitled
    await world.hint(Side.OUTLOOK, copy_id)
    booked = world.booking.get(original).booking
    assert (booked.subject, booked.end) == ("Secret", at(4, 11)), "the time travels back, the title does not"
    copy = world.outlook.get(copy_id).booking
    assert (copy.subject, copy.end) == (PRIVATE, at(4, 11))
    assert world.writes() == (1, 1)
    world.reset_counts()
    await world.hint(Side.BOOKING, original)
    await world.hint(Side.OUTLOOK, copy_id)
    assert world.writes() == (0, 0)


async def test_an_edit_of_a_copy_that_the_booking_system_refuses_puts_the_copy_back(world: World) -> None:
    """A delegate lengthens calsync's copy over another booking: the booking system would refuse it on every retry."""
    first, copy_id = await world.synced(Side.BOOKING, meeting(hour=9))
    second, _ = await world.synced(Side.BOOKING, meeting(hour=10, subject="Standup"))
    world.outlook.delegate_update(copy_id, end=at(4, 11))
    outcome = await world.hint(Side.OUTLOOK, copy_id)  # settled at once: no exception, so no retry
    assert "refused" in outcome.reason
    assert world.booking.get(first).booking.end == at(4, 10), "the booking keeps its time"
    assert world.outlook.get(copy_id).booking.end == at(4, 10), "the copy shows its booking again"
    assert world.writes() == (1, 0)
    (record,) = await world.engine.stores.conflicts.list(ROOM.key)
    assert (record.kind, record.winner_id, record.loser_id) == ("edit-refused", first, copy_id)
    assert second in record.reason and "already booked" in record.reason
    world.reset_counts()
    await world.hint(Side.OUTLOOK, copy_id)
    await world.hint(Side.OUTLOOK, copy_id, HintReason.RECONCILE)
    assert world.writes() == (0, 0)


# --- the mass-deletion guard -------------------------------------------------------------------------


async def test_the_mass_deletion_guard_holds_the_room_and_deletes_nothing(settings: Settings) -> None:
    world = await make_world(settings, mass_delete_min_bookings=5, mass_delete_threshold=0.5)
    try:
        originals = [(await world.synced(Side.OUTLOOK, meeting(day=day)))[0] for day in range(4, 10)]
        for original in originals[:4]:
            world.outlook.user_delete(original)  # most of the room vanishes from Outlook at once
        with pytest.raises(MassDeletionGuardTripped):
            await world.hint(Side.OUTLOOK, originals[0])
        assert len(world.booking.live()) == 6 and world.writes() == (0, 0)
        newcomer = world.person_books(Side.OUTLOOK, meeting(day=12))
        with pytest.raises(MassDeletionGuardTripped):  # a held room refuses every hint until confirmed
            await world.hint(Side.OUTLOOK, newcomer)
        with pytest.raises(MassDeletionGuardTripped):
            await world.hint(Side.BOOKING, world.booking.live()[0].item_id)
        assert len(world.booking.live()) == 6 and world.writes() == (0, 0)
    finally:
        await world.engine.close()


async def test_a_few_deletions_pass_the_guard(settings: Settings) -> None:
    world = await make_world(settings, mass_delete_min_bookings=5, mass_delete_threshold=0.5)
    try:
        originals = [(await world.synced(Side.OUTLOOK, meeting(day=day)))[0] for day in range(4, 10)]
        world.outlook.user_delete(originals[0])
        await world.hint(Side.OUTLOOK, originals[0])
        assert len(world.booking.live()) == 5
    finally:
        await world.engine.close()


async def test_status_values_are_what_people_see(world: World) -> None:
    """A declined Outlook booking reads as cancelled; the original stays in the room's calendar."""
    earlier = world.person_books(Side.BOOKING, meeting(subject="First"))
    later = world.person_books(Side.OUTLOOK, meeting(subject="Second"))
    await world.hint(Side.OUTLOOK, later)
    state = world.outlook.state(world.outlook.items[later])
    assert state.booking.status is BookingStatus.CANCELLED
    assert earlier in world.booking.items


# --- a versioned hint for an item the room's session memory does not know (source and mapping read at once) ---


async def versioned_hint(engine: SyncEngine, which: Side, item_id: str, clock: ManualClock) -> Outcome:
    clock.tick()
    hint = ChangeHint(source=which, room=ROOM.key, item_id=item_id, observed_at=clock(), version="v-from-webhook",
                      change_kind=ChangeKind.UPDATED)  # fmt: skip
    return await engine.handle(hint)


class OccurrenceReadsSeries(MemorySide):
    """Outlook as calsync reads it: a hint naming an occurrence ("<series>/occ") reads its series."""

    async def read(self, room: Room, item_id: str) -> ItemState:
        return await super().read(room, item_id.removesuffix("/occ"))


@BOTH_WAYS
async def test_a_new_instance_given_a_hint_again_finds_the_mapping_and_copies_nothing_twice(
    world: World, settings: Settings, origin: Side
) -> None:
    original = world.person_books(origin, meeting(subject="Board"))
    await versioned_hint(world.engine, origin, original, world.clock)
    assert len(world.copies_of(original)) == 1
    world.reset_counts()
    # another instance takes the room's session: its memory knows nothing of the item
    other = SyncEngine(world.engine.settings, world.engine.tables, world.engine.sides, clock=world.clock)
    outcome = await versioned_hint(other, origin, original, world.clock)
    assert world.writes() == (0, 0), outcome.reason
    assert len(world.copies_of(original)) == 1


async def test_a_hint_naming_an_occurrence_finds_its_series_mapping(world: World, settings: Settings) -> None:
    outlook = OccurrenceReadsSeries(Side.OUTLOOK, clock=world.clock, private_subject=PRIVATE)
    engine = SyncEngine(world.engine.settings, world.engine.tables, {Side.OUTLOOK: outlook, Side.BOOKING: world.booking},
                        clock=world.clock)  # fmt: skip
    series = outlook.user_create(ROOM, meeting(subject="Weekly", recurrence=Recurrence(rrule="FREQ=WEEKLY;COUNT=4")))
    await versioned_hint(engine, Side.OUTLOOK, series, world.clock)
    assert len(world.copies_of(series)) == 1
    world.booking.reset_counts()
    fresh = SyncEngine(world.engine.settings, world.engine.tables, engine.sides, clock=world.clock)
    outcome = await versioned_hint(fresh, Side.OUTLOOK, f"{series}/occ", world.clock)
    assert world.booking.writes == 0, outcome.reason
    assert len(world.copies_of(series)) == 1


async def test_a_series_losing_some_dates_trims_its_copy_even_when_the_copy_changed_version(settings: Settings) -> None:
    """Found by the ownership machine: the losing series' copy was written with the mapping's stale version (a room
    move and back had bumped it) and the booking system answered 412 on every retry."""
    world = await make_world(settings, conflict_policy=ConflictPolicy.OUTLOOK_WINS)
    try:
        world.outlook.allow_conflicts = True
        weekly = meeting(hour=8, subject="Weekly", recurrence=Recurrence(rrule="FREQ=WEEKLY;COUNT=3"))
        series, copy = await world.synced(Side.OUTLOOK, weekly)
        world.booking.user_update(copy, note="touched")  # a new version, the same reservation; no hint follows
        world.clock.tick()
        single = world.outlook.user_create(ROOM, meeting(day=11, hour=8, subject="Once"), role=OrganizerRole.ROOM)
        await world.hint(Side.OUTLOOK, single)
        trimmed = world.booking.items[copy].booking
        assert trimmed.recurrence is not None and [d.date() for d in trimmed.recurrence.exdates] == [at(11, 8).date()]
        assert any(item.stamp == single for item in world.booking.live())
        kept = world.outlook.items[series].booking.recurrence
        assert kept is not None and [d.date() for d in kept.exdates] == [at(11, 8).date()], "the series gives way too"
    finally:
        await world.engine.close()
