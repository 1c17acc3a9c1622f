"""`calsync rooms import|list|show|set|remove|pause|resume` and `propose --apply`: the rooms registry.

Each function opens the tables for one command and works through a ``RoomDirectory``
(calsync.rooms.directory). New rooms are registered ``pending``: subscribed and
observed, nothing written, until `calsync onboard ROOM --apply` pairs what exists and
makes them live. Re-importing a room keeps its state (only mailbox, booking room id
and name are updated), so an import can be repeated safely.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from calsync.errors import ValidationError
from calsync.rooms.csv_rooms import parse_rooms_csv
from calsync.rooms.directory import RoomDirectory
from calsync.rooms.state import RoomState
from calsync.settings import Room, Settings
from calsync.store.rooms import RoomRecord, RoomStore
from calsync.wiring import open_tables


@contextlib.asynccontextmanager
async def open_directory(settings: Settings) -> AsyncIterator[RoomDirectory]:
    """The rooms registry for one command (its tables closed afterwards). Raises StoreError."""
    async with open_tables(settings) as tables:
        yield RoomDirectory(RoomStore(tables), settings.rooms)


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


async def register_rooms(directory: RoomDirectory, rooms: Sequence[Room],
                         state: RoomState = RoomState.PENDING) -> ImportResult:  # fmt: skip
    """Add new rooms in ``state``; update the others' mailbox, booking room and name, keeping their state."""
    result = ImportResult()
    for room in rooms:
        current = await directory.get(room.key)
        if current is None:
            await directory.put(RoomRecord.from_room(room, state))
            result.added.append(room.key)
        elif current.room == room and current.origin == "registry":
            result.unchanged.append(room.key)
        else:
            await directory.put(current.model_copy(update={"mailbox": room.mailbox, "name": room.name,
                                                           "booking_room_id": room.booking_room_id}))  # fmt: skip
            result.updated.append(room.key)
    return result


async def import_rooms(settings: Settings, text: str) -> ImportResult:
    """Register the rooms of a CSV text (calsync.rooms.csv_rooms) as pending. Raises ValidationError, StoreError."""
    rooms = parse_rooms_csv(text)
    async with open_directory(settings) as directory:
        return await register_rooms(directory, rooms)


async def apply_proposal(settings: Settings, rooms: Sequence[Room]) -> ImportResult:
    """Register the rooms `calsync rooms propose` matched, as pending (known rooms keep their state)."""
    async with open_directory(settings) as directory:
        return await register_rooms(directory, rooms)


async def list_rooms(settings: Settings) -> list[RoomRecord]:
    async with open_directory(settings) as directory:
        return await directory.list()


async def show_room(settings: Settings, key: str) -> RoomRecord:
    async with open_directory(settings) as directory:
        return await directory.require(key)


async def set_room(settings: Settings, key: str, *, mailbox: str | None = None, booking_room_id: str | None = None,
                   name: str | None = None, state: RoomState | None = None, note: str | None = None) -> RoomRecord:  # fmt: skip
    """Register a room (mailbox and booking room id needed) or change fields of a known one."""
    async with open_directory(settings) as directory:
        current = await directory.get(key)
        if current is None:
            if not mailbox or not booking_room_id:
                raise ValidationError(f"room {key} is new: give --mailbox and --booking-room", room=key)
            room = Room(key=key, mailbox=mailbox, booking_room_id=booking_room_id, name=name)
            return await directory.put(RoomRecord.from_room(room, state or RoomState.PENDING))
        values = {"mailbox": mailbox, "booking_room_id": booking_room_id, "name": name, "note": note}
        changed = current.model_copy(update={k: v for k, v in values.items() if v is not None})
        Room(key=key, mailbox=changed.mailbox, booking_room_id=changed.booking_room_id)  # validates the values
        saved = await directory.put(changed)
        if state is not None and state is not saved.state:
            saved = await directory.set_state(key, state, force=True)  # an operator's explicit choice
        return saved


async def remove_room(settings: Settings, key: str) -> RoomRecord:
    async with open_directory(settings) as directory:
        current = await directory.require(key)
        await directory.remove(key)
        return current


async def pause_room(settings: Settings, key: str, note: str = "") -> RoomRecord:
    """Stop writing for a room (subscription kept). ValidationError for an unknown room."""
    async with open_directory(settings) as directory:
        current = await directory.require(key)
        before = "paused before onboarding" if current.state in (RoomState.PENDING, RoomState.ONBOARDING) else "paused"
        return await directory.set_state(key, RoomState.PAUSED, note=f"{before}: {note or 'by an operator'}",
                                         force=True)  # fmt: skip


async def resume_room(settings: Settings, key: str) -> RoomRecord:
    """A paused room syncs again (live), or goes back to pending if it was never onboarded (note says so)."""
    async with open_directory(settings) as directory:
        current = await directory.require(key)
        if current.state is not RoomState.PAUSED:
            raise ValidationError(f"room {key} is {current.state.value}, not paused", room=key)
        target = RoomState.PENDING if current.note.startswith("paused before onboarding") else RoomState.LIVE
        return await directory.set_state(key, target, note="")
