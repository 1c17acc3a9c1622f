"""Fixtures for the booking side: a fresh loopback emulator per test and the real REST client pointed at it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator

import pytest

from calsync.booking.conversion import RoomMap
from calsync.booking.rest_client import BookingRestClient
from devstack.booking import BookingEmulator, EmulatorRoom

API_KEY = "test-api-key"
ROOMS = [
    EmulatorRoom("room-1", "Atlas", "atlas@example.com"),
    EmulatorRoom("room-2", "Boreas", "boreas@example.com"),
]


class RecordingSleep:
    """An injectable sleep that records the delays and waits only a tiny bit."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def emulator() -> Iterator[BookingEmulator]:
    with BookingEmulator(rooms=ROOMS, api_key=API_KEY) as running:
        yield running


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def client(emulator: BookingEmulator, sleeps: RecordingSleep) -> AsyncIterator[BookingRestClient]:
    room_map = RoomMap([("room-1", "atlas"), ("room-2", "boreas")])
    async with BookingRestClient(
        emulator.base_url, api_key=API_KEY, timeout=5.0, room_map=room_map, sleep=sleeps, page_size=2
    ) as running:
        yield running


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """An aware UTC datetime in March 2030 (far from 'now', so nothing depends on the clock)."""
    return dt.datetime(2030, 3, day, hour, minute, tzinfo=dt.UTC)
