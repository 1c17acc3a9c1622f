"""What reads and actions may do, as a Protocol: the one door from the sync's vocabulary to I/O.

Reads (calsync.sync.reads) and actions (calsync.sync.actions) are written against
``Effects``; calsync.sync.context.SyncContext implements it over the real sides and
tables. Keeping the Protocol here lets those modules, and the pure decision that
builds them, import no I/O module at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from calsync.model import Side
from calsync.model.mapping import MappingRow
from calsync.settings import Room
from calsync.sync.state import HoldView, ItemState, Policy

if TYPE_CHECKING:
    from calsync.sync.sides import CalendarSide


class MappingTable(Protocol):
    async def find(self, room: str, side: Side, item_id: str, *, recent: bool = False, likely: str | None = None
                   ) -> MappingRow | None: ...  # fmt: skip
    def remembered(self, room: str, side: Side, item_id: str) -> MappingRow | None: ...
    def wrote(self, room: str, side: Side, item_id: str, version: str | None) -> bool: ...
    async def list_room(self, room: str) -> list[MappingRow]: ...
    async def delete(self, row: MappingRow) -> None: ...


class Effects(Protocol):
    room: Room
    policy: Policy
    clock: Callable[[], dt.datetime]

    @property
    def mappings(self) -> MappingTable: ...

    def side(self, side: Side) -> CalendarSide: ...

    def writing(self, side: Side, item_id: str | None) -> contextlib.AbstractContextManager[None]:
        """A write to ``item_id`` (None: a create) and its mapping's save in flight (calsync.store.own_versions)."""
        ...

    def observed(self, source: ItemState) -> None:
        """Tell the log context about a source just read (its id; a private subject is never logged)."""

    async def save(self, source: ItemState, copy: ItemState, mapping: MappingRow | None, *,
                   generation: int | None = None) -> MappingRow:
        """Write the mapping with both sides' hashes and versions."""
        ...

    async def remove_copy(self, copy: ItemState) -> None:
        """Delete a copy, or what is there now if it changed since calsync wrote it."""

    async def remove_copy_of(self, item: ItemState) -> None:
        """Remove the copy of a declined rival, and its mapping."""

    async def booking_room(self, booking_id: str) -> str | None:
        """The room the booking was last mapped in (the cross-room index of room moves), or None."""
        ...

    async def place_booking(self, booking_id: str) -> None:
        """Point the cross-room index at this room for the booking (idempotent)."""

    async def hint_room(self, room: str, item: ItemState) -> None:
        """Publish a ChangeHint for ``item`` to another room's session (a booking that moved out of it).

        Its MessageId is the same for every retry (the item's version); raises QueueError when the queue refuses it.
        """

    async def record_conflict(self, *, winner: ItemState, loser: ItemState, reason: str,
                              kind: str = "overlap") -> None: ...
    async def read_hold(self) -> HoldView: ...
    async def recent_deletions(self, side: Side) -> int: ...
    async def record_deletion(self, side: Side) -> None: ...
    async def release_hold(self) -> None: ...
    async def hold_room(self, side: Side, *, missing: int, mapped: int, reason: str) -> None: ...
