"""The engine's session memory on real Azurite: what it saves, and that it never answers with a stale row.

A row remembered during a room's hints answers the next hint's lookup without a table read;
after the session may have moved (the room quiet longer than SESSION_MEMORY_SECONDS), after
a failed write, and after a write made outside the room's hints, the table is read again.
"""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.errors import ConcurrencyError
from calsync.model import Side
from calsync.model.mapping import MappingRow, mapping_id_for
from calsync.store.client import TableStore
from calsync.store.mappings import MappingStore
from calsync.store.problems import ProblemStore
from calsync.store.session_memory import SESSION_MEMORY_SECONDS, SessionMemory

pytestmark = pytest.mark.azurite

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
ROOM = "room-m"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def mapping(outlook_hash: str = "h1") -> MappingRow:
    return MappingRow(room=ROOM, mapping_id=mapping_id_for(Side.BOOKING, "B-1"), origin=Side.BOOKING,
                      outlook_id="AAMk/+=", booking_id="B-1", outlook_hash=outlook_hash, booking_hash="b1",
                      created_at=NOW, updated_at=NOW)  # fmt: skip


def counting(store: MappingStore) -> list[object]:
    """Count the store's point reads of the table."""
    reads: list[object] = []
    table_get = store._table.get_entity

    async def counted(*args: object, **kwargs: object) -> object:
        reads.append(args)
        return await table_get(*args, **kwargs)

    store._table.get_entity = counted  # type: ignore[method-assign]
    return reads


async def test_the_echo_of_a_write_made_in_the_session_reads_no_table(tables: TableStore) -> None:
    memory = SessionMemory(monotonic=Clock())
    store = MappingStore(tables, memory=memory)
    reads = counting(store)
    with memory.hint(ROOM):
        written = await store.create(mapping())
    with memory.hint(ROOM):  # the next hint of the room: its own write's echo, found by either id
        assert await store.find(ROOM, Side.OUTLOOK, "AAMk/+=", recent=True) == written
        assert await store.find(ROOM, Side.BOOKING, "B-1", recent=True) == written
        updated = await store.update(written.model_copy(update={"outlook_hash": "h2"}), written)  # its ETag holds
    with memory.hint(ROOM):
        assert (await store.find(ROOM, Side.OUTLOOK, "AAMk/+=", recent=True)).outlook_hash == "h2"  # type: ignore[union-attr]
    assert reads == []
    assert await MappingStore(tables).find(ROOM, Side.OUTLOOK, "AAMk/+=") == updated


async def test_a_room_quiet_for_longer_than_the_session_idle_time_is_read_again(tables: TableStore) -> None:
    clock = Clock()
    session = SessionMemory(monotonic=clock)
    store, other_instance = MappingStore(tables, memory=session), MappingStore(tables)
    with session.hint(ROOM):
        written = await store.create(mapping())
    # the session may have moved to another instance, which changed the row
    await other_instance.update(written.model_copy(update={"outlook_hash": "h-elsewhere"}), written)
    clock.now += SESSION_MEMORY_SECONDS + 0.1
    with session.hint(ROOM):
        found = await store.find(ROOM, Side.OUTLOOK, "AAMk/+=", recent=True)
    assert found is not None and found.outlook_hash == "h-elsewhere"


async def test_a_failed_write_forgets_the_room(tables: TableStore) -> None:
    session = SessionMemory(monotonic=Clock())
    store, other = MappingStore(tables, memory=session), MappingStore(tables)
    with session.hint(ROOM):
        written = await store.create(mapping())
    await other.update(written.model_copy(update={"outlook_hash": "h-other"}), written)  # behind this store's back
    with session.hint(ROOM), pytest.raises(ConcurrencyError):
        await store.update(written.model_copy(update={"outlook_hash": "h-mine"}), written)
    with session.hint(ROOM):  # the remembered row lost its race: the table answers
        found = await store.find(ROOM, Side.OUTLOOK, "AAMk/+=", recent=True)
    assert found is not None and found.outlook_hash == "h-other"


async def test_a_hint_that_fails_forgets_the_room(tables: TableStore) -> None:
    session = SessionMemory(monotonic=Clock())
    store = MappingStore(tables, memory=session)
    with session.hint(ROOM):
        await store.create(mapping())
    with pytest.raises(RuntimeError), session.hint(ROOM):
        raise RuntimeError("a side failed after the mapping was read")
    assert session.active(ROOM) is None and session.recent(ROOM) is None


async def test_a_write_outside_the_rooms_hints_is_not_answered_from_memory(tables: TableStore) -> None:
    session = SessionMemory(monotonic=Clock())
    store = MappingStore(tables, memory=session)
    with session.hint(ROOM):
        written = await store.create(mapping())
    await store.delete(written)  # an operator's command on the same store, between two hints
    with session.hint(ROOM):
        assert await store.find(ROOM, Side.OUTLOOK, "AAMk/+=", recent=True) is None


async def test_without_recent_the_table_is_read(tables: TableStore) -> None:
    session = SessionMemory(monotonic=Clock())
    store, other = MappingStore(tables, memory=session), MappingStore(tables)
    with session.hint(ROOM):
        written = await store.create(mapping())
        await other.delete(written)
        # a decision that deletes (its source is gone) never takes the remembered row
        assert await store.find(ROOM, Side.OUTLOOK, "AAMk/+=") is None


async def test_problems_are_resolved_only_where_one_is_open(tables: TableStore) -> None:
    session = SessionMemory(monotonic=Clock())
    problems = ProblemStore(tables, memory=session)
    await ProblemStore(tables).record(ROOM, Side.BOOKING, "B-9", error_type="UnsupportedRecurrence",
                                      message="RRULE", now=NOW)  # fmt: skip
    deletes: list[object] = []
    table_delete = problems._table.delete_entity

    async def counted(*args: object, **kwargs: object) -> None:
        deletes.append(args)
        await table_delete(*args, **kwargs)

    problems._table.delete_entity = counted  # type: ignore[method-assign]
    with session.hint(ROOM):
        pass
    await problems.resolve(ROOM, Side.BOOKING, "B-1")  # no problem: nothing deleted
    await problems.resolve(ROOM, Side.OUTLOOK, "AAMk")
    assert deletes == []
    await problems.resolve(ROOM, Side.BOOKING, "B-9")  # the open one is deleted
    assert len(deletes) == 1 and await ProblemStore(tables).list(ROOM) == []


async def test_a_table_read_that_disagrees_with_memory_forgets_the_room(tables: TableStore) -> None:
    session = SessionMemory(monotonic=Clock())
    store, operator = MappingStore(tables, memory=session), MappingStore(tables)
    with session.hint(ROOM):
        written = await store.create(mapping())
    await operator.delete(written)  # the table wiped behind the worker's back (a restore, an operator)
    with session.hint(ROOM):
        assert store.remembered(ROOM, Side.BOOKING, "B-1") == written
        assert await store.find(ROOM, Side.BOOKING, "B-1") is None  # a reconcile's hint reads the table ...
        assert store.remembered(ROOM, Side.OUTLOOK, "AAMk/+=") is None  # ... and nothing of the room is trusted
        assert await store.find(ROOM, Side.OUTLOOK, "AAMk/+=", recent=True) is None
