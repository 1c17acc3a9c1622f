"""Small keyed records: sync cursors, Graph subscriptions, conflicts (audit) and room holds.

Each is a pydantic model stored one row per record; keys are encoded with
store.keys so any id is safe. Cursors hold the whole Graph deltaLink per room and
the booking change-feed cursor; subscriptions hold id, room, expiry and the *name*
of the clientState secret (never its value); conflicts are an append-only audit
trail, newest first; a room hold is the mass-deletion guard's stop sign.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient
from pydantic import BaseModel, ConfigDict

from calsync.model.booking import Side
from calsync.settings import ConflictPolicy
from calsync.store.client import TableStore, translate_errors
from calsync.store.keys import decode_key, encode_key


class CursorKind:
    GRAPH_DELTA = "graph-delta"
    BOOKING_FEED = "booking-feed"


class Cursor(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    room: str
    value: str
    updated_at: dt.datetime


class SubscriptionRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription_id: str
    room: str
    resource: str
    expires_at: dt.datetime
    client_state_ref: str = "GRAPH_CLIENT_STATE"
    renewed_at: dt.datetime | None = None


class ConflictRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    room: str
    conflict_id: str = ""
    detected_at: dt.datetime
    policy: ConflictPolicy
    winner_side: Side
    winner_id: str
    loser_side: Side
    loser_id: str
    reason: str
    kind: str = "overlap"  # overlap: two bookings for one room; concurrent-edit: both copies edited before a sync
    resolved: bool = False


class RoomHold(BaseModel):
    """The sync of a room is stopped until an operator confirms (mass-deletion guard)."""

    model_config = ConfigDict(frozen=True)

    room: str
    side: Side
    missing: int
    mapped: int
    reason: str
    since: dt.datetime
    confirmed: bool = False
    confirmed_at: dt.datetime | None = None


def _data(entity: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entity.items() if key not in ("PartitionKey", "RowKey")}


def _entity(model: BaseModel, partition: str, row: str, exclude: set[str] | None = None) -> dict[str, Any]:
    entity = model.model_dump(mode="python", exclude=exclude or set())
    entity = {k: (v.value if hasattr(v, "value") else v) for k, v in entity.items() if v is not None}
    entity.update(PartitionKey=partition, RowKey=row)
    return entity


async def _get(table: TableClient, partition: str, row: str) -> dict[str, Any] | None:
    try:
        return await table.get_entity(partition, row)
    except ResourceNotFoundError:
        return None


class CursorStore:
    """Per-room positions in each side's change stream."""

    def __init__(self, tables: TableStore) -> None:
        self._table = tables.table("Cursors")

    async def get(self, kind: str, room: str) -> Cursor | None:
        async with translate_errors("reading a cursor"):
            entity = await _get(self._table, kind, encode_key(room))
        return None if entity is None else Cursor(kind=kind, room=room, **_data(entity))

    async def put(self, cursor: Cursor) -> None:
        entity = _entity(cursor, cursor.kind, encode_key(cursor.room), exclude={"kind", "room"})
        async with translate_errors("saving a cursor"):
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def delete(self, kind: str, room: str) -> None:
        async with translate_errors("deleting a cursor"):
            await self._table.delete_entity(kind, encode_key(room))


class SubscriptionStore:
    """Graph subscriptions calsync owns, one row per subscription id."""

    PARTITION = "subscriptions"

    def __init__(self, tables: TableStore) -> None:
        self._table = tables.table("Subscriptions")

    async def put(self, record: SubscriptionRecord) -> None:
        entity = _entity(record, self.PARTITION, encode_key(record.subscription_id))
        async with translate_errors("saving a subscription"):
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def get(self, subscription_id: str) -> SubscriptionRecord | None:
        async with translate_errors("reading a subscription"):
            entity = await _get(self._table, self.PARTITION, encode_key(subscription_id))
        return None if entity is None else SubscriptionRecord(**_data(entity))

    async def list(self) -> list[SubscriptionRecord]:
        async with translate_errors("listing subscriptions"):
            entities = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": self.PARTITION})
            return [SubscriptionRecord(**_data(e)) async for e in entities]

    async def delete(self, subscription_id: str) -> None:
        async with translate_errors("deleting a subscription"):
            await self._table.delete_entity(self.PARTITION, encode_key(subscription_id))


