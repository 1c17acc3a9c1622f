"""`calsync rooms propose|holds|release`: proposing ROOMS from both emulators, and answering room holds."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from calsync.booking.protocol import BookingRoom
from calsync.model.booking import Side
from calsync.operations.rooms import propose_rooms, slugify
from calsync.outlook.graph_client import RoomInfo
from calsync.settings import Room
from calsync.store.client import TableStore
from calsync.store.records import RoomHold, RoomHoldStore
from devstack.booking import BookingEmulator, EmulatorRoom
from devstack.graph import GraphEmulator
from tests.cli.helpers import invoke, rooms_json

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
API_KEY = "cli-test-booking-key"


# --- propose: the pure matching ---------------------------------------------------------------------


def test_slugify_makes_keys_the_settings_accept() -> None:
    assert slugify("Room.Atlas") == "room.atlas"
    assert slugify("Sälen 4 (Nord)") == "salen-4-nord"
    assert slugify("---") == "room"
    assert len(slugify("x" * 300)) <= 96
    for text in ("Room.Atlas", "Sälen 4 (Nord)", "---", "a+b@c"):
        Room(key=slugify(text), mailbox="a@b.c", booking_room_id="1")  # validates the key pattern


def test_propose_matches_by_email_case_insensitively_and_keys_are_unique() -> None:
    graph = [RoomInfo("Atlas@Contoso.example", "Atlas"), RoomInfo("atlas@fabrikam.example", "Atlas (F)"),
             RoomInfo("boreas@contoso.example", None)]  # fmt: skip
    booking = [BookingRoom(id="R-1", name="Atlas", email="atlas@contoso.EXAMPLE"),
               BookingRoom(id="R-2", name="Atlas F", email="ATLAS@fabrikam.example"),
               BookingRoom(id="R-3", name="Boreas", email="boreas@contoso.example")]  # fmt: skip
    proposal = propose_rooms(graph, booking)
    assert [(m.key, m.mailbox, m.booking_room_id) for m in proposal.matches] == [
        ("atlas", "Atlas@Contoso.example", "R-1"),
        ("atlas-2", "atlas@fabrikam.example", "R-2"),
        ("boreas", "boreas@contoso.example", "R-3"),
    ]
    assert proposal.unmatched == []
    assert [room["name"] for room in json.loads(proposal.rooms_json())] == ["Atlas", "Atlas (F)", "Boreas"]


def test_propose_keeps_configured_keys_and_never_reuses_them() -> None:
    configured = [Room(key="big-one", mailbox="atlas@contoso.example", booking_room_id="R-1"),
                  Room(key="boreas", mailbox="old-boreas@contoso.example", booking_room_id="R-9")]  # fmt: skip
    graph = [RoomInfo("ATLAS@contoso.example", "Atlas"), RoomInfo("boreas@contoso.example", "Boreas")]
    booking = [BookingRoom(id="R-1", name="Atlas", email="atlas@contoso.example"),
               BookingRoom(id="R-3", name="Boreas", email="boreas@contoso.example")]  # fmt: skip
    proposal = propose_rooms(graph, booking, configured)
    assert [(m.key, m.configured) for m in proposal.matches] == [("big-one", True), ("boreas-2", False)]


def test_propose_lists_what_it_cannot_pair_and_why() -> None:
    graph = [RoomInfo("lonely@contoso.example", "Lonely"), RoomInfo("twin@contoso.example", "Twin")]
    booking = [BookingRoom(id="R-1", name="No mail"), BookingRoom(id="R-2", name="Elsewhere", email="else@x.example"),
               BookingRoom(id="R-3", name="Twin 1", email="twin@contoso.example"),
               BookingRoom(id="R-4", name="Twin 2", email="Twin@contoso.example")]  # fmt: skip
    proposal = propose_rooms(graph, booking)
    assert proposal.matches == []
    assert [(u.side, u.email or u.booking_room_id, u.why) for u in proposal.unmatched] == [
        ("outlook", "lonely@contoso.example", "no booking-system room has this e-mail"),
        ("outlook", "twin@contoso.example", "several booking-system rooms have this e-mail"),
        ("booking", "R-1", "has no e-mail in the booking system"),
        ("booking", "else@x.example", "no Graph room has this e-mail"),
        ("booking", "twin@contoso.example", "several booking-system rooms have this e-mail"),
        ("booking", "Twin@contoso.example", "several booking-system rooms have this e-mail"),
    ]
    assert proposal.rooms_json() == "[]"


# --- propose: the command against both emulators ------------------------------------------------------


@pytest.fixture(scope="module")
def graph_rooms() -> Iterator[GraphEmulator]:
    with GraphEmulator() as emulator:
        emulator.add_room("room-a@contoso.example", "Atlas")
        emulator.add_room("Conf.Borealis@contoso.example", "Borealis")
        emulator.add_room("only-in-outlook@contoso.example", "Hidden")
        yield emulator


@pytest.fixture(scope="module")
def booking_rooms() -> Iterator[BookingEmulator]:
    rooms = [EmulatorRoom("R-100", "Atlas", "ROOM-A@contoso.example"),
             EmulatorRoom("R-200", "Borealis", "conf.borealis@contoso.example"),
             EmulatorRoom("R-300", "Storage", None)]  # fmt: skip
    with BookingEmulator(rooms=rooms, api_key=API_KEY) as emulator:
        yield emulator


@pytest.fixture
def propose_env(cli_env, monkeypatch, graph_rooms: GraphEmulator, booking_rooms: BookingEmulator) -> None:
    monkeypatch.setenv("GRAPH_BASE_URL", graph_rooms.base_url)
    monkeypatch.setenv("BOOKING_BASE_URL", booking_rooms.base_url)
    monkeypatch.setenv("BOOKING_API_KEY", API_KEY)
    monkeypatch.setenv("ROOMS", "[]")


@pytest.mark.emulator
async def test_rooms_propose_prints_tables_and_rooms_json(propose_env) -> None:
    result = await invoke("rooms", "propose")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Matched by e-mail" in out and "Unmatched" in out
    assert "only-in-outlook@contoso.example" in out and "no booking-system room has this e-mail" in out
    assert "R-300" in out and "has no e-mail in the booking system" in out
    rooms = json.loads(out.strip().splitlines()[-1])  # the last line is the setting's value
    assert rooms == [
        {"key": "conf.borealis", "mailbox": "Conf.Borealis@contoso.example", "booking_room_id": "R-200",
         "name": "Borealis"},
        {"key": "room-a", "mailbox": "room-a@contoso.example", "booking_room_id": "R-100", "name": "Atlas"},
    ]  # fmt: skip
    assert API_KEY not in result.output


@pytest.mark.emulator
async def test_rooms_propose_json_is_a_valid_rooms_setting(propose_env, monkeypatch) -> None:
    result = await invoke("rooms", "propose", "--json")
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("ROOMS", result.stdout.strip())
    assert (await invoke("status")).exit_code == 0  # the settings accept the proposal as it is


@pytest.mark.emulator
async def test_rooms_propose_with_a_wrong_api_key_is_one_line(propose_env, monkeypatch) -> None:
    monkeypatch.setenv("BOOKING_API_KEY", "wrong-key-not-to-be-printed")
    result = await invoke("rooms", "propose")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert "wrong-key-not-to-be-printed" not in result.output


# --- holds and release ------------------------------------------------------------------------------------


def hold(room: str = "room-a", *, confirmed: bool = False) -> RoomHold:
    return RoomHold(room=room, side=Side.BOOKING, missing=12, mapped=12, since=NOW, confirmed=confirmed,
                    reason="12 of 12 synced bookings vanished from booking within minutes")  # fmt: skip


@pytest.mark.azurite
async def test_rooms_holds_lists_stopped_and_confirmed_rooms(cli_env, tables: TableStore) -> None:
    assert "No room holds" in (await invoke("rooms", "holds")).stdout
    holds = RoomHoldStore(tables)
    await holds.put(hold("room-a"))
    await holds.put(hold("room-b", confirmed=True))
    result = await invoke("rooms", "holds")
    assert result.exit_code == 0
    [row_a] = [line for line in result.stdout.splitlines() if "room-a" in line]
    [row_b] = [line for line in result.stdout.splitlines() if "room-b" in line]
    assert "stopped" in row_a and "12 / 12" in row_a and "2026-11-20 09:30 UTC" in row_a and "vanished" in row_a
    assert "confirmed (guard off)" in row_b


@pytest.mark.azurite
async def test_rooms_release_confirms_the_hold(cli_env, tables: TableStore) -> None:
    holds = RoomHoldStore(tables)
    await holds.put(hold("room-a"))
    result = await invoke("rooms", "release", "room-a")
    assert result.exit_code == 0, result.output
    assert "Room room-a released: the 12 deletion(s) from booking go through" in result.stdout
    assert "calsync dlq replay --room room-a" in result.stdout
    assert "re-arms by itself; re-arm it sooner with `calsync rooms release room-a --discard`" in " ".join(
        result.stdout.split()
    )
    released = await holds.get("room-a")
    assert released.confirmed and released.confirmed_at is not None
    assert released.model_copy(update={"confirmed_at": None}) == hold("room-a", confirmed=True)

    again = await invoke("rooms", "release", "room-a")
    assert again.exit_code == 0 and "already released" in again.stdout


@pytest.mark.azurite
async def test_rooms_release_discard_removes_the_hold_unconfirmed(cli_env, tables: TableStore) -> None:
    holds = RoomHoldStore(tables)
    await holds.put(hold("room-b"))
    result = await invoke("rooms", "release", "room-b", "--discard")
    assert result.exit_code == 0, result.output
    assert "discarded" in result.stdout
    assert await holds.get("room-b") is None


@pytest.mark.azurite
async def test_rooms_release_discard_of_a_confirmed_hold_rearms_the_guard(cli_env, tables: TableStore) -> None:
    holds = RoomHoldStore(tables)
    await holds.put(hold("room-a", confirmed=True))
    result = await invoke("rooms", "release", "room-a", "--discard")
    assert result.exit_code == 0, result.output
    assert "guard watches the room again" in result.stdout
    assert await holds.get("room-a") is None


@pytest.mark.azurite
async def test_rooms_release_of_a_removed_room_still_finds_its_hold(cli_env, tables: TableStore, monkeypatch) -> None:
    await RoomHoldStore(tables).put(hold("room-gone"))
    monkeypatch.setenv("ROOMS", rooms_json())
    result = await invoke("rooms", "release", "room-gone", "--discard")
    assert result.exit_code == 0, result.output


@pytest.mark.azurite
@pytest.mark.parametrize(
    ("room", "message"),
    [
        ("room-x", "error: unknown room 'room-x'; configured rooms: room-a, room-b"),
        ("room-a", "error: room 'room-a' is not on hold; nothing to release"),
    ],
)
async def test_rooms_release_refuses_what_it_cannot_release(cli_env, room: str, message: str) -> None:
    for extra in ([], ["--discard"]):
        result = await invoke("rooms", "release", room, *extra)
        assert result.exit_code == 2
        assert result.stderr.strip() == message
