"""`calsync rooms propose|holds|release`: pairing rooms across the two systems, and the guard's room holds.

`calsync rooms propose` pairs Graph's room mailboxes with the booking system's rooms by e-mail.

``propose_rooms`` is pure: it matches case-insensitively on the e-mail address, derives
each room's key from the mailbox's local part (slugified, unique), keeps the key of a
room that ROOMS already configures (a key names the room's partition of the mapping
table, so renaming it would orphan the room's mappings) and never hands out a key that
ROOMS uses for another mailbox. Rooms whose e-mail is missing, unmatched or shared by
several rooms on one side are listed as unmatched with the reason. ``fetch_proposal``
reads both sides and calls it.

`calsync rooms holds|release`: the mass-deletion guard's room holds and the operator's answer.

The engine writes a RoomHold when one side of a room suddenly looks empty and then
refuses every hint of the room. An operator answers in one of two ways:

- confirm (``confirm_hold``): the deletions are real; the hold stays, marked confirmed,
  and the engine lets the room's deletions through (calsync.sync.guard.hold_state);
- discard (``discard_hold``): the wipe was a mistake and has been undone on its side;
  the hold is removed without confirming anything, and the guard watches again.

A confirmed hold switches the guard off for its room until the engine removes it,
``CONFIRMED_HOLD_LIFETIME`` after the confirmation (calsync.sync.guard); discarding a
confirmed hold re-arms the guard at once.

A room is known when ROOMS configures it or a hold exists for it (so a hold of a room
removed from ROOMS can still be discarded); anything else is a ValidationError.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from calsync.booking.protocol import BookingRoom
from calsync.booking.rest_client import BookingRestClient
from calsync.errors import ValidationError
from calsync.operations.tasks import gather_all
from calsync.outlook.graph_client import GraphCalendar, RoomInfo
from calsync.rooms.keys import MAX_KEY_LENGTH, slugify, unique_key  # noqa: F401 - the one key rule
from calsync.settings import Room, Settings
from calsync.store.records import RoomHold, RoomHoldStore
from calsync.sync.guard import CONFIRMED_HOLD_LIFETIME
from calsync.wiring import open_tables


@dataclass(frozen=True)
class RoomMatch:
    """A Graph room mailbox and a booking-system room with the same e-mail."""

    key: str
    mailbox: str
    display_name: str | None
    booking_room_id: str
    booking_name: str
    configured: bool  # the key is the one ROOMS already gives this mailbox

    def room(self) -> Room:
        return Room(
            key=self.key, mailbox=self.mailbox, booking_room_id=self.booking_room_id,
            name=self.display_name or self.booking_name,
        )  # fmt: skip


@dataclass(frozen=True)
class UnmatchedRoom:
    """A room on one side with no partner on the other, and why."""

    side: str  # "outlook" or "booking"
    email: str | None
    name: str | None
    booking_room_id: str | None
    why: str


@dataclass(frozen=True)
class RoomProposal:
    matches: list[RoomMatch]
    unmatched: list[UnmatchedRoom]

    def rooms(self) -> list[Room]:
        return [match.room() for match in self.matches]

    def rooms_json(self) -> str:
        """The ROOMS setting's value for the matches: one line of JSON, ready to paste."""
        return json.dumps([room.model_dump(exclude_none=True) for room in self.rooms()], ensure_ascii=False)


def _by_email(items: Iterable[tuple[str, object]]) -> tuple[dict[str, object], set[str]]:
    """Items by case-folded e-mail, and the e-mails that more than one item claims."""
    seen: dict[str, object] = {}
    shared: set[str] = set()
    for email, item in items:
        folded = email.strip().casefold()
        if folded in seen:
            shared.add(folded)
        seen.setdefault(folded, item)
    return seen, shared


