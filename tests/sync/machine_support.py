"""What the two sync state machines share: a manual clock, the Azurite harness, the bookings people make and edit.

tests/sync/test_sync_machine.py and tests/sync/test_ownership_machine.py (Hypothesis
RuleBasedStateMachines over the real SyncEngine) build on these.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Coroutine
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from calsync.errors import CalsyncError, StoreError
from calsync.model import Booking, ChangeHint, HintReason, Organizer, Recurrence, Sensitivity, Side
from calsync.model.mapping import MappingRow
from calsync.settings import Room, Settings
from calsync.store.client import TableStore
from calsync.store.mappings import MappingStore
from calsync.sync.engine import SyncEngine

PEOPLE = [Organizer(name="Ada", email="ada@example.com"), Organizer(name="Grace", email="grace@example.com"),
          Organizer(name="Linus", email="linus@example.com")]  # fmt: skip
PRIVATE = "Private booking"
T0 = dt.datetime(2030, 3, 1, 8, tzinfo=dt.UTC)


class ManualClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, minutes: int = 1) -> None:
        self.now += dt.timedelta(minutes=minutes)


class FlakyMappings:
    """The real MappingStore, whose next writes can fail: a crash after a side's write, before the mapping save."""

    def __init__(self, store: MappingStore) -> None:
        self.store = store
        self.crashes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def _crash(self, what: str) -> None:
        if self.crashes > 0:
            self.crashes -= 1
            raise StoreError(f"the worker crashed before {what} (injected)")

    async def create(self, row: MappingRow) -> MappingRow:
        self._crash("creating the mapping")
        return await self.store.create(row)

    async def update(self, row: MappingRow, previous: MappingRow) -> MappingRow:
        self._crash("updating the mapping")
        return await self.store.update(row, previous)

    async def delete(self, row: MappingRow) -> None:
        self._crash("deleting the mapping")
        await self.store.delete(row)


class PendingQueue:
    """The engine's publisher: hints for other rooms join the machine's pending hints (delivered late, or lost)."""

    def __init__(self, pending: list[ChangeHint]) -> None:
        self.pending = pending

    async def publish(self, hints: Any, *, queue: str) -> None:
        self.pending.extend(hints)


class Harness:
    """One event loop and one TableStore on the session's Azurite, shared by every example of a run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.tables = TableStore.from_settings(settings)
        self.run(self.tables.ensure_tables())

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        self.run(self.tables.close())
        self.loop.close()


def booking_for(room: Room, shape: str, day: int, hour: int, hours: int, private: bool, n: int,
                who: int = 0) -> Booking:  # fmt: skip
    fields: dict[str, Any] = {
        "room": room.key, "subject": f"Secret {n}" if private else f"Meeting {n}",
        "sensitivity": Sensitivity.PRIVATE if private else Sensitivity.NORMAL, "time_zone": "Europe/Berlin",
        "organizer": PEOPLE[who],
    }  # fmt: skip
    if shape == "all-day":
        return Booking(start=dt.date(2030, 3, day), end=dt.date(2030, 3, day + 1), all_day=True, **fields)
    start = dt.datetime(2030, 3, day, hour, tzinfo=dt.UTC)
    if shape == "single":
        return Booking(start=start, end=start + dt.timedelta(hours=hours), **fields)
    exdates = (start + dt.timedelta(weeks=1),) if shape == "weekly-exdate" else ()
    recurrence = Recurrence(rrule="FREQ=WEEKLY;COUNT=3", exdates=exdates)
    return Booking(start=start, end=start + dt.timedelta(hours=hours), recurrence=recurrence, **fields)


def edited(booking: Booking, change: str) -> dict[str, Any]:
    """The fields a person changes: move by an hour (a day when all-day), retitle, or lengthen."""
    if change == "retitle":
        return {"subject": booking.subject + "*"}
    step = dt.timedelta(days=1) if booking.all_day else dt.timedelta(hours=1)
    changes: dict[str, Any] = {"end": booking.end + step}
    if change == "move":
        changes["start"] = booking.start + step
        if booking.recurrence is not None:  # like Outlook, moving a series drops its exceptions
            changes["recurrence"] = booking.recurrence.model_copy(update={"exdates": ()})
    return changes


class HintQueueMachine(RuleBasedStateMachine):
    """The lossy queue both machines drive: hints delivered late, twice, out of order or never, and full compares.

    A subclass sets ``engine``, ``harness``, ``clock``, ``sides``, ``rooms``, ``pending``, ``dead`` and ``last_error``.
    """

    engine: SyncEngine | None
    harness: ClassVar[Harness]
    clock: ManualClock
    sides: dict[Side, Any]
    rooms: list[Room]
    pending: list[ChangeHint]
    dead: list[tuple[ChangeHint, CalsyncError]]
    last_error: CalsyncError | None

    def deliver(self, hint: ChangeHint) -> None:
        assert self.engine is not None
        self.clock.tick()
        try:
            self.harness.run(self.engine.handle(hint))
        except CalsyncError as exc:
            if exc.retryable:
                self.last_error = exc
                self.pending.append(hint)  # Service Bus delivers it again later
            else:
                self.dead.append((hint, exc))  # dead-lettered; the next reconcile looks again

    @precondition(lambda self: self.pending)
    @rule(pick=st.integers(0, 63))
    def deliver_one(self, pick: int) -> None:
        """Deliver a pending hint, not necessarily the oldest (reordering)."""
        self.deliver(self.pending.pop(pick % len(self.pending)))

    @precondition(lambda self: self.pending)
    @rule()
    def deliver_twice(self) -> None:
        hint = self.pending.pop(0)
        self.deliver(hint)
        self.deliver(hint)

    @precondition(lambda self: self.pending)
    @rule(pick=st.integers(0, 63))
    def drop(self, pick: int) -> None:
        self.pending.pop(pick % len(self.pending))

    def writes(self) -> int:
        return sum(side.writes for side in self.sides.values())

    def full_compare(self) -> list[tuple[ChangeHint, CalsyncError]]:
        """A hint for every item on both sides and every mapping row's ids (what reconcile does)."""
        assert self.engine is not None
        errors = []
        for room in self.rooms:
            targets = {(side, s.item_id): None for side in Side for s in self.sides[side].items.values()
                       if s.room == room.key}  # fmt: skip
            for row in self.harness.run(self.engine.mappings.list_room(room.key)):
                for side in Side:
                    if row.id_on(side):
                        targets[side, row.id_on(side)] = None
            for side, item_id in targets:
                self.clock.tick()
                hint = ChangeHint(source=side, room=room.key, item_id=item_id, reason=HintReason.RECONCILE,
                                  observed_at=self.clock())  # fmt: skip
                try:
                    self.harness.run(self.engine.handle(hint))
                except CalsyncError as exc:
                    errors.append((hint, exc))
        return errors
