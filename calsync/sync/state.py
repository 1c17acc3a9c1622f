"""What calsync knows while it decides: ``ItemState`` (one side's view of an item), ``TargetView``, ``Facts``.

Plain frozen dataclasses, no I/O: the sides and reads produce them, the pure decision reads them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from calsync.model import Booking, ChangeHint, Side
from calsync.model.mapping import MappingRow
from calsync.settings import ConflictPolicy
from calsync.sync.guard import GuardLimits, HoldState, Tally


class OrganizerRole(StrEnum):
    """Who organises an Outlook item in a room calendar, which decides what calsync may do to it (EXCHANGE.md)."""

    ROOM = "room"  # created in the room's calendar (by calsync or anyone): calsync may PATCH, cancel, DELETE it
    PERSON = "person"  # the room's copy of someone's meeting: never PATCH or DELETE; release it only by declining
    SERVICE = "service"  # organised by calsync's service mailbox: edited through the organiser's event


@dataclass(frozen=True)
class ItemState:
    """One side's current view of an item: its id, canonical booking, hash, version and creation time."""

    side: Side
    item_id: str
    booking: Booking | None  # None: the item is gone (404/410)
    content_hash: str | None = None
    version: str | None = None
    created_at: dt.datetime | None = None
    stamp: str | None = None  # the other side's id that calsync stamped on this item, if any
    read: bool = True  # False: known only from the mapping row (not fetched, assumed to exist)
    role: OrganizerRole | None = None  # Outlook items: who organises it (None: the booking side, or not read)
    organizer_id: str | None = None  # calsync's meeting (role SERVICE): the organiser's event id, where writes go
    moved_to: str | None = None  # a booking gone from this room because it moved: the room it is in now

    @classmethod
    def from_mapping(cls, side: Side, item_id: str, version: str | None) -> ItemState:
        """The mapped copy, not fetched: calsync writes it with If-Match on the stored version."""
        return cls(side=side, item_id=item_id, booking=None, version=version, read=False)

    @property
    def exists(self) -> bool:
        if not self.read:
            return True
        return self.booking is not None and not self.booking.is_cancelled


@dataclass(frozen=True)
class TargetView:
    """What the target side holds: the counterpart (mapped or found by stamp) and overlapping bookings."""

    counterpart: ItemState | None = None
    overlapping: Sequence[ItemState] = ()
    rival_origins: Mapping[str, ItemState] = field(default_factory=dict)  # Outlook originals of rivals that are copies
    window: tuple[dt.datetime, dt.datetime] | None = None  # the sync window: a series' occurrences are weighed in it


@dataclass(frozen=True)
class HoldView:
    """A room's mass-deletion hold as the decision sees it (see calsync.sync.guard)."""

    state: HoldState
    side: Side | None = None
    missing: int = 0
    mapped: int = 0
    reason: str = ""


@dataclass(frozen=True)
class Facts:
    """Everything read so far for one hint. Each read fills one field; the decision asks for the next.

    ``*_read`` flags tell "not read yet" from "read, and there is none".
    """

    hint: ChangeHint
    now: dt.datetime
    window: tuple[dt.datetime, dt.datetime]
    hold: HoldView | None = None
    source: ItemState | None = None
    mapping: MappingRow | None = None
    mapping_read: bool = False
    hinted: MappingRow | None = None  # the mapping of the hint's own item, read before its source (version check)
    hinted_read: bool = False
    hinted_written: bool = False  # this process wrote a mapping row holding the hint's item at its version
    found: ItemState | None = None  # the counterpart found by its stamp, when the mapping does not name it
    found_mapping: MappingRow | None = None  # the mapping of the original a stamped source names (ReadStamped)
    looked_up: bool = False
    listing: tuple[ItemState, ...] | None = None  # the other side's items around the source, with content
    origin: ItemState | None = None  # the authoritative item, read when the source is its copy
    origin_read: bool = False
    rival_origins: tuple[ItemState, ...] = ()  # the Outlook originals of rivals that are calsync's copies, as read
    tally: Tally | None = None  # the mass-deletion guard's counts
    booking_room: str | None = None  # the room the source booking was last mapped in (the cross-room index)
    booking_room_read: bool = False
    rival_rooms: tuple[tuple[str, str | None], ...] = ()  # (rival booking id, the room the cross-room index names)


DEFAULT_GUARD = GuardLimits(min_bookings=10, threshold=0.5)


@dataclass(frozen=True)
class Policy:
    conflict_policy: ConflictPolicy = ConflictPolicy.FIRST_COME
    private_subject: str = "Private booking"
    guard: GuardLimits = DEFAULT_GUARD
    soft_cancel: bool = True  # a cancelled Outlook original leaves its booking cancelled (not deleted)


@dataclass(frozen=True)
class Loser:
    """Who gives up the room after an overlap, and how (chosen by ownership in calsync.sync.plan)."""

    origin: ItemState  # the original reservation: its organiser is told
    by_decline: bool  # decline a person's meeting / reject a booking; False: delete a room-organised event
    item: ItemState  # the loser as it showed in the overlap (the origin itself, or calsync's copy of it)
    occurrences: tuple[dt.datetime, ...] = ()  # a series giving way only on these (original starts); (): whole
    reason: str | None = None  # what its organiser reads, when it differs from the action's (the dates it lost)
    declines_instances: bool = False  # with occurrences: decline those instances (a person's meeting), else EXDATEs