class ConflictStore:
    """Audit trail of conflicts per room, newest first.

    The RowKey is derived from what conflicted (kind, loser, winner), so the engine can
    record a conflict *before* it declines the loser, and a redelivered hint whose
    decline response was lost records it again in the same row instead of a second one.
    """

    def __init__(self, tables: TableStore) -> None:
        self._table = tables.table("Conflicts")

    async def add(self, record: ConflictRecord) -> ConflictRecord:
        """Record (or record again, idempotently) one conflict."""
        what = f"{record.kind}\x1f{record.loser_side.value}\x1f{record.loser_id}\x1f{record.winner_id}"
        conflict_id = f"{record.kind}-{hashlib.sha256(what.encode()).hexdigest()[:24]}"
        record = record.model_copy(update={"conflict_id": conflict_id})
        entity = _entity(record, encode_key(record.room), conflict_id, exclude={"room", "conflict_id"})
        async with translate_errors("recording a conflict"):
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        return record

    async def list(self, room: str, *, open_only: bool = False) -> list[ConflictRecord]:
        query = "PartitionKey eq @pk" + (" and resolved eq false" if open_only else "")
        async with translate_errors("listing conflicts"):
            entities = self._table.query_entities(query, parameters={"pk": encode_key(room)})
            records = [ConflictRecord(room=room, conflict_id=e["RowKey"], **_data(e)) async for e in entities]
        return sorted(records, key=lambda r: r.detected_at, reverse=True)


# The engine's hold cache (RoomHoldStore cache_seconds): below host.json's sessionIdleTimeout (10 s).
ENGINE_HOLD_CACHE_SECONDS = 5.0


class RoomHoldStore:
    """Rooms whose sync is stopped by the mass-deletion guard, until an operator confirms.

    It also keeps, per room and side, how many deletions calsync propagated in the
    current window, so a wipe processed one hint at a time still trips the guard.
    """

    PARTITION = "holds"
    TALLY = "deletions"

    def __init__(self, tables: TableStore, *, cache_seconds: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        """``cache_seconds`` > 0 remembers that a room has *no* hold for that long.

        The engine reads the room's hold before every hint, and almost always finds
        none. Only that answer is cached: a hold that exists is read every time, so an
        operator's confirm or discard (which act on an existing hold) take effect at
        once. The other writers of a hold are the engine itself (``put`` updates the
        cache) and the instance that held the room's session before; kept shorter than
        the session idle timeout (ENGINE_HOLD_CACHE_SECONDS), a cached "no hold" cannot
        outlive a hand-over of the session. 0 (the default) reads every time.
        """
        self._table = tables.table("RoomHolds")
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._no_hold_until: dict[str, float] = {}

    async def get(self, room: str) -> RoomHold | None:
        if self._no_hold_until.get(room, 0.0) > self._monotonic():
            return None
        async with translate_errors("reading a room hold"):
            entity = await _get(self._table, self.PARTITION, encode_key(room))
        if entity is None:
            self._remember_none(room)
            return None
        return RoomHold(room=room, **_data(entity))

    async def put(self, hold: RoomHold) -> None:
        entity = _entity(hold, self.PARTITION, encode_key(hold.room), exclude={"room"})
        self._no_hold_until.pop(hold.room, None)
        async with translate_errors("saving a room hold"):
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def release(self, room: str) -> None:
        async with translate_errors("releasing a room hold"):
            await self._table.delete_entity(self.PARTITION, encode_key(room))
        self._remember_none(room)

    def _remember_none(self, room: str) -> None:
        if self._cache_seconds > 0:
            self._no_hold_until[room] = self._monotonic() + self._cache_seconds

    async def list(self) -> list[RoomHold]:
        async with translate_errors("listing room holds"):
            entities = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": self.PARTITION})
            return [RoomHold(room=decode_key(e["RowKey"]), **_data(e)) async for e in entities]

    async def recent_deletions(self, room: str, side: Side, now: dt.datetime, window: dt.timedelta) -> int:
        """Deletions from ``side`` propagated in ``room`` within ``window`` before ``now``."""
        async with translate_errors("reading the deletion tally"):
            entity = await _get(self._table, self.TALLY, encode_key(f"{room}\x1f{side.value}"))
        if entity is None or now - entity["window_start"] > window:
            return 0
        return int(entity["count"])

    async def record_deletion(self, room: str, side: Side, now: dt.datetime, window: dt.timedelta) -> int:
        """Count one propagated deletion; starts a new window when the last one has passed."""
        count = await self.recent_deletions(room, side, now, window)
        key = encode_key(f"{room}\x1f{side.value}")
        async with translate_errors("saving the deletion tally"):
            entity = await _get(self._table, self.TALLY, key)
            start = entity["window_start"] if entity is not None and count else now
            await self._table.upsert_entity({"PartitionKey": self.TALLY, "RowKey": key, "window_start": start,
                                             "count": count + 1}, mode=UpdateMode.REPLACE)  # fmt: skip
        return count + 1
