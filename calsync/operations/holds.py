"""`calsync rooms holds|release`: the mass-deletion guard's room holds and the operator's answer.

The engine writes a RoomHold when one side of a room suddenly looks empty and then
refuses every hint of the room. An operator answers in one of two ways:

- confirm (``confirm_hold``): the deletions are real; the hold stays, marked confirmed,
  and the engine lets the room's deletions through (SyncEngine._guard_mass_deletion);
- discard (``discard_hold``): the wipe was a mistake and has been undone on its side;
  the hold is removed without confirming anything, and the guard watches again.

A confirmed hold switches the guard off for its room until the engine removes it,
``CONFIRMED_HOLD_LIFETIME`` after the confirmation (calsync.sync.guard); discarding a
confirmed hold re-arms the guard at once.

A room is known when ROOMS configures it or a hold exists for it (so a hold of a room
removed from ROOMS can still be discarded); anything else is a ValidationError.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from calsync.errors import ValidationError
from calsync.settings import Settings
from calsync.store.records import RoomHold, RoomHoldStore
from calsync.wiring import open_tables


@dataclass(frozen=True)
class HoldAnswer:
    """What an operator's answer did: the hold as it was, and whether anything changed."""

    hold: RoomHold
    changed: bool


async def list_holds(settings: Settings) -> list[RoomHold]:
    """Every room hold, stopped and confirmed, oldest first. Raises StoreError."""
    async with open_tables(settings) as tables:
        holds = await RoomHoldStore(tables).list()
    return sorted(holds, key=lambda hold: (hold.since, hold.room))


async def _held(settings: Settings, store: RoomHoldStore, room: str) -> RoomHold:
    hold = await store.get(room)
    if hold is not None:
        return hold
    if settings.room(room) is None:
        configured = ", ".join(r.key for r in settings.rooms) or "none (ROOMS is empty)"
        raise ValidationError(f"unknown room {room!r}; configured rooms: {configured}", room=room)
    raise ValidationError(f"room {room!r} is not on hold; nothing to release", room=room)


async def confirm_hold(settings: Settings, room: str) -> HoldAnswer:
    """Mark ``room``'s hold confirmed so its deletions go through. Idempotent.

    Raises ValidationError for an unknown room or a room without a hold, StoreError.
    """
    async with open_tables(settings) as tables:
        store = RoomHoldStore(tables)
        hold = await _held(settings, store, room)
        if hold.confirmed:
            return HoldAnswer(hold, changed=False)
        await store.put(hold.model_copy(update={"confirmed": True, "confirmed_at": dt.datetime.now(dt.UTC)}))
    return HoldAnswer(hold, changed=True)


async def discard_hold(settings: Settings, room: str) -> HoldAnswer:
    """Remove ``room``'s hold without confirming its deletions.

    Raises ValidationError for an unknown room or a room without a hold, StoreError.
    """
    async with open_tables(settings) as tables:
        store = RoomHoldStore(tables)
        hold = await _held(settings, store, room)
        await store.release(room)
    return HoldAnswer(hold, changed=True)
