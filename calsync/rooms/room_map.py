"""The booking adapters' RoomMap (booking room id <-> room key) kept in step with the rooms registry.

The REST and MRBS adapters translate room ids with a ``RoomMap`` built from the ROOMS
setting; a room that exists only in the registry would map to itself (its booking
room id used as key, and the key sent as a booking room id on update). ``attach``
gives the adapter a map that reads the directory's snapshot (no I/O: the engine's
gate refreshes it), falling back to the seed.
"""

from __future__ import annotations

from calsync.booking.conversion import RoomMap
from calsync.rooms.directory import RoomDirectory, cached_pairs


class DirectoryRoomMap(RoomMap):
    def __init__(self, directory: RoomDirectory) -> None:
        super().__init__()
        self.directory = directory

    def key(self, booking_room_id: str) -> str:
        return next((key for rid, key in cached_pairs(self.directory) if rid == booking_room_id), booking_room_id)

    def room_id(self, key: str) -> str:
        return next((rid for rid, k in cached_pairs(self.directory) if k == key), key)


def attach(booking: object, directory: RoomDirectory) -> None:
    """Give a booking adapter (REST: ``rooms``, MRBS: ``room_map``) the registry-backed map."""
    for attribute in ("rooms", "room_map"):
        if isinstance(getattr(booking, attribute, None), RoomMap):
            setattr(booking, attribute, DirectoryRoomMap(directory))
