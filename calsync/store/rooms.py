"""The rooms registry's table: one row per room (key, mailbox, booking-system room id, name, state).

Partition "rooms", RowKey = the encoded room key, so the whole registry is one
partition query (200 rooms fit one page). Writes are upserts guarded by the row's
ETag when the caller read it first (``RoomRecord.etag``); a lost race raises
ConcurrencyError. A missing table reads as empty, so a deployment that never used
the registry still works from its ROOMS setting alone.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from pydantic import BaseModel, ConfigDict

from calsync.rooms.state import RoomState
from calsync.settings import Room
from calsync.store.client import TableStore, translate_errors
from calsync.store.keys import decode_key, encode_key

Origin = Literal["registry", "setting"]


class RoomRecord(BaseModel):
    """One registered room and its state; ``room`` is the settings-shaped Room the sync code uses."""

    model_config = ConfigDict(frozen=True)

    key: str
    mailbox: str
    booking_room_id: str
    name: str | None = None
    user_id: str | None = None  # the room mailbox's Entra object id (calsync.settings.Room.user_id)
    state: RoomState = RoomState.PENDING
    note: str = ""  # why it is paused, or what the last onboarding said
    held_items: tuple[str, ...] = ()  # items of an onboarding conflict: never synced until a person decides
    updated_at: dt.datetime | None = None
    origin: Origin = "registry"  # "setting": only in the ROOMS seed, no row yet
    etag: str | None = None

    @property
    def room(self) -> Room:
        return Room(key=self.key, mailbox=self.mailbox, booking_room_id=self.booking_room_id, name=self.name,
                    user_id=self.user_id)  # fmt: skip

    @classmethod
    def from_room(cls, room: Room, state: RoomState, *, origin: Origin = "registry") -> RoomRecord:
        return cls(key=room.key, mailbox=room.mailbox, booking_room_id=room.booking_room_id, name=room.name,
                   user_id=room.user_id, state=state, origin=origin)  # fmt: skip


class RoomStore:
    """Reads and writes registry rows."""

    PARTITION = "rooms"

    def __init__(self, tables: TableStore) -> None:
        self.tables = tables
        self._table = tables.table("Rooms")

    async def list(self) -> list[RoomRecord]:
        """Every registered room (empty when the table does not exist yet). Raises StoreError."""
        async with translate_errors("listing rooms"):
            try:
                entities = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": self.PARTITION})
                return [_record(e) async for e in entities]
            except ResourceNotFoundError:
                return []

    async def put(self, record: RoomRecord) -> RoomRecord:
        """Insert or replace; with ``record.etag`` only if the row did not change since. Raises ConcurrencyError."""
        entity = record.model_dump(mode="json", exclude={"key", "etag", "origin", "updated_at"})
        entity = {k: v for k, v in entity.items() if v is not None}
        entity["held_items"] = json.dumps(list(record.held_items))
        entity.update(PartitionKey=self.PARTITION, RowKey=encode_key(record.key), updated_at=record.updated_at)
        async with translate_errors(f"saving room {record.key}"):
            if record.etag:
                result = await self._table.update_entity(entity, mode=UpdateMode.REPLACE, etag=record.etag,
                                                         match_condition=MatchConditions.IfNotModified)  # fmt: skip
            else:
                result = await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        return record.model_copy(update={"etag": result.get("etag"), "origin": "registry"})

    async def delete(self, key: str) -> None:
        async with translate_errors(f"removing room {key}"):
            try:
                await self._table.delete_entity(self.PARTITION, encode_key(key))
            except ResourceNotFoundError:
                return


def _record(entity: dict[str, Any]) -> RoomRecord:
    data = {k: v for k, v in entity.items() if k not in ("PartitionKey", "RowKey")}
    data["held_items"] = tuple(json.loads(data.get("held_items") or "[]"))
    return RoomRecord(key=decode_key(entity["RowKey"]), etag=entity.metadata.get("etag"), **data)
