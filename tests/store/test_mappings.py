"""Mapping rows on real Azurite: index lookups by either side's id, hostile ids, lost races."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.errors import ConcurrencyError
from calsync.model import Side
from calsync.model.mapping import MappingRow, likely_mapping_id, mapping_id_for
from calsync.store.client import TableStore
from calsync.store.mappings import MappingStore
from tests.store.test_keys import HOSTILE_IDS

pytestmark = pytest.mark.azurite

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def row(outlook_id: str = "AAMk/+x==", booking_id: str = "B-1", room: str = "room-a") -> MappingRow:
    return MappingRow(
        room=room,
        mapping_id=mapping_id_for(Side.OUTLOOK, outlook_id),
        origin=Side.OUTLOOK,
        outlook_id=outlook_id,
        booking_id=booking_id,
        outlook_hash="h-o",
        booking_hash="h-b",
        created_at=NOW,
        updated_at=NOW,
    )


async def test_created_mapping_is_found_from_either_side(tables: TableStore) -> None:
    store = MappingStore(tables)
    created = await store.create(row())
    assert created.etag
    by_outlook = await store.find("room-a", Side.OUTLOOK, "AAMk/+x==")
    by_booking = await store.find("room-a", Side.BOOKING, "B-1")
    assert by_outlook == by_booking
    assert by_outlook.booking_hash == "h-b" and by_outlook.created_at == NOW
    assert await store.find("room-b", Side.BOOKING, "B-1") is None  # rooms are separate partitions


@pytest.mark.parametrize("hostile", HOSTILE_IDS)
async def test_hostile_ids_round_trip_through_the_store(tables: TableStore, hostile: str) -> None:
    store = MappingStore(tables)
    await store.create(row(outlook_id=hostile, booking_id=hostile, room=hostile))
    found = await store.find(hostile, Side.BOOKING, hostile)
    assert found is not None and found.outlook_id == hostile and found.room == hostile
    assert [r.outlook_id for r in await store.list_room(hostile)] == [hostile]


async def test_second_create_of_same_mapping_is_a_lost_race(tables: TableStore) -> None:
    store = MappingStore(tables)
    await store.create(row())
    with pytest.raises(ConcurrencyError):
        await store.create(row())


async def test_update_with_stale_etag_raises_concurrency_error(tables: TableStore) -> None:
    store = MappingStore(tables)
    await store.create(row())
    first_reader = await store.find("room-a", Side.OUTLOOK, "AAMk/+x==")
    second_reader = await store.find("room-a", Side.OUTLOOK, "AAMk/+x==")
    await store.update(first_reader.model_copy(update={"outlook_hash": "new"}), first_reader)
    with pytest.raises(ConcurrencyError, match="changed since it was read"):
        await store.update(second_reader.model_copy(update={"booking_hash": "other"}), second_reader)
    stored = await store.find("room-a", Side.OUTLOOK, "AAMk/+x==")
    assert stored.outlook_hash == "new" and stored.booking_hash == "h-b"


async def test_changed_id_moves_the_index_row(tables: TableStore) -> None:
    store = MappingStore(tables)
    created = await store.create(row())
    await store.update(created.model_copy(update={"booking_id": "B-2"}), created)
    assert await store.find("room-a", Side.BOOKING, "B-1") is None
    assert (await store.find("room-a", Side.BOOKING, "B-2")).outlook_id == "AAMk/+x=="


async def test_delete_removes_main_and_index_rows(tables: TableStore) -> None:
    store = MappingStore(tables)
    created = await store.create(row())
    await store.delete(created)
    assert await store.find("room-a", Side.OUTLOOK, "AAMk/+x==") is None
    assert await store.list_room("room-a") == []


async def test_list_room_returns_only_main_rows(tables: TableStore) -> None:
    store = MappingStore(tables)
    for n in range(5):
        await store.create(row(outlook_id=f"O/{n}", booking_id=f"B{n}"))
    rows = await store.list_room("room-a")
    assert sorted(r.booking_id for r in rows) == [f"B{n}" for n in range(5)]


def counted_reads(store: MappingStore) -> list[tuple[object, ...]]:
    """The store's table reads by key from now on, as they are made (each still reaches the table)."""
    reads: list[tuple[object, ...]] = []
    table_get = store._table.get_entity

    async def counted(*args: object, **kwargs: object) -> object:
        reads.append(args)
        return await table_get(*args, **kwargs)

    store._table.get_entity = counted  # type: ignore[method-assign]
    return reads


