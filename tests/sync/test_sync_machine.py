"""A Hypothesis state machine over the real SyncEngine: random people, a lossy queue, flaky sides.

Modelled on vdirsyncer's SyncMachine (tests/unit/sync/test_sync.py): rules make people create,
edit, cancel and delete single bookings and weekly series (all-day and private ones too, in two
rooms) on either side; the webhook hints they cause are delivered late, twice, out of order or
never; the sides fail transiently, throttle, or lose the answer to a write they made. The
``settle`` rule then delivers what is pending and runs full compares (a hint for every item on
both sides and every mapping row's ids, again until a round writes nothing) and checks:

- both sides show the same reservations: every live item has exactly one live partner on the
  other side (linked by calsync's stamp) showing the same reservation (``same_reservation``);
- nothing a person booked is lost, unless a person removed it (or its copy), the conflict policy
  declined it (or its copy), or the room's Calendar Attendant refused the invitation;
- quiescence: one more full compare writes nothing.

The sides are tests/sync/memory_sides.MemorySide (checked against the real sides by
tests/sync/test_side_contract.py); the mapping table is real (Azurite). The mass-deletion guard is
off here (people may delete most of a small room); tests/sync/test_engine.py covers it.

CI runs a bounded number of examples; set CALSYNC_MACHINE_EXAMPLES (e.g. 2000) for a long run.
Shrunk failures are kept as regular tests at the end of this file.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule, run_state_machine_as_test

from calsync.errors import CalsyncError, Conflict, Throttled, TransientError
from calsync.model import ChangeHint, ChangeKind, Side
from calsync.settings import ConflictPolicy, Room, Settings
from calsync.sync.engine import SyncEngine
from calsync.sync.state import ItemState
from calsync.sync.translate import same_reservation
from tests.sync.machine_support import PRIVATE, Harness, HintQueueMachine, ManualClock, booking_for, edited
from tests.sync.memory_sides import WRITE_OPS, MemorySide, Stored

EXAMPLES = int(os.environ.get("CALSYNC_MACHINE_EXAMPLES", "0")) or None
CI_EXAMPLES, CI_STEPS = 12, 30
ATTENDANT = "declined by the Calendar Attendant"
SIDES = st.sampled_from([Side.OUTLOOK, Side.BOOKING])
BOOKING_FIELDS = {
    "side": SIDES, "room": st.integers(0, 1), "shape": st.sampled_from(["single", "all-day", "weekly", "weekly-exdate"]),
    "day": st.integers(4, 6), "hour": st.integers(8, 11), "hours": st.integers(1, 2), "private": st.booleans(),
}  # fmt: skip
BOOKINGS = st.fixed_dictionaries(BOOKING_FIELDS)


class SyncMachine(HintQueueMachine):
    harness: ClassVar[Harness]

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        tag = uuid.uuid4().hex[:8]
        self.rooms = [Room(key=f"{name}-{tag}", mailbox=f"{name}-{tag}@contoso.example",
                           booking_room_id=f"R-{name}-{tag}", name=name) for name in ("atlas", "boreas")]  # fmt: skip
        self.sides = {side: MemorySide(side, clock=self.clock, private_subject=PRIVATE) for side in Side}
        self.engine: SyncEngine | None = None
        self.pending: list[ChangeHint] = []
        self.user_items: list[tuple[Side, str]] = []
        self.user_removed: set[str] = set()
        self.dead: list[tuple[ChangeHint, CalsyncError]] = []
        self.last_error: CalsyncError | None = None
        self.created = 0

    # --- setup -------------------------------------------------------------------------------

    @initialize(policy=st.sampled_from(list(ConflictPolicy)), first=st.lists(BOOKINGS, max_size=4))
    def start_engine(self, policy: ConflictPolicy, first: list[dict[str, Any]]) -> None:
        settings = self.harness.settings.model_copy(update={
            "rooms": self.rooms, "conflict_policy": policy, "private_subject": PRIVATE,
            "mass_delete_min_bookings": 1_000_000,
        })  # fmt: skip
        self.engine = SyncEngine(settings, self.harness.tables, self.sides, clock=self.clock)
        for values in first:  # a room rarely starts empty
            self.person_books(**values)

    # --- people ------------------------------------------------------------------------------

    def notify(self, side: Side, room: Room, item_id: str) -> None:
        """A notification, with the item's version as Graph's resourceData and the booking webhook carry it."""
        self.clock.tick()
        stored = self.sides[side].items.get(item_id)
        kind, version = (ChangeKind.UPDATED, stored.version) if stored is not None else (ChangeKind.DELETED, None)
        self.pending.append(ChangeHint(source=side, room=room.key, item_id=item_id, observed_at=self.clock(),
                                       change_kind=kind, version=version))  # fmt: skip

    def editable(self, side: Side) -> list[Stored]:
        """What a person may change: their own meetings in Outlook; any booking in the booking system."""
        items = sorted(self.sides[side].items.values(), key=lambda s: s.item_id)
        return [s for s in items if side is Side.BOOKING or not s.by_calsync]

    def room_of(self, stored: Stored) -> Room:
        return next(room for room in self.rooms if room.key == stored.room)

    @rule(**BOOKING_FIELDS)
    def person_books(self, side: Side, room: int, shape: str, day: int, hour: int, hours: int, private: bool):
        self.clock.tick()
        self.created += 1
        booking = booking_for(self.rooms[room], shape, day, hour, hours, private, self.created)
        try:
            item_id = self.sides[side].user_create(self.rooms[room], booking)
        except Conflict:
            return  # the booking system refuses a double booking to people too
        self.user_items.append((side, item_id))
        self.notify(side, self.rooms[room], item_id)

    @rule(side=SIDES, pick=st.integers(0, 63), change=st.sampled_from(["move", "retitle", "lengthen"]))
    def person_edits(self, side: Side, pick: int, change: str) -> None:
        candidates = self.editable(side)
        if not candidates:
            return
        stored = candidates[pick % len(candidates)]
        self.clock.tick()
        try:
            self.sides[side].user_update(stored.item_id, **edited(stored.booking, change))
        except Conflict:
            return
        self.notify(side, self.room_of(stored), stored.item_id)

    @rule(side=SIDES, pick=st.integers(0, 63), cancel=st.booleans())
    def person_removes(self, side: Side, pick: int, cancel: bool) -> None:
        candidates = self.editable(side)
        if not candidates:
            return
        stored = candidates[pick % len(candidates)]
        self.clock.tick()
        if cancel:
            self.sides[side].user_cancel(stored.item_id)
        else:
            self.sides[side].user_delete(stored.item_id)
        self.user_removed.add(stored.item_id)
        self.notify(side, self.room_of(stored), stored.item_id)

    # --- the queue ---------------------------------------------------------------------------

    @rule(side=SIDES, kind=st.sampled_from(["transient", "throttled", "lost-response"]), times=st.integers(1, 2),
          op=st.sampled_from(sorted(WRITE_OPS | {"read", "list_window"})))  # fmt: skip
    def side_fails(self, side: Side, kind: str, times: int, op: str) -> None:
        if kind == "lost-response":
            if op in WRITE_OPS:
                self.sides[side].lose_next_response(times, ops={op})
        else:
            self.sides[side].fail_next(times, error=Throttled if kind == "throttled" else TransientError, ops={op})

    # --- settling and the invariants ------------------------------------------------------------

    @rule()
    def settle(self) -> None:
        for side in self.sides.values():
            side.clear_faults()
        for _ in range(300):
            if not self.pending:
                break
            self.deliver(self.pending.pop(0))
        assert not self.pending, f"hints keep failing with no faults injected: {self.pending[:3]}"
        errors: list[tuple[ChangeHint, CalsyncError]] = []
        for _ in range(6):
            before = self.writes()
            errors = self.full_compare()
            if self.writes() == before and not errors:
                break
        else:
            raise AssertionError(f"no quiescence after 6 full compares; last errors: {errors[:3]}")
        self.check_same_reservations()
        self.check_nothing_lost()
        before = self.writes()
        assert self.full_compare() == [] and self.writes() == before, "a repeated settle wrote again"

    def teardown(self) -> None:
        if self.engine is not None:
            self.settle()

    def live(self, side: Side, room: Room) -> list[ItemState]:
        return self.sides[side].live(room.key)

    def check_same_reservations(self) -> None:
        for room in self.rooms:
            outlook, booking = self.live(Side.OUTLOOK, room), self.live(Side.BOOKING, room)
            for mine, theirs in ((outlook, booking), (booking, outlook)):
                for item in mine:
                    partners = [t for t in theirs if t.stamp == item.item_id or item.stamp == t.item_id]
                    assert len(partners) == 1, (
                        f"{item.side} {item.item_id} ({item.booking.subject}) has {len(partners)} live partners "
                        f"in {room.key}: {[p.item_id for p in partners]}")  # fmt: skip
                    other = partners[0]
                    assert same_reservation(item.booking, other.booking, private_subject=PRIVATE) or same_reservation(
                        other.booking, item.booking, private_subject=PRIVATE
                    ), f"{item.item_id} and its partner {other.item_id} differ:\n{item.booking}\n{other.booking}"

    def check_nothing_lost(self) -> None:
        for side, item_id in self.user_items:
            own = self.sides[side]
            stored = own.items.get(item_id)
            if stored is not None and stored.item_id in {s.item_id for s in own.live()}:
                continue
            if item_id in self.user_removed or item_id in own.declined:
                continue
            if stored is not None and stored.declined and (stored.reason or "").startswith(ATTENDANT):
                continue
            other = self.sides[side.other]
            copies = [s for s in [*other.items.values(), *other.graveyard.values()] if s.stamp == item_id]
            if any(c.item_id in self.user_removed or c.item_id in other.declined for c in copies):
                continue
            raise AssertionError(f"{side} booking {item_id} was lost: {stored or own.graveyard.get(item_id)}; "
                                 f"copies: {copies}")  # fmt: skip


@pytest.mark.slow
@pytest.mark.azurite
def test_sync_machine(settings: Settings) -> None:
    SyncMachine.harness = Harness(settings)
    try:
        run_state_machine_as_test(SyncMachine, settings=hypothesis_settings(
            max_examples=EXAMPLES or CI_EXAMPLES, stateful_step_count=CI_STEPS if EXAMPLES is None else 50,
            deadline=None, suppress_health_check=list(HealthCheck), database=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
        ))  # fmt: skip
    finally:
        SyncMachine.harness.close()


# --- shrunk failures, kept as regular tests ---------------------------------------------------------


@pytest.mark.azurite
def test_an_outlook_booking_that_beats_two_rivals_declines_both_and_is_copied(settings: Settings) -> None:
    SyncMachine.harness = Harness(settings)
    try:
        state = SyncMachine()
        state.start_engine(policy=ConflictPolicy.FIRST_COME, first=[])
        state.person_books(side=Side.OUTLOOK, room=0, shape="single", day=6, hour=10, hours=2, private=False)
        state.person_books(side=Side.BOOKING, room=0, shape="single", day=6, hour=9, hours=2, private=False)
        state.person_books(side=Side.BOOKING, room=0, shape="single", day=6, hour=11, hours=1, private=False)
        outlook_id = state.user_items[0][1]
        booking_ids = [item_id for side, item_id in state.user_items if side is Side.BOOKING]
        state.deliver_one(pick=0)  # the Outlook booking's hint, before either booking-system hint
        assert state.dead == [], f"the hint was dead-lettered: {state.dead}"
        assert set(state.sides[Side.BOOKING].declined) == set(booking_ids)
        assert [item.stamp for item in state.sides[Side.BOOKING].live()] == [outlook_id]
    finally:
        SyncMachine.harness.close()
