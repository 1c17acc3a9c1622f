"""The gate every path passes before acting on a room: is the room known, and may calsync write for it?

One function per caller, each a single call at its entry: the engine (``admit_hint``),
the webhooks (``room_for_notification``, ``room_for_booking_notification``) and the
maintenance timer and reconcile jobs (``rooms_to_reconcile``, ``admit_job``). The rule
itself is ``calsync.rooms.state.admits``.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from calsync.model.hint import ChangeHint, HintReason
from calsync.rooms.directory import RoomDirectory
from calsync.rooms.state import RoomState, admits, reconciles
from calsync.settings import Room, Settings
from calsync.store.rooms import RoomRecord

log = logging.getLogger(__name__)


class Admission(NamedTuple):
    """The room to act on, or None with the reason nothing is done."""

    room: Room | None
    reason: str = ""
    state: RoomState | None = None


async def admit_hint(directory: RoomDirectory, hint: ChangeHint) -> Admission:
    """The engine's gate: the room when a hint of this reason may sync in its current state."""
    record = await directory.get(hint.room)
    if record is None:
        return Admission(None, "room not configured")
    if not admits(record.state, hint.reason):
        return Admission(None, f"room {record.key} is {record.state.value}: observed, nothing written",
                         record.state)  # fmt: skip
    if hint.item_id in record.held_items:
        return Admission(None, f"item {hint.item_id} is an onboarding conflict left for a person to decide "
                               f"(`calsync rooms set {record.key} --release-held`)", record.state)  # fmt: skip
    return Admission(record.room, state=record.state)


async def live_record(record: RoomRecord | None, what: str) -> RoomRecord | None:
    """``record`` when it may take webhook hints (live); None otherwise, logged as observed."""
    if record is None:
        return None
    if not admits(record.state, HintReason.WEBHOOK):
        log.info("%s for room %s, which is %s: observed, not enqueued", what, record.key, record.state.value)
        return None
    return record


async def notification_room(key: str | None, settings: Settings, directory: RoomDirectory | None, *,
                            live_only: bool) -> Room | None:  # fmt: skip
    """The webhook's room lookup: a known room (a live one for change notifications), else None."""
    if key is None:
        return None
    if directory is None:
        return settings.room(key)
    record = await directory.get(key)
    if live_only:
        record = await live_record(record, "notification")
    return None if record is None else record.room


async def booking_notification_room(booking_room_id: str, settings: Settings,
                                    directory: RoomDirectory | None) -> Room | None:  # fmt: skip
    """The booking webhook's room lookup: the live room with this booking-system id, else None."""
    if directory is None:
        return settings.room_for_booking_id(booking_room_id)
    record = await live_record(await directory.find_by_booking_room(booking_room_id), "booking webhook")
    return None if record is None else record.room


async def rooms_to_reconcile(directory: RoomDirectory) -> list[Room]:
    """The rooms the maintenance timer reconciles: the live ones."""
    return [record.room for record in await directory.list() if reconciles(record.state)]


async def admit_job(directory: RoomDirectory, key: str, *, reconcile: bool) -> Room | None:
    """The room of a maintenance job: any known room for subscription work, only a live one for a reconcile."""
    record = await directory.get(key)
    if record is None:
        return None
    if reconcile and not reconciles(record.state):
        log.info("reconcile of room %s skipped: it is %s", key, record.state.value)
        return None
    return record.room
