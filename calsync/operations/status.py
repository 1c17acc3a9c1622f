"""`calsync status`: one line of health per known room, read from Table Storage only.

Per room: its state in the rooms registry (pending, onboarding, live, paused), how many bookings are mapped,
when a mapping last changed (the last sync), when the room's Graph subscription expires, how many conflicts are
still open, how many sync problems (items that cannot sync, calsync.store.problems) are open, and
whether the mass-deletion guard holds the room. Rooms are read concurrently (a few at
a time), reporting progress through a callback.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from calsync.operations.tasks import gather_all
from calsync.rooms.directory import RoomDirectory
from calsync.rooms.state import RoomState
from calsync.settings import Room, Settings
from calsync.store.client import TableStore
from calsync.store.mappings import MappingStore
from calsync.store.problems import ProblemStore
from calsync.store.records import ConflictStore, RoomHold, RoomHoldStore, SubscriptionRecord, SubscriptionStore
from calsync.store.rooms import RoomRecord, RoomStore
from calsync.wiring import open_tables

ROOMS_AT_ONCE = 8
"""Rooms read concurrently; each room costs three small queries."""

Progress = Callable[[Room], None]


@dataclass(frozen=True)
class RoomStatus:
    """What Table Storage says about one configured room."""

    room: Room
    mapped: int
    last_sync: dt.datetime | None
    subscription_expires: dt.datetime | None
    open_conflicts: int
    hold: RoomHold | None
    state: RoomState = RoomState.LIVE  # the rooms registry's state (calsync.rooms.state)
    note: str = ""
    problems: int = 0  # open sync problems: `calsync problems ROOM` lists them

    @property
    def stopped(self) -> bool:
        """The mass-deletion guard stops this room's sync until an operator confirms."""
        return self.hold is not None and not self.hold.confirmed


def latest_expiry_by_room(records: list[SubscriptionRecord]) -> dict[str, dt.datetime]:
    """Each room's furthest subscription expiry (a room briefly has two while one is recreated)."""
    latest: dict[str, dt.datetime] = {}
    for record in records:
        if record.room not in latest or record.expires_at > latest[record.room]:
            latest[record.room] = record.expires_at
    return latest


async def room_statuses(settings: Settings, tables: TableStore, *, on_room: Progress | None = None) -> list[RoomStatus]:
    """The status of every known room (the rooms registry, seeded by ROOMS), by key."""
    records = await RoomDirectory(RoomStore(tables), settings.rooms).list()
    mappings, conflicts, holds = MappingStore(tables), ConflictStore(tables), RoomHoldStore(tables)
    problems = ProblemStore(tables)
    expiries = latest_expiry_by_room(await SubscriptionStore(tables).list())
    limit = asyncio.Semaphore(ROOMS_AT_ONCE)

    async def one(record: RoomRecord) -> RoomStatus:
        room = record.room
        async with limit:
            rows, open_conflicts, open_problems = await gather_all(
                [mappings.list_room(room.key), conflicts.list(room.key, open_only=True), problems.list(room.key)]
            )
            hold = await holds.get(room.key)
        if on_room is not None:
            on_room(room)
        return RoomStatus(
            room=room,
            mapped=len(rows),
            last_sync=max((row.updated_at for row in rows), default=None),
            subscription_expires=expiries.get(room.key),
            open_conflicts=len(open_conflicts),
            hold=hold,
            state=record.state,
            note=record.note,
            problems=len(open_problems),
        )

    return await gather_all(one(record) for record in records)


async def collect_status(settings: Settings, *, on_room: Progress | None = None) -> list[RoomStatus]:
    """Open the tables and read every configured room's status. Raises StoreError."""
    async with open_tables(settings) as tables:
        return await room_statuses(settings, tables, on_room=on_room)