def propose_rooms(
    graph_rooms: Sequence[RoomInfo], booking_rooms: Sequence[BookingRoom], configured: Sequence[Room] = ()
) -> RoomProposal:
    """Match both sides' rooms by e-mail (case-insensitive) and give each match a key."""
    graph_by_email, graph_shared = _by_email((room.email, room) for room in graph_rooms)
    with_email = [room for room in booking_rooms if room.email and room.email.strip()]
    booking_by_email, booking_shared = _by_email((room.email or "", room) for room in with_email)
    configured_keys = {room.mailbox.casefold(): room.key for room in configured}
    taken = {room.key for room in configured}

    unmatched: list[UnmatchedRoom] = []
    pairs: list[tuple[RoomInfo, BookingRoom]] = []
    for room in graph_rooms:
        folded = room.email.strip().casefold()
        if graph_by_email[folded] is not room:
            continue  # a second Graph room with this e-mail: reported once below
        if folded in graph_shared:
            why = "several Graph rooms have this e-mail"
        elif folded in booking_shared:
            why = "several booking-system rooms have this e-mail"
        elif folded not in booking_by_email:
            why = "no booking-system room has this e-mail"
        else:
            booking = booking_by_email[folded]
            assert isinstance(booking, BookingRoom)
            pairs.append((room, booking))
            continue
        unmatched.append(UnmatchedRoom("outlook", room.email, room.display_name, None, why))
    for booking in booking_rooms:
        folded = (booking.email or "").strip().casefold()
        if not folded:
            why = "has no e-mail in the booking system"
        elif folded in booking_shared:
            why = "several booking-system rooms have this e-mail"
        elif folded in graph_shared:
            why = "several Graph rooms have this e-mail"
        elif folded not in graph_by_email:
            why = "no Graph room has this e-mail"
        else:
            continue
        unmatched.append(UnmatchedRoom("booking", booking.email, booking.name, booking.id, why))

    pairs.sort(key=lambda pair: pair[0].email.casefold())
    matches: list[RoomMatch] = []
    # Keys ROOMS already gives these mailboxes first, so a new room never takes one of them.
    keys = {id(g): configured_keys[g.email.casefold()] for g, _ in pairs if g.email.casefold() in configured_keys}
    for graph, booking in pairs:
        known = keys.get(id(graph))
        key = known or unique_key(slugify(graph.email.split("@", 1)[0]), taken)
        matches.append(RoomMatch(key, graph.email, graph.display_name, booking.id, booking.name, known is not None))
    return RoomProposal(matches=matches, unmatched=unmatched)


async def fetch_proposal(settings: Settings) -> RoomProposal:
    """Read Graph's rooms (/places) and the booking system's rooms, then propose ROOMS.

    Raises Throttled, PermissionDenied, TransientError (either side).
    """
    async with GraphCalendar.from_settings(settings) as graph, BookingRestClient.from_settings(settings) as booking:
        graph_rooms, booking_rooms = await gather_all([graph.list_rooms(), booking.list_rooms()])
    from calsync.operations.room_registry import list_rooms

    registered = [record.room for record in await list_rooms(settings)]  # ROOMS and the registry: keys kept
    return propose_rooms(graph_rooms, booking_rooms, registered)


# --- the mass-deletion guard's holds -------------------------------------------------------------


@dataclass(frozen=True)
class HoldAnswer:
    """What an operator's answer did: the hold as it was, and whether anything changed."""

    hold: RoomHold
    changed: bool
    guard_off_for: dt.timedelta = CONFIRMED_HOLD_LIFETIME  # how long a confirmation lets deletions through


async def list_holds(settings: Settings) -> list[RoomHold]:
    """Every room hold, stopped and confirmed, oldest first. Raises StoreError."""
    async with open_tables(settings) as tables:
        holds = await RoomHoldStore(tables).list()
    return sorted(holds, key=lambda hold: (hold.since, hold.room))


async def _held(settings: Settings, store: RoomHoldStore, room: str) -> RoomHold:
    hold = await store.get(room)
    if hold is not None:
        return hold
    if settings.room(room) is None:
        configured = ", ".join(r.key for r in settings.rooms) or "none (ROOMS is empty)"
        raise ValidationError(f"unknown room {room!r}; configured rooms: {configured}", room=room)
    raise ValidationError(f"room {room!r} is not on hold; nothing to release", room=room)


async def confirm_hold(settings: Settings, room: str) -> HoldAnswer:
    """Mark ``room``'s hold confirmed so its deletions go through. Idempotent.

    Raises ValidationError for an unknown room or a room without a hold, StoreError.
    """
    async with open_tables(settings) as tables:
        store = RoomHoldStore(tables)
        hold = await _held(settings, store, room)
        if hold.confirmed:
            return HoldAnswer(hold, changed=False)
        await store.put(hold.model_copy(update={"confirmed": True, "confirmed_at": dt.datetime.now(dt.UTC)}))
    return HoldAnswer(hold, changed=True)


async def discard_hold(settings: Settings, room: str) -> HoldAnswer:
    """Remove ``room``'s hold without confirming its deletions.

    Raises ValidationError for an unknown room or a room without a hold, StoreError.
    """
    async with open_tables(settings) as tables:
        store = RoomHoldStore(tables)
        hold = await _held(settings, store, room)
        await store.release(room)
    return HoldAnswer(hold, changed=True)
