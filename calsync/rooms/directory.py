"""``RoomDirectory``: the rooms registry as the engine, webhooks, maintenance and commands read it.

The registry lives in Table Storage (calsync.store.rooms). For small installs the
ROOMS setting still works as a seed: a room in ROOMS without a registry row is
served as ``live`` (that is how it behaved before the registry existed) with
``origin="setting"``; a registry row always wins over the seed (so ``calsync rooms
pause`` works on a seeded room: it writes the row).

Rooms change rarely, and the webhook path must answer in milliseconds: reads are
served from a snapshot of the whole registry (one partition query) kept for
``ttl`` seconds per process; this process's own writes refresh it at once. Another
process sees a change within ``ttl`` (the engine's gate, a pause, going live).

When ``fallback_to_seed`` is set (the webhook path) and Table Storage cannot be read,
the seed alone answers (logged once): a notification for a registry-only room is then
acknowledged and ignored, and the next reconcile of that room finds the change.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence

from calsync.errors import StoreError, ValidationError
from calsync.rooms.state import RoomState, can_move
from calsync.settings import Room
from calsync.store.rooms import RoomRecord, RoomStore

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 30.0
SEED_STATE = RoomState.LIVE  # rooms only in ROOMS sync as they did before the registry


class RoomDirectory:
    """Every known room with its state; see the module docstring for the seed and the cache."""

    def __init__(self, store: RoomStore | None, seed: Sequence[Room] = (), *, ttl: float = DEFAULT_TTL_SECONDS,
                 fallback_to_seed: bool = False, monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.store = store
        self.seed = tuple(seed)
        self.ttl = ttl
        self.fallback_to_seed = fallback_to_seed
        self._monotonic = monotonic
        self._snapshot: dict[str, RoomRecord] | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()
        self._store_failed = False

    # --- reads ------------------------------------------------------------------------------------

    async def list(self) -> list[RoomRecord]:
        """Every room, registry rows and seed-only rooms, sorted by key. Raises StoreError."""
        return sorted((await self._rooms()).values(), key=lambda r: r.key)

    async def get(self, key: str) -> RoomRecord | None:
        rooms = await self._rooms()
        return rooms.get(key)

    async def find_by_mailbox(self, mailbox: str) -> RoomRecord | None:
        folded = mailbox.strip().casefold()
        return next((r for r in (await self._rooms()).values() if r.mailbox.casefold() == folded), None)

    async def find_by_booking_room(self, booking_room_id: str) -> RoomRecord | None:
        rooms = await self._rooms()
        return next((r for r in rooms.values() if r.booking_room_id == booking_room_id), None)

    async def room(self, key: str) -> Room | None:
        """The settings-shaped Room with this key (any state), or None."""
        record = await self.get(key)
        return None if record is None else record.room

    # --- writes -----------------------------------------------------------------------------------

    async def put(self, record: RoomRecord, *, now: dt.datetime | None = None) -> RoomRecord:
        """Register or change a room. ValidationError when its mailbox or booking room belongs to another key."""
        store = self._writable()
        rooms = await self._rooms(fresh=True)
        for other in rooms.values():
            if other.key == record.key:
                continue
            if other.mailbox.casefold() == record.mailbox.casefold():
                raise ValidationError(f"mailbox {record.mailbox} already belongs to room {other.key}", room=record.key)
            if other.booking_room_id == record.booking_room_id:
                raise ValidationError(f"booking room {record.booking_room_id} already belongs to room {other.key}",
                                      room=record.key)  # fmt: skip
        current = rooms.get(record.key)
        etag = current.etag if current is not None and current.origin == "registry" else None
        stamped = record.model_copy(update={"updated_at": now or dt.datetime.now(dt.UTC), "etag": etag})
        saved = await store.put(stamped)
        self.invalidate()
        return saved

    async def set_state(self, key: str, state: RoomState, *, note: str | None = None,
                        force: bool = False, now: dt.datetime | None = None) -> RoomRecord:  # fmt: skip
        """Move a room to ``state`` (lifecycle in calsync.rooms.state unless ``force``). ValidationError otherwise."""
        current = await self.require(key, fresh=True)
        if not force and not can_move(current.state, state):
            raise ValidationError(f"room {key} is {current.state.value}; it cannot become {state.value} from there",
                                  room=key)  # fmt: skip
        update: dict[str, object] = {"state": state}
        if note is not None:
            update["note"] = note
        return await self.put(current.model_copy(update=update), now=now)

    async def remove(self, key: str) -> None:
        """Forget a registered room. ValidationError for a room that only the ROOMS setting names."""
        current = await self.require(key, fresh=True)
        if current.origin == "setting":
            raise ValidationError(f"room {key} comes from the ROOMS setting; remove it there", room=key)
        await self._writable().delete(key)
        self.invalidate()

    async def require(self, key: str, *, fresh: bool = False) -> RoomRecord:
        """The room with this key; ValidationError naming the known rooms otherwise."""
        rooms = await self._rooms(fresh=fresh)
        if key in rooms:
            return rooms[key]
        known = ", ".join(sorted(rooms)) or "none (import rooms with `calsync rooms import`)"
        raise ValidationError(f"unknown room {key!r}; known rooms: {known}", room=key)

    def invalidate(self) -> None:
        self._snapshot = None

    # --- the snapshot -----------------------------------------------------------------------------

    def _writable(self) -> RoomStore:
        if self.store is None:
            raise ValidationError("this directory has no registry table to write to")
        return self.store

    def _seeded(self) -> dict[str, RoomRecord]:
        return {room.key: RoomRecord.from_room(room, SEED_STATE, origin="setting") for room in self.seed}

    async def _rooms(self, *, fresh: bool = False) -> dict[str, RoomRecord]:
        now = self._monotonic()
        snapshot = self._snapshot
        if not fresh and snapshot is not None and now - self._loaded_at < self.ttl:
            return snapshot
        async with self._lock:
            if not fresh and self._snapshot is not None and self._monotonic() - self._loaded_at < self.ttl:
                return self._snapshot
            rooms = self._seeded()
            if self.store is not None:
                try:
                    registered = await self.store.list()
                except StoreError:
                    if not self.fallback_to_seed:
                        raise
                    if not self._store_failed:
                        log.warning("the rooms registry cannot be read; serving the ROOMS setting only")
                    self._store_failed = True
                    return rooms  # not cached: try the table again next time
                self._store_failed = False
                rooms.update({record.key: record for record in registered})
            self._snapshot, self._loaded_at = rooms, self._monotonic()
            return rooms


def cached_pairs(directory: RoomDirectory) -> list[tuple[str, str]]:
    """(booking room id, key) of every room the directory last loaded (the seed before the first load); no I/O."""
    rooms = directory._snapshot if directory._snapshot is not None else directory._seeded()
    return [(record.booking_room_id, record.key) for record in rooms.values()]
