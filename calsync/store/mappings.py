"""The mapping table: which Outlook event and which booking are the same reservation.

One partition per room. Each synced reservation has a main row ("m~<mapping id>")
holding both ids, both sides' content hashes (the loop-prevention memory) and
versions; two index rows ("o~<outlook id>", "b~<booking id>") point to it so
either side's id finds the mapping with point reads. Main and index rows are
written in one entity-group transaction. Updates that keep the ids are single
ETag-guarded replaces; a lost race raises ConcurrencyError.

Finding a mapping by an item's id costs two point reads (index, then main row). The
engine knows, before it looks, which main row is likely: the item's own
(``mapping_id_for`` its side and id) when it is the origin, its origin's when it is a
stamped copy. The caller passes that guess (``find(likely=...)``, ``likely_mapping_id``);
``find`` reads that main row first and takes it when it names the item (one read), else
goes through the index as before.
Only one main row can name an item (its index row is created in the same
transaction and refuses a second), so the answer is the same either way.

Room moves (issue #11): a booking moved to another room has no mapping where it now
is. ``booking_room`` / ``place_booking`` keep a cross-room index for that, a row per
booking in partition ``~booking-room`` (RowKey the encoded booking id, ``room`` the room
key; base64url keys never contain '~', so no room partition can clash). It is an
unconditional upsert of its own (an entity-group transaction cannot span partitions),
written before the create of a booking's copy, so a crash leaves it ahead of the
mapping, never behind it.

Given a ``SessionMemory`` (calsync.store.session_memory; the engine's), the store
remembers, while a hint of the room runs, every row it read or wrote, and
``find(..., recent=True)`` answers from it without a table read: the echo of calsync's
own write costs nothing here. Every row written is also recorded in ``OwnVersions``
(calsync.store.own_versions), backfill's bulk writes outside the rooms' hints too, and the
echo of exactly that write is told by ``wrote`` without a read. Only the engine's read of a mapping for a webhook's hint
whose source exists asks for that; a decision that deletes and the safety nets
(reconcile, replay, backfill) read the table, and a table read that disagrees with what
is remembered forgets the room. A write that raises forgets the room's rows (it may or
may not have happened). Writers outside the room's session (the organiser migration
command, an operator restoring the table) are not seen until then: a row they changed
is refused at the next write by its ETag, and a hint for an item they unmapped reads the
table because its source is gone.

Backfill and onboarding write many new mappings of one room at once: ``create_many``
packs them into entity-group transactions of up to 100 operations (33 mappings with
their index rows), one request where there were 33. A transaction is all or nothing,
so when one mapping in it already exists the whole transaction fails; the error names
the failed operation, that mapping answers ConcurrencyError and the others are sent again.
https://learn.microsoft.com/rest/api/storageservices/performing-entity-group-transactions
("can include at most 100 entities", all with the same PartitionKey).

Note: Azurite does not enforce If-Match inside batch transactions (Azurite
issue 1233); Azure does. Tests only rely on the single-entity guard.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from calsync.errors import CalsyncError, ConcurrencyError, StoreError
from calsync.model.booking import Side
from calsync.model.mapping import MappingRow
from calsync.store.client import TableStore, translate_errors
from calsync.store.keys import decode_key, encode_key, prefixed
from calsync.store.own_versions import OwnVersions
from calsync.store.session_memory import RoomMemory, SessionMemory

MAIN, OUTLOOK_INDEX, BOOKING_INDEX = "m", "o", "b"
BOOKING_ROOMS = "~booking-room"


def _main_entity(row: MappingRow) -> dict[str, Any]:
    entity = row.model_dump(mode="json", exclude={"etag", "room", "created_at", "updated_at"})
    entity = {key: value for key, value in entity.items() if value is not None}
    entity.update(
        PartitionKey=encode_key(row.room),
        RowKey=prefixed(MAIN, row.mapping_id),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
    return entity


def _index_entities(row: MappingRow) -> list[dict[str, Any]]:
    partition = encode_key(row.room)
    rows = []
    if row.outlook_id:
        rows.append({"PartitionKey": partition, "RowKey": prefixed(OUTLOOK_INDEX, row.outlook_id),
                     "mapping_id": row.mapping_id})  # fmt: skip
    if row.booking_id:
        rows.append({"PartitionKey": partition, "RowKey": prefixed(BOOKING_INDEX, row.booking_id),
                     "mapping_id": row.mapping_id})  # fmt: skip
    return rows


def _row_from(entity: dict[str, Any]) -> MappingRow:
    data = {key: value for key, value in entity.items() if key not in ("PartitionKey", "RowKey")}
    return MappingRow(room=decode_key(entity["PartitionKey"]), etag=entity.metadata.get("etag"), **data)


TRANSACTION_OPERATIONS = 100  # Table Storage's limit per entity-group transaction


class MappingStore:
    """Reads and writes mapping rows; every write keeps main and index rows consistent."""

    def __init__(self, tables: TableStore, *, memory: SessionMemory | None = None,
                 own_versions: OwnVersions | None = None) -> None:  # fmt: skip
        self._table = tables.table("Mappings")
        self._memory = memory
        self._own_versions = own_versions  # what the rows written hold: their echoes stop at the webhook

    def _room_memory(self, room: str) -> RoomMemory | None:
        return self._memory.active(room) if self._memory is not None else None

    @contextlib.contextmanager
    def _writing(self, room: str) -> Iterator[None]:
        """A write whose outcome is unknown when it raises: forget what was remembered of the room."""
        try:
            yield
        except BaseException:
            if self._memory is not None:
                self._memory.forget(room)
            raise

    async def get(self, room: str, mapping_id: str) -> MappingRow | None:
        async with translate_errors("reading a mapping"):
            try:
                entity = await self._table.get_entity(encode_key(room), prefixed(MAIN, mapping_id))
            except ResourceNotFoundError:
                return None
        return _row_from(entity)

    async def find(self, room: str, side: Side, item_id: str, *, recent: bool = False, likely: str | None = None
                   ) -> MappingRow | None:  # fmt: skip
        """The mapping of the item with ``item_id`` on ``side``, or None.

        ``recent``: a row remembered in the room's session memory will do (see the module docstring).
        ``likely``: the main row that most likely maps it (``likely_mapping_id``); a wrong guess costs
        one table read, none a miss on the index row only.
        """
        memory = self._room_memory(room)
        remembered = memory.rows.get((side, item_id)) if memory is not None else None
        if recent and remembered is not None:
            return remembered
        row = await self._find(room, side, item_id, likely)
        if memory is not None and self._memory is not None:
            if remembered is not None and (row is None or row.etag != remembered.etag):
                # the table changed behind this instance (an operator, a restore): remember nothing of the room
                self._memory.forget(room)
            elif row is not None:
                memory.remember(row)
        return row

    def remembered(self, room: str, side: Side, item_id: str) -> MappingRow | None:
        """The row this item's mapping had when the room's hints last read or wrote it, if remembered (no I/O)."""
        memory = self._room_memory(room)
        return memory.rows.get((side, item_id)) if memory is not None else None

    def wrote(self, room: str, side: Side, item_id: str, version: str | None) -> bool:
        """Whether this process wrote a mapping row holding ``item_id`` at exactly ``version`` (no I/O).

        calsync.store.own_versions records every row written, a backfill's bulk writes outside the
        rooms' hints too: the echo of that write is told by its version without a read.
        """
        return self._own_versions is not None and self._own_versions.holds(room, side, item_id, version)

    async def _find(self, room: str, side: Side, item_id: str, likely: str | None) -> MappingRow | None:
        if likely is not None:
            row = await self.get(room, likely)
            if row is not None and row.id_on(side) == item_id:
                return row
        index = OUTLOOK_INDEX if side is Side.OUTLOOK else BOOKING_INDEX
        async with translate_errors("reading a mapping index"):
            try:
                pointer = await self._table.get_entity(encode_key(room), prefixed(index, item_id))
            except ResourceNotFoundError:
                return None
        return await self.get(room, pointer["mapping_id"])

    async def booking_room(self, booking_id: str) -> str | None:
        """The room the booking was last mapped in (the cross-room index), or None."""
        async with translate_errors("reading a booking's room"):
            try:
                entity = await self._table.get_entity(BOOKING_ROOMS, encode_key(booking_id))
            except ResourceNotFoundError:
                return None
        room = entity.get("room")
        return room if isinstance(room, str) and room else None

    async def place_booking(self, booking_id: str, room: str) -> None:
        """Record in the cross-room index that the booking is mapped in ``room`` now (idempotent)."""
        entity = {"PartitionKey": BOOKING_ROOMS, "RowKey": encode_key(booking_id), "room": room}
        async with translate_errors("recording a booking's room"):
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def place_bookings(self, booking_ids: Sequence[str], room: str) -> None:
        """``place_booking`` for many bookings: one entity-group transaction per 100 (one partition, the index's)."""
        ids = list(dict.fromkeys(booking_ids))
        for start in range(0, len(ids), TRANSACTION_OPERATIONS):
            operations: list[Any] = [
                ("upsert", {"PartitionKey": BOOKING_ROOMS, "RowKey": encode_key(booking_id), "room": room},
                 {"mode": UpdateMode.REPLACE})
                for booking_id in ids[start:start + TRANSACTION_OPERATIONS]
            ]  # fmt: skip
            async with translate_errors("recording bookings' room"):
                await self._table.submit_transaction(operations)

    async def list_room(self, room: str) -> list[MappingRow]:
        """Every mapping of one room (main rows only)."""
        lower, upper = f"{MAIN}~", f"{MAIN}~\x7f"
        query = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
        params = {"pk": encode_key(room), "lo": lower, "hi": upper}
        async with translate_errors("listing a room's mappings"):
            return [_row_from(e) async for e in self._table.query_entities(query, parameters=params)]

    async def create(self, row: MappingRow) -> MappingRow:
        """Insert a new mapping with its index rows atomically; ConcurrencyError if any exists."""
        operations = [("create", _main_entity(row))] + [("create", e) for e in _index_entities(row)]
        with self._writing(row.room):
            async with translate_errors("creating a mapping"):
                etag = await self._submit(operations)
        created = row.model_copy(update={"etag": etag})
        self._after_write(row.room, written=created)
        return created

    async def create_many(self, rows: Sequence[MappingRow]) -> list[MappingRow | CalsyncError]:
        """``create`` for many new mappings, in as few transactions as fit (see the module docstring).

        Answers per row, in order: the created row (with its etag), or the error its create
        met (ConcurrencyError: it exists already). Rows of different rooms go to separate
        transactions. Never raises for one row; a failure of the store itself (the cross-room
        index, written first) raises for all, and nothing of that room is written.
        """
        results: list[MappingRow | CalsyncError | None] = [None] * len(rows)
        by_room: dict[str, list[int]] = {}
        for index, row in enumerate(rows):
            by_room.setdefault(row.room, []).append(index)
        for room, indexes in by_room.items():
            # the cross-room index of room moves, ahead of the mappings (as the engine writes it)
            await self.place_bookings([rows[i].booking_id for i in indexes if rows[i].booking_id], room)
            chunk: list[int] = []
            size = 0
            for index in indexes:
                ops = 1 + len(_index_entities(rows[index]))
                if size + ops > TRANSACTION_OPERATIONS:
                    await self._create_chunk(rows, chunk, results)
                    chunk, size = [], 0
                chunk.append(index)
                size += ops
            await self._create_chunk(rows, chunk, results)
        for result in results:
            if isinstance(result, MappingRow):
                self._after_write(result.room, written=result)  # outside the room's hints: its memory is forgotten
        return [r if r is not None else StoreError("mapping not written") for r in results]

    async def _create_chunk(self, rows: Sequence[MappingRow], chunk: list[int],
                            results: list[MappingRow | CalsyncError | None]) -> None:  # fmt: skip
        """One transaction for ``chunk``; a row that exists is left out and the rest sent again."""
        while chunk:
            operations: list[Any] = []
            owner: list[int] = []  # which row each operation writes
            for index in chunk:
                entities = [_main_entity(rows[index]), *_index_entities(rows[index])]
                operations += [("create", entity) for entity in entities]
                owner += [index] * len(entities)
            try:
                async with translate_errors("creating mappings"):
                    answers = await self._table.submit_transaction(operations)
            except ConcurrencyError as exc:
                # the failed operation's index (the error message starts with it); a wrong guess only
                # makes that row's caller look again, the others are sent again either way
                failed = getattr(exc.__cause__, "index", 0)
                lost = owner[failed] if isinstance(failed, int) and 0 <= failed < len(owner) else chunk[0]
                results[lost] = ConcurrencyError("lost a race while creating a mapping: the row already exists")
                chunk = [index for index in chunk if index != lost]
                continue
            except CalsyncError as exc:
                for index in chunk:
                    results[index] = exc
                return
            for position, index in enumerate(owner):
                if results[index] is None:  # the first operation of each row is its main row
                    results[index] = rows[index].model_copy(update={"etag": answers[position].get("etag")})
            return

    async def update(self, row: MappingRow, previous: MappingRow) -> MappingRow:
        """Replace ``previous`` by ``row``, guarded by previous.etag; ConcurrencyError on a lost race."""
        if previous.etag is None:
            raise ValueError("update needs the row as read from the store (with its etag)")
        stale = [e for e in _index_entities(previous) if e["RowKey"] not in {i["RowKey"] for i in _index_entities(row)}]
        fresh = [e for e in _index_entities(row) if e["RowKey"] not in {i["RowKey"] for i in _index_entities(previous)}]
        guard = {"etag": previous.etag, "match_condition": MatchConditions.IfNotModified}
        with self._writing(row.room):
            async with translate_errors("updating a mapping"):
                if not stale and not fresh:
                    result = await self._table.update_entity(_main_entity(row), mode=UpdateMode.REPLACE, **guard)
                    etag = result.get("etag")
                else:
                    operations: list[Any] = [("update", _main_entity(row), {"mode": UpdateMode.REPLACE, **guard})]
                    operations += [("delete", e) for e in stale] + [("create", e) for e in fresh]
                    etag = await self._submit(operations)
        updated = row.model_copy(update={"etag": etag})
        self._after_write(row.room, written=updated, replaced=previous)
        return updated

    async def delete(self, row: MappingRow) -> None:
        """Remove a mapping and its index rows, guarded by the row's etag."""
        guard = {"etag": row.etag, "match_condition": MatchConditions.IfNotModified} if row.etag else {}
        operations: list[Any] = [("delete", _main_entity(row), guard)] + [("delete", e) for e in _index_entities(row)]
        with self._writing(row.room):
            async with translate_errors("deleting a mapping"):
                await self._submit(operations)
        self._after_write(row.room, replaced=row)

    def _after_write(self, room: str, *, written: MappingRow | None = None, replaced: MappingRow | None = None) -> None:
        """Keep the room's memory (and the record of versions written) true to a write that succeeded."""
        if written is not None and self._own_versions is not None:
            self._own_versions.record(written)
        if self._memory is None:
            return
        memory = self._memory.active(room)
        if memory is None:  # written outside the room's hints (a command, a test): nothing remembered holds
            self._memory.forget(room)
            return
        if replaced is not None:
            memory.forget(replaced)
        if written is not None and written.etag:
            memory.remember(written)
        elif written is not None:  # without its ETag it could not guard the next write: read it again next time
            memory.forget(written)

    async def _submit(self, operations: list[Any]) -> str | None:
        """Run one entity-group transaction; returns the new etag of the first (main) row."""
        results = await self._table.submit_transaction(operations)
        return results[0].get("etag") if results else None
