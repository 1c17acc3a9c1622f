"""The CalendarSide contract (tests/sync/side_contract.py) against every side calsync has or tests with.

- ``outlook``: OutlookSide over the real msgraph-sdk and the Graph emulator on loopback;
- ``booking``: BookingSide over the real REST client and the booking emulator on loopback;
- ``memory-outlook`` / ``memory-booking``: tests/sync/memory_sides.MemorySide, which the engine
  tests and the sync state machine use instead of the emulators.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from calsync.booking.conversion import RoomMap, booking_to_wire
from calsync.booking.rest_client import BookingRestClient
from calsync.model import Booking, Side
from calsync.outlook.event_mapping import STAMP_PROPERTY_ID, booking_to_event
from calsync.outlook.graph_client import GraphCalendar
from calsync.outlook.serialization import event_to_dict
from calsync.settings import Room, load_settings
from calsync.sync.booking_side import BookingSide
from calsync.sync.outlook_side import OutlookSide
from devstack.booking import BookingEmulator, EmulatorRoom
from devstack.graph import GraphEmulator
from tests.sync.memory_sides import MemorySide
from tests.sync.side_contract import PRIVATE_SUBJECT, CalendarSideContract, SideUnderTest

API_KEY = "side-contract"
WINDOW = (dt.datetime(2030, 2, 1, tzinfo=dt.UTC), dt.datetime(2031, 3, 1, tzinfo=dt.UTC))


@pytest.fixture(scope="module")
def graph_emulator() -> Iterator[GraphEmulator]:
    with GraphEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def booking_emulator() -> Iterator[BookingEmulator]:
    with BookingEmulator(api_key=API_KEY) as emulator:
        yield emulator


def fresh_room() -> Room:
    tag = uuid.uuid4().hex[:8]
    return Room(key=f"room-{tag}", mailbox=f"room-{tag}@contoso.example", booking_room_id=f"R-{tag}", name=tag)


async def outlook(graph: GraphEmulator) -> AsyncIterator[SideUnderTest]:
    room = fresh_room()
    graph.add_room(room.mailbox, room.name)
    settings = load_settings(tables_connection_string="UseDevelopmentStorage=true", graph_auth_mode="none",
                             graph_base_url=graph.base_url, graph_timeout_seconds=5.0,
                             graph_max_retry_wait_seconds=2.0)  # fmt: skip
    calendar = GraphCalendar.from_settings(settings, stamp_property_id=STAMP_PROPERTY_ID)
    side = OutlookSide(calendar, private_subject=PRIVATE_SUBJECT, window=lambda: WINDOW)

    async def person_books(booking: Booking) -> str:
        event = event_to_dict(booking_to_event(booking, private_subject=PRIVATE_SUBJECT, stamp=None))
        return graph.user_create_event(room.mailbox, event, organizer=booking.organizer.email or "x@example.com")["id"]

    try:
        yield SideUnderTest(side, room, person_books, "outlook")
    finally:
        await side.close()


async def booking(emulator: BookingEmulator) -> AsyncIterator[SideUnderTest]:
    room = fresh_room()
    emulator.add_room(EmulatorRoom(room.booking_room_id, room.name or room.key))
    client = BookingRestClient(emulator.base_url, api_key=API_KEY, timeout=5.0, page_size=2,
                               room_map=RoomMap([(room.booking_room_id, room.key)]))  # fmt: skip
    side = BookingSide(client)

    async def person_books(booking: Booking) -> str:
        fields = booking_to_wire(booking, room_id=room.booking_room_id).model_dump(mode="json", exclude={"room_id"})
        return emulator.user_create_booking(room.booking_room_id, **fields)["id"]

    try:
        yield SideUnderTest(side, room, person_books, "booking")
    finally:
        await side.close()


async def memory(which: Side) -> AsyncIterator[SideUnderTest]:
    room = fresh_room()
    side = MemorySide(which, private_subject=PRIVATE_SUBJECT)

    async def person_books(booking: Booking) -> str:
        return side.user_create(room, booking)

    yield SideUnderTest(side, room, person_books, f"memory-{which.value}")


class TestCalendarSides(CalendarSideContract):
    @pytest.fixture(params=[
        pytest.param("outlook", marks=pytest.mark.emulator),
        pytest.param("booking", marks=pytest.mark.emulator),
        "memory-outlook",
        "memory-booking",
    ])  # fmt: skip
    async def under_test(self, request: pytest.FixtureRequest) -> AsyncIterator[SideUnderTest]:
        if request.param == "outlook":
            factory = outlook(request.getfixturevalue("graph_emulator"))
        elif request.param == "booking":
            factory = booking(request.getfixturevalue("booking_emulator"))
        else:
            factory = memory(Side.OUTLOOK if request.param == "memory-outlook" else Side.BOOKING)
        async for running in factory:
            yield running
