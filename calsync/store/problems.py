"""Sync problems: per room, the items whose hint failed in a way a retry cannot cure.

One row per (room, side, item): PartitionKey = the room, RowKey = side and item id
(both encoded with store.keys). A failure that cannot succeed (calsync.problems)
records or bumps the row: error type, a redacted message, first and last seen, how
many hints failed, the dead-lettered MessageId and whether the organiser was told.
The row is deleted when the item next syncs successfully, so the rows of a room are
its open problems: `calsync status` counts them, `calsync problems` lists them.

Rows of one room are written only by that room's session (one hint at a time), so a
plain read-then-replace is race-free in practice; the write is still an upsert.

Given the engine's ``SessionMemory`` (calsync.store.session_memory), ``resolve`` right
after a hint reads the room's open problems once per session (one query) and deletes
only rows that exist, instead of a delete per side after every synced change.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from pydantic import BaseModel, ConfigDict

from calsync.model.booking import Side
from calsync.store.client import TableStore, translate_errors
from calsync.store.keys import decode_key, encode_key
from calsync.store.session_memory import SessionMemory

MAX_MESSAGE_CHARS = 500
"""A problem's message is cut to this length (Table Storage strings may hold 32 K, operators read one line)."""


class SyncProblem(BaseModel):
    """An item of a room that calsync cannot sync until someone changes it (or the configuration)."""

    model_config = ConfigDict(frozen=True)

    room: str
    side: Side  # the side the failing hint came from (the item's origin)
    item_id: str
    error_type: str
    message: str  # redacted: no secrets, no private subjects
    first_seen: dt.datetime
    last_seen: dt.datetime
    count: int = 1
    message_id: str | None = None  # the dead-lettered hint's MessageId, for `calsync dlq replay --id`
    organiser_told: bool = False


def _row(side: Side, item_id: str) -> str:
    return encode_key(f"{side.value}:{item_id}")


def _problem(entity: dict[str, Any]) -> SyncProblem:
    side, _, item_id = decode_key(entity["RowKey"]).partition(":")
    data = {k: v for k, v in entity.items() if k not in ("PartitionKey", "RowKey", "room", "side", "item_id")}
    return SyncProblem(room=decode_key(entity["PartitionKey"]), side=Side(side), item_id=item_id, **data)


class ProblemStore:
    """The SyncProblems table. Raises StoreError (and KeyTooLong for an id no key can hold)."""

    def __init__(self, tables: TableStore, *, memory: SessionMemory | None = None) -> None:
        self._table = tables.table("SyncProblems")
        self._memory = memory

    async def record(self, room: str, side: Side, item_id: str, *, error_type: str, message: str, now: dt.datetime,
                     message_id: str | None = None, organiser_told: bool = False) -> SyncProblem:  # fmt: skip
        """Record a failure of this item, or count one more on its open problem."""
        partition, row = encode_key(room), _row(side, item_id)
        async with translate_errors("reading a sync problem"):
            try:
                existing: SyncProblem | None = _problem(await self._table.get_entity(partition, row))
            except ResourceNotFoundError:
                existing = None
        problem = SyncProblem(
            room=room, side=side, item_id=item_id, error_type=error_type, message=message[:MAX_MESSAGE_CHARS],
            first_seen=existing.first_seen if existing else now, last_seen=now,
            count=existing.count + 1 if existing else 1, message_id=message_id,
            organiser_told=organiser_told or (existing.organiser_told if existing else False),
        )  # fmt: skip
        entity = problem.model_dump(mode="python", exclude={"room", "side", "item_id"}, exclude_none=True)
        entity.update(PartitionKey=partition, RowKey=row)
        async with translate_errors("saving a sync problem"):
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        memory = self._memory.recent(room) if self._memory is not None else None
        if memory is not None and memory.problems is not None:
            memory.problems.add((side, item_id))
        return problem

    async def resolve(self, room: str, side: Side, item_id: str) -> None:
        """The item synced: forget its problem (nothing happens when it had none).

        With the room's session memory, only a problem known to be open is deleted.
        """
        memory = self._memory.recent(room) if self._memory is not None else None
        if memory is not None:
            if memory.problems is None:
                memory.problems = await self._open(room)
            if (side, item_id) not in memory.problems:
                return
            memory.problems.discard((side, item_id))
        async with translate_errors("resolving a sync problem"):
            with contextlib.suppress(ResourceNotFoundError):
                await self._table.delete_entity(encode_key(room), _row(side, item_id))

    async def _open(self, room: str) -> set[tuple[Side, str]]:
        """The (side, item id) of the room's open problems: one query, keys only."""
        opened: set[tuple[Side, str]] = set()
        async with translate_errors("listing sync problems"):
            rows = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": encode_key(room)},
                                              select=["RowKey"])  # fmt: skip
            async for entity in rows:
                side, _, item_id = decode_key(entity["RowKey"]).partition(":")
                opened.add((Side(side), item_id))
        return opened

    async def list(self, room: str | None = None) -> list[SyncProblem]:
        """Open problems of one room, or of every room; most recently seen first."""
        async with translate_errors("listing sync problems"):
            if room is None:
                entities = self._table.list_entities()
            else:
                entities = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": encode_key(room)})
            problems = [_problem(entity) async for entity in entities]
        return sorted(problems, key=lambda p: p.last_seen, reverse=True)