async def test_find_reads_the_expected_main_row_first_and_falls_back_to_the_index(tables: TableStore) -> None:
    store = MappingStore(tables)
    row = await store.create(MappingRow(room="room-e", mapping_id=mapping_id_for(Side.BOOKING, "B-1"),
                                        origin=Side.BOOKING, outlook_id="AAMk/+=", booking_id="B-1",
                                        created_at=NOW, updated_at=NOW))  # fmt: skip
    reads = counted_reads(store)
    # a stamped Outlook copy: its origin's main row, one read
    likely = likely_mapping_id(Side.OUTLOOK, "AAMk/+=", "B-1")
    assert await store.find("room-e", Side.OUTLOOK, "AAMk/+=", likely=likely) == row
    assert len(reads) == 1
    # a wrong guess (an adopted row, say) costs a read and finds the same row through the index
    likely = likely_mapping_id(Side.OUTLOOK, "AAMk/+=", None)
    assert await store.find("room-e", Side.OUTLOOK, "AAMk/+=", likely=likely) == row
    assert len(reads) == 4
    assert await store.find("room-e", Side.BOOKING, "B-2", likely=likely_mapping_id(Side.BOOKING, "B-2", None)) is None


async def test_many_new_mappings_are_written_in_transactions_and_found_like_single_ones(tables: TableStore) -> None:
    store = MappingStore(tables)
    rows = [row(outlook_id=f"AAMk/{i}+==", booking_id=f"B-{i}") for i in range(70)]  # three transactions
    created = await store.create_many([*rows, row(outlook_id="other", booking_id="B-x", room="room-b")])
    assert all(isinstance(r, MappingRow) and r.etag for r in created)
    assert len(await store.list_room("room-a")) == 70 and len(await store.list_room("room-b")) == 1
    found = await store.find("room-a", Side.BOOKING, "B-42")
    assert found is not None and found.outlook_id == "AAMk/42+==" and found.etag == created[42].etag
    # and a booking moved to another room later finds where it was mapped (the cross-room index of room moves)
    assert await store.booking_room("B-42") == "room-a" and await store.booking_room("B-x") == "room-b"


async def test_a_mapping_that_exists_fails_alone_and_the_others_of_its_transaction_are_written(
    tables: TableStore,
) -> None:
    store = MappingStore(tables)
    await store.create(row(outlook_id="o-5", booking_id="B-5"))
    results = await store.create_many([row(outlook_id=f"o-{i}", booking_id=f"B-{i}") for i in range(10)])
    assert [i for i, r in enumerate(results) if isinstance(r, ConcurrencyError)] == [5]
    assert len(await store.list_room("room-a")) == 10


async def test_without_a_likely_row_find_reads_only_the_index_and_finds_a_copy_through_it(tables: TableStore) -> None:
    # a new item's hint (created) asks so: a new item is mapped nowhere, or as a copy under its original's row
    store = MappingStore(tables)
    row = await store.create(MappingRow(room="room-f", mapping_id=mapping_id_for(Side.OUTLOOK, "AAMk/+x"),
                                        origin=Side.OUTLOOK, outlook_id="AAMk/+x", booking_id="B-9",
                                        created_at=NOW, updated_at=NOW))  # fmt: skip
    reads = counted_reads(store)
    assert await store.find("room-f", Side.BOOKING, "B-new") is None
    assert len(reads) == 1  # the index row only, not the main row first
    assert await store.find("room-f", Side.BOOKING, "B-9") == row  # calsync's copy: index, then its original's row
    assert len(reads) == 3
