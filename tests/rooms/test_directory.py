"""The rooms registry on Azurite: seed, registry rows, lookups, the lifecycle and the cache."""

from __future__ import annotations

import pytest

from calsync.errors import ValidationError
from calsync.model.hint import HintReason
from calsync.rooms.csv_rooms import parse_rooms_csv
from calsync.rooms.directory import RoomDirectory
from calsync.rooms.state import RoomState, admits
from calsync.settings import Room
from calsync.store.client import TableStore
from calsync.store.rooms import RoomRecord, RoomStore

pytestmark = pytest.mark.azurite

SEED = (Room(key="room-a", mailbox="room-a@contoso.example", booking_room_id="R-100"),)
HALL = Room(key="hall", mailbox="Hall@contoso.example", booking_room_id="R-300", name="Hall")


@pytest.fixture
async def tables(settings):
    async with TableStore.from_settings(settings) as store:
        await store.ensure_tables()
        yield store


async def test_seed_rooms_are_live_and_registry_rows_win(tables):
    directory = RoomDirectory(RoomStore(tables), SEED)
    seeded = await directory.get("room-a")
    assert seeded is not None and seeded.state is RoomState.LIVE and seeded.origin == "setting"

    await directory.put(RoomRecord.from_room(HALL, RoomState.PENDING))
    paused = await directory.set_state("room-a", RoomState.PAUSED, note="works")
    assert paused.origin == "registry"
    assert [(r.key, r.state) for r in await directory.list()] == [("hall", RoomState.PENDING),
                                                                 ("room-a", RoomState.PAUSED)]  # fmt: skip
    assert (await directory.find_by_mailbox("hall@CONTOSO.example")).key == "hall"
    assert (await directory.find_by_booking_room("R-100")).key == "room-a"
    assert await directory.find_by_booking_room("R-999") is None


async def test_uniqueness_lifecycle_and_remove(tables):
    directory = RoomDirectory(RoomStore(tables), SEED)
    await directory.put(RoomRecord.from_room(HALL, RoomState.PENDING))
    with pytest.raises(ValidationError, match="already belongs to room hall"):
        await directory.put(RoomRecord.from_room(HALL.model_copy(update={"key": "other"}), RoomState.PENDING))
    with pytest.raises(ValidationError, match="cannot become live"):
        await directory.set_state("hall", RoomState.LIVE)
    await directory.set_state("hall", RoomState.ONBOARDING)
    assert (await directory.set_state("hall", RoomState.LIVE)).state is RoomState.LIVE
    with pytest.raises(ValidationError, match="ROOMS setting"):
        await directory.remove("room-a")
    await directory.remove("hall")
    assert await directory.get("hall") is None


async def test_reads_are_cached_for_the_ttl(tables):
    now = [0.0]
    writer = RoomDirectory(RoomStore(tables))
    reader = RoomDirectory(RoomStore(tables), ttl=30, monotonic=lambda: now[0])
    assert await reader.get("hall") is None
    await writer.put(RoomRecord.from_room(HALL, RoomState.PENDING))
    assert await reader.get("hall") is None  # another process's write: seen after the TTL
    now[0] = 31
    assert (await reader.get("hall")).state is RoomState.PENDING


def test_only_live_rooms_admit_hints_and_onboarding_admits_its_own():
    assert admits(RoomState.LIVE, HintReason.WEBHOOK)
    assert not admits(RoomState.PENDING, HintReason.WEBHOOK)
    assert not admits(RoomState.PENDING, HintReason.BACKFILL)
    assert not admits(RoomState.PAUSED, HintReason.RECONCILE)
    assert admits(RoomState.ONBOARDING, HintReason.BACKFILL)
    assert not admits(RoomState.ONBOARDING, HintReason.WEBHOOK)


def test_rooms_csv():
    rooms = parse_rooms_csv("key,mailbox,booking_room_id,name\n,Room-B@contoso.example,R-200,Borealis\n"
                            "atlas,room-a@contoso.example,R-100,\n")  # fmt: skip
    assert [(r.key, r.booking_room_id, r.name) for r in rooms] == [("room-b", "R-200", "Borealis"),
                                                                   ("atlas", "R-100", None)]  # fmt: skip
    with pytest.raises(ValidationError, match=r"line 3: booking_room_id R-1 already on line 2"):
        parse_rooms_csv("mailbox,booking_room_id\na@x.example,R-1\nb@x.example,R-1\n")
    with pytest.raises(ValidationError, match="needs the column"):
        parse_rooms_csv("mailbox\na@x.example\n")
