"""The sync engine: one ChangeHint in, at most one write on the other side, the mapping saved.

The engine is a loop and makes no choice of its own (DESIGN "Shape"): it asks the
pure decision (calsync.sync.plan.decide) what to read, performs that read
(calsync.sync.reads), and asks again until the decision returns an action
(calsync.sync.actions); it runs the action, and if the action's write met a copy
that vanished or changed, asks ``plan.after_failure`` for the next one. All I/O of
one hint goes through a ``SyncContext`` (calsync.sync.context).

What that amounts to per hint: the room's hold; for a hint that names the version
calsync wrote (its own echo), the mapping and nothing more; else the source's current
state (one Graph GET for an Outlook hint), the mapping; an echo stops there. Otherwise the
counterpart (from the mapping, a stamp or a lost-mapping lookup), the booking
system's items around the source (overlaps surface there: the booking system also
refuses double bookings itself), the mass-deletion guard's counts before a
deletion, then one write and the mapping saved under its ETag. Creates carry an
idempotency key derived from the mapping id (invariant 3).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from calsync.model import ChangeHint, Side
from calsync.rooms.directory import RoomDirectory
from calsync.rooms.gate import admit_hint
from calsync.settings import BookingBackend, Room, Settings
from calsync.store.client import TableStore
from calsync.store.mappings import MappingStore
from calsync.store.own_versions import OwnVersions
from calsync.store.records import ENGINE_HOLD_CACHE_SECONDS, ConflictStore, RoomHoldStore
from calsync.store.rooms import RoomStore
from calsync.store.session_memory import SessionMemory
from calsync.sync.actions import Action, Outcome
from calsync.sync.context import SyncContext, SyncStores
from calsync.sync.guard import GuardLimits
from calsync.sync.plan import after_failure, decide
from calsync.sync.reads import Read
from calsync.sync.sides import CalendarSide
from calsync.sync.state import Facts, Policy
from calsync.sync.window import SyncWindow, utc_now
from calsync.telemetry import metrics, sync_context

if TYPE_CHECKING:
    from calsync.queues.publisher import HintPublisher

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

__all__ = ["Clock", "Outcome", "SyncEngine", "policy_from"]


def policy_from(settings: Settings) -> Policy:
    guard = GuardLimits(min_bookings=settings.mass_delete_min_bookings, threshold=settings.mass_delete_threshold)
    soft = settings.booking_cancellation == "soft" and settings.booking_backend is BookingBackend.REST  # MRBS deletes
    return Policy(conflict_policy=settings.conflict_policy, private_subject=settings.private_subject, guard=guard,
                  soft_cancel=soft)  # fmt: skip


class SyncEngine:
    def __init__(self, settings: Settings, tables: TableStore, sides: Mapping[Side, CalendarSide],
                 *, clock: Clock | None = None, window: SyncWindow | None = None,
                 rooms: RoomDirectory | None = None, publisher: HintPublisher | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.publisher = publisher  # hints for other rooms' sessions (a booking's room move, calsync.sync.moves)
        self.sides = sides
        self.tables = tables
        self.clock = clock or utc_now
        self.window = window or SyncWindow.days(settings.sync_window_past_days, settings.sync_window_future_days,
                                                self.clock)  # fmt: skip
        # perf (#16): the hold is read before every hint; cached briefly, see RoomHoldStore
        holds = RoomHoldStore(tables, cache_seconds=ENGINE_HOLD_CACHE_SECONDS)
        # perf (#16): mapping rows and open problems remembered while this instance holds the room's session
        self.memory = SessionMemory()
        # perf (#16): the versions this engine's mapping writes hold; the webhooks of this process stop their echoes
        self.own_versions = OwnVersions()
        self.stores = SyncStores(MappingStore(tables, memory=self.memory, own_versions=self.own_versions),
                                 ConflictStore(tables), holds, own_versions=self.own_versions)  # fmt: skip
        self.mappings = self.stores.mappings
        self.policy = policy_from(settings)
        self.rooms = rooms or RoomDirectory(RoomStore(tables), settings.rooms)  # the rooms registry's gate

    async def close(self) -> None:
        """Close both sides' HTTP clients and the table client."""
        for side in self.sides.values():
            await side.close()
        await self.tables.close()

    async def handle(self, hint: ChangeHint) -> Outcome:
        """Process one hint; raises on failures so the queue retries and, at last, dead-letters."""
        metrics.record_hint(hint)
        room, why, _ = await admit_hint(self.rooms, hint)  # known, and its state lets this hint write
        if room is None:
            log.warning("hint for room %r ignored: %s", hint.room, why)
            return Outcome(None, why)
        with sync_context(
            room=room.key, source=hint.source.value, item_id=hint.item_id, message_id=hint.message_id
        ) as context:  # fmt: skip
            try:
                with self.memory.hint(room.key):  # forgotten if the hint fails
                    action, outcome = await self._sync(room, hint)
            except Exception as exc:
                metrics.record_failure(exc, room=room.key, side=hint.source.value)
                raise
            lag = metrics.lag_seconds(hint.observed_at, self.clock()) if action.writes else None
            metrics.record_action(action.telemetry, room=room.key, source=hint.source.value, lag_seconds=lag)
            context.update(outlook_id=outcome.outlook_id, booking_id=outcome.booking_id)
            log.info("sync %s: %s", action.kind.value, outcome.reason)
            return outcome

    async def _sync(self, room: Room, hint: ChangeHint) -> tuple[Action, Outcome]:
        ctx = SyncContext(room=room, sides=self.sides, stores=self.stores, policy=self.policy, clock=self.clock,
                          deletion_window=dt.timedelta(minutes=self.settings.mass_delete_window_minutes),
                          publisher=self.publisher, queue=self.settings.changes_queue)  # fmt: skip
        now = self.clock()
        facts = Facts(hint=hint, now=now, window=self.window.bounds(now))
        step = decide(facts, self.policy)
        while isinstance(step, Read):
            facts = await step.fetch(ctx, facts)
            step = decide(facts, self.policy)
        action = step
        while True:
            result = await action.run(ctx)
            if isinstance(result, Outcome):
                return action, result
            follow = after_failure(action, result)
            if follow is None:
                raise RuntimeError(f"no way to recover {action.kind.value} after the copy was {result.failure}")
            log.warning("%s", follow.reason)
            action = follow
