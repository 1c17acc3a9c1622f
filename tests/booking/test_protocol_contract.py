"""The shared BookingSystem contract (tests/booking/contract.py), run against the REST client and the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from calsync.booking.conversion import RoomMap
from calsync.booking.rest_client import BookingRestClient
from devstack.booking import BookingEmulator, EmulatorRoom
from tests.booking.contract import BookingSystemContract

pytestmark = pytest.mark.emulator


class EmulatorBackdoor:
    def __init__(self, emulator: BookingEmulator) -> None:
        self.emulator = emulator

    def touch(self, booking_id: str) -> None:
        self.emulator.user_update_booking(booking_id, title="Touched by a user")

    def expire_cursors(self) -> None:
        self.emulator.expire_cursors()


class TestRestClientContract(BookingSystemContract):
    @pytest.fixture
    def emulator(self) -> Iterator[BookingEmulator]:
        rooms = [EmulatorRoom("R-100", "Atlas"), EmulatorRoom("R-200", "Boreas")]
        with BookingEmulator(rooms=rooms, api_key="contract") as running:
            yield running

    @pytest.fixture
    def room_a(self) -> str:
        return "R-100"

    @pytest.fixture
    def room_b(self) -> str:
        return "R-200"

    @pytest.fixture
    async def system(self, emulator: BookingEmulator) -> AsyncIterator[BookingRestClient]:
        room_map = RoomMap([("R-100", "atlas"), ("R-200", "boreas")])
        async with BookingRestClient(emulator.base_url, api_key="contract", room_map=room_map, page_size=2) as client:
            yield client

    @pytest.fixture
    def backdoor(self, emulator: BookingEmulator) -> EmulatorBackdoor:
        return EmulatorBackdoor(emulator)
