"""`calsync status` against real Azurite tables, and how the command fails (one line, exit code, no secret)."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.model.booking import Side
from calsync.model.mapping import MappingRow
from calsync.operations.status import latest_expiry_by_room
from calsync.settings import ConflictPolicy
from calsync.store.client import TableStore
from calsync.store.mappings import MappingStore
from calsync.store.problems import ProblemStore
from calsync.store.records import (
    ConflictRecord,
    ConflictStore,
    RoomHold,
    RoomHoldStore,
    SubscriptionRecord,
    SubscriptionStore,
)
from tests.cli.helpers import invoke

pytestmark = pytest.mark.azurite

NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


def mapping(room: str, n: int, updated_at: dt.datetime) -> MappingRow:
    return MappingRow(room=room, mapping_id=f"m{n}", origin=Side.BOOKING, booking_id=f"B-{n}", outlook_id=f"AAMk/{n}+=",
                      created_at=updated_at - dt.timedelta(days=1), updated_at=updated_at)  # fmt: skip


def subscription(room: str, sub_id: str, expires_at: dt.datetime) -> SubscriptionRecord:
    return SubscriptionRecord(subscription_id=sub_id, room=room, resource=f"users/{room}/events", expires_at=expires_at)


def conflict(room: str, loser_id: str, *, resolved: bool) -> ConflictRecord:
    return ConflictRecord(room=room, detected_at=NOW, policy=ConflictPolicy.FIRST_COME, winner_side=Side.OUTLOOK,
                          winner_id="o1", loser_side=Side.BOOKING, loser_id=loser_id, reason="overlap",
                          resolved=resolved)  # fmt: skip


async def test_status_shows_each_room_and_a_stopped_room_in_red(cli_env, tables: TableStore) -> None:
    mappings = MappingStore(tables)
    for n, age in enumerate((5, 90, 30)):
        await mappings.create(mapping("room-a", n, NOW - dt.timedelta(minutes=age)))
    await mappings.create(mapping("room-b", 9, NOW - dt.timedelta(days=2)))
    subscriptions = SubscriptionStore(tables)
    await subscriptions.put(subscription("room-a", "sub-old", NOW + dt.timedelta(hours=1)))
    await subscriptions.put(subscription("room-a", "sub-new", NOW + dt.timedelta(days=2, hours=1)))
    conflicts = ConflictStore(tables)
    await conflicts.add(conflict("room-a", "b1", resolved=False))
    await conflicts.add(conflict("room-a", "b1", resolved=False))  # recorded again (a redelivered hint): one row
    await conflicts.add(conflict("room-a", "b2", resolved=False))
    await conflicts.add(conflict("room-a", "b3", resolved=True))
    await RoomHoldStore(tables).put(RoomHold(room="room-b", side=Side.BOOKING, missing=8, mapped=10, since=NOW,
                                             reason="8 of 10 synced bookings vanished from booking"))  # fmt: skip
    await ProblemStore(tables).record("room-a", Side.BOOKING, "b9", error_type="UnsupportedRecurrence",
                                      message="BYMONTHDAY=30 skips short months", now=NOW)  # fmt: skip

    result = await invoke("status")

    assert result.exit_code == 0, result.output
    [row_a] = [line for line in result.stdout.splitlines() if "room-a@contoso.example" in line]
    [row_b] = [line for line in result.stdout.splitlines() if "room-b@contoso.example" in line]
    cells_a = [cell.strip() for cell in row_a.split("│")]
    assert cells_a[1:5] == ["room-a", "live", "room-a@contoso.example", "3"]
    assert cells_a[5] == (NOW - dt.timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M UTC")  # the newest mapping
    assert "2d 0h left" in cells_a[6] or "2d 1h left" in cells_a[6]  # the later of the room's two subscriptions
    assert cells_a[7] == "2" and cells_a[9] == "—"  # the resolved conflict is not counted
    assert cells_a[8] == "1"  # one open sync problem
    cells_b = [cell.strip() for cell in row_b.split("│")]
    assert cells_b[4] == "1" and cells_b[6] == "none" and cells_b[7] == "0" and cells_b[8] == "0"
    assert cells_b[9].startswith("stopped: 8 of 10 synced bookings vanished")


async def test_status_marks_a_confirmed_hold_as_released(cli_env, tables: TableStore) -> None:
    await RoomHoldStore(tables).put(RoomHold(room="room-a", side=Side.OUTLOOK, missing=6, mapped=6, since=NOW,
                                             reason="6 of 6 gone", confirmed=True))  # fmt: skip
    result = await invoke("status")
    assert result.exit_code == 0
    assert "released: deletions from outlook confirmed" in result.stdout
    assert "stopped" not in result.stdout


async def test_status_on_fresh_tables_reads_as_empty(cli_env) -> None:
    result = await invoke("status")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("none") == 2  # no subscription for either room


async def test_status_without_rooms_says_what_to_set(cli_env, monkeypatch) -> None:
    monkeypatch.setenv("ROOMS", "[]")
    result = await invoke("status")
    assert result.exit_code == 0
    assert "No rooms configured" in result.stdout


async def test_invalid_settings_give_one_line_naming_the_variable_and_no_secret(cli_env, monkeypatch) -> None:
    monkeypatch.setenv("ROOMS", '[{"key": "a b", "mailbox": "x", "booking_room_id": "1"}]')
    monkeypatch.setenv("BOOKING_API_KEY", "@Microsoft.KeyVault(SecretUri=https://kv/secrets/booking)")
    result = await invoke("status")
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: invalid calsync settings:") and "ROOMS[0.key]" in line and "BOOKING_API_KEY" in line
    assert "SecretUri" not in line


async def test_unreachable_table_storage_is_one_line_and_exit_1(cli_env, monkeypatch) -> None:
    secret_key = "c2VjcmV0LWtleS1uZXZlci1wcmludGVk"
    monkeypatch.setenv("TABLES_CONNECTION_STRING", "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
                       f"AccountKey={secret_key};TableEndpoint=http://127.0.0.1:9/devstoreaccount1")  # fmt: skip
    result = await invoke("status")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: Table Storage failed while listing tables")
    assert secret_key not in result.output


def test_latest_expiry_by_room_keeps_the_furthest() -> None:
    early, late = NOW, NOW + dt.timedelta(hours=3)
    records = [subscription("a", "1", late), subscription("a", "2", early), subscription("b", "3", early)]
    assert latest_expiry_by_room(records) == {"a": late, "b": early}
