"""Cursors, subscriptions, conflicts and room holds on real Azurite."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.model import Side
from calsync.settings import ConflictPolicy
from calsync.store.client import TableStore
from calsync.store.records import (
    ConflictRecord,
    ConflictStore,
    Cursor,
    CursorKind,
    CursorStore,
    RoomHold,
    RoomHoldStore,
    SubscriptionRecord,
    SubscriptionStore,
)

pytestmark = pytest.mark.azurite

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
DELTA_LINK = (
    "https://graph.microsoft.com/v1.0/users/room-a@contoso.com/calendarView/delta?"
    "$deltatoken=R0usmcCM996atia_s4dUz-8bpXoX9JuNlN9_-6Rre5pF1NJGZ4Kv6h1zp1Sv5Q" * 20
)


async def test_cursor_keeps_the_whole_delta_link(tables: TableStore) -> None:
    store = CursorStore(tables)
    await store.put(Cursor(kind=CursorKind.GRAPH_DELTA, room="room-a", value=DELTA_LINK, updated_at=NOW))
    assert (await store.get(CursorKind.GRAPH_DELTA, "room-a")).value == DELTA_LINK
    assert await store.get(CursorKind.BOOKING_FEED, "room-a") is None
    await store.delete(CursorKind.GRAPH_DELTA, "room-a")
    assert await store.get(CursorKind.GRAPH_DELTA, "room-a") is None


async def test_subscriptions_round_trip(tables: TableStore) -> None:
    store = SubscriptionStore(tables)
    record = SubscriptionRecord(
        subscription_id="7f105c7d-2dc5-4530-97cd-4e7ae6534c07", room="room-a",
        resource="/users/room-a@contoso.com/events", expires_at=NOW + dt.timedelta(days=2),
    )  # fmt: skip
    await store.put(record)
    assert await store.get(record.subscription_id) == record
    assert await store.list() == [record]
    await store.delete(record.subscription_id)
    assert await store.list() == []


async def test_conflicts_list_newest_first_and_filter_open(tables: TableStore) -> None:
    store = ConflictStore(tables)
    for minutes, resolved in ((0, True), (5, False)):
        await store.add(ConflictRecord(
            room="room-a", detected_at=NOW + dt.timedelta(minutes=minutes), policy=ConflictPolicy.FIRST_COME,
            winner_side=Side.OUTLOOK, winner_id="O/1", loser_side=Side.BOOKING, loser_id=f"B{minutes}",
            reason="room already booked", resolved=resolved,
        ))  # fmt: skip
    listed = await store.list("room-a")
    assert [c.loser_id for c in listed] == ["B5", "B0"]
    assert listed[0].policy is ConflictPolicy.FIRST_COME
    assert [c.loser_id for c in await store.list("room-a", open_only=True)] == ["B5"]


async def test_room_hold_until_released(tables: TableStore) -> None:
    store = RoomHoldStore(tables)
    hold = RoomHold(room="room-a", side=Side.BOOKING, missing=40, mapped=50, reason="40 of 50 gone", since=NOW)
    await store.put(hold)
    assert await store.get("room-a") == hold
    assert await store.list() == [hold]
    await store.release("room-a")
    assert await store.get("room-a") is None


async def test_the_engines_hold_cache_remembers_only_that_a_room_has_no_hold(tables: TableStore) -> None:
    now = [100.0]
    cached = RoomHoldStore(tables, cache_seconds=5.0, monotonic=lambda: now[0])
    operator = RoomHoldStore(tables)
    hold = RoomHold(room="room-c", side=Side.BOOKING, missing=8, mapped=10, reason="wiped", since=NOW)
    assert await cached.get("room-c") is None
    await operator.put(hold)  # another writer: seen once the remembered "no hold" expires
    assert await cached.get("room-c") is None
    now[0] += 5.0
    assert await cached.get("room-c") == hold
    await operator.release("room-c")  # a hold that exists is read every time: a discard shows at once
    assert await cached.get("room-c") is None
    await cached.put(hold)  # the engine's own write is seen at once
    assert await cached.get("room-c") == hold
