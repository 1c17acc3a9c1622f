"""`calsync subscriptions list`: stored subscriptions, time left, and the warnings an operator needs."""

from __future__ import annotations

import datetime as dt

import pytest

from calsync.cli.common import CliState, duration, time_left
from calsync.operations.subscriptions import describe_subscriptions
from calsync.store.client import TableStore
from calsync.store.records import SubscriptionRecord, SubscriptionStore
from tests.cli.helpers import invoke

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def record(room: str, sub_id: str, left: dt.timedelta) -> SubscriptionRecord:
    return SubscriptionRecord(subscription_id=sub_id, room=room, resource=f"users/{room}@contoso.example/events",
                              expires_at=NOW + left, renewed_at=NOW - dt.timedelta(days=1))  # fmt: skip


def test_durations_read_as_two_units() -> None:
    assert duration(dt.timedelta(days=2, hours=3, minutes=59)) == "2d 3h"
    assert duration(dt.timedelta(hours=5, minutes=12)) == "5h 12m"
    assert duration(dt.timedelta(seconds=30)) == "<1m"
    assert time_left(dt.timedelta(minutes=-90)) == "expired 1h 30m ago"


def test_describe_sorts_flags_and_finds_rooms_without_one() -> None:
    report = describe_subscriptions(
        [record("room-b", "b", dt.timedelta(hours=23)), record("room-a", "a", dt.timedelta(days=2)),
         record("room-c", "c", dt.timedelta(minutes=-1))],
        NOW, ["room-a", "room-b", "room-d"],
    )  # fmt: skip
    assert [(v.record.room, v.expiring, v.expired) for v in report.subscriptions] == [
        ("room-a", False, False), ("room-b", True, False), ("room-c", False, True),
    ]  # fmt: skip
    assert report.rooms_without == ["room-d"]


@pytest.mark.azurite
async def test_subscriptions_list_shows_time_left_and_warns(cli_env, tables: TableStore) -> None:
    store = SubscriptionStore(tables)
    await store.put(record("room-a", "AAQkADk/sub+a==", dt.timedelta(hours=5, minutes=12)))
    await store.put(record("room-zz", "sub-zz", dt.timedelta(days=2, hours=3)))
    result = await invoke("subscriptions", "list", obj=CliState(clock=lambda: NOW))
    assert result.exit_code == 0, result.output
    [row_a] = [line for line in result.stdout.splitlines() if "room-a" in line]
    assert "AAQkADk/sub+a==" in row_a and "2026-11-24 17:12 UTC" in row_a and "5h 12m left" in row_a
    assert "2d 3h left" in result.stdout
    warnings = " ".join(result.stderr.split())
    assert "1 subscription(s) expire within 24 h or have expired" in warnings
    assert "No subscription for room(s) room-b" in warnings


@pytest.mark.azurite
async def test_subscriptions_list_with_none_stored(cli_env) -> None:
    result = await invoke("subscriptions", "list")
    assert result.exit_code == 0
    assert "No subscriptions stored." in result.stdout
    assert "room-a, room-b" in result.stderr
