"""In-memory CalendarSides for engine tests and the sync state machine: one class, one instance per side.

``MemorySide(Side.OUTLOOK, ...)`` and ``MemorySide(Side.BOOKING, ...)`` follow the documented
semantics of calsync.sync.outlook_side.OutlookSide (over Graph) and
calsync.sync.booking_side.BookingSide (over the booking REST API), as the emulators in devstack/
implement them; tests/sync/side_contract.py checks that the three agree. What each side does
its own way:

=====================  ==================================  =========================================
                       Outlook (Graph)                     booking system
=====================  ==================================  =========================================
create, same key       the existing event, as it is now;   the first response replayed, even if the
                       a deleted one is created anew       booking changed or went since; a key
                       (transactionId)                     reused with other content: ValidationError
created copy's         the room mailbox (Graph makes the   as written
organizer              app's room the organizer)
private subject        created as the placeholder; an      as written (calsync masks it before)
                       update writes the subject given
                       (calsync masks a copy's before)
decline                responseStatus declined: reads as   status rejected: reads as cancelled, the
                       cancelled; refused (SideError 400)  room is free again
                       for events the room organises
stale version          Conflict (412)                      ChangedMeanwhile (a Conflict, 412)
double booking         allowed for calsync's writes; a     refused: RoomAlreadyBooked (a Conflict,
                       user's invitation that overlaps a   409), for users too
                       live event is declined by the
                       Calendar Attendant (EXCHANGE.md)
list_window            ids only (``read=False``), like     full states
                       OutlookSide (calendarView delta)
who organises          ``role`` (OrganizerRole): ROOM for    (no roles)
                       calsync's creates and events made
                       in the room calendar; PERSON for
                       the room's copy of a person's
                       meeting (organiser: the person)
=====================  ==================================  =========================================

People's meetings (Outlook, EXCHANGE.md): ``invite`` is a person's meeting inviting the room. The
Calendar Attendant (``attendant``: AutomateProcessing AutoAccept) accepts it, or, with
``allow_conflicts`` False (Exchange Online's default), declines it when it overlaps anything live in
the room calendar, calsync's copies included; the declined copy stays with ``declined`` (Exchange
shows either, calsync must treat both alike). ``user_update`` is the organiser's update (processed
again by the attendant), ``user_cancel`` the organiser's cancellation (the room's copy stays with
isCancelled), ``room_declines`` the room (a delegate) declining it, ``delegate_update`` a person
editing a room-organised event (calsync's copy of a booking) directly in the room calendar.

Ownership (DESIGN invariant 7): every write calsync makes to an item it does not own is recorded in
``violations``, not raised, so an invariant can assert there are none: PATCH, DELETE or cancel of
the room's copy of a person's meeting (Graph accepts the first two; only that copy changes), a
decline of a room-organised event (Graph refuses it with 400, raised as well), and on the booking
side the deletion of an original booking (calsync rejects those, it never deletes them).

Test hooks: ``user_create/user_update/user_delete/user_cancel`` act as a person would (not counted
as calsync's writes); ``writes`` counts calsync's write calls that reached the side; ``fail_next``
and ``lose_next_response`` inject faults; ``declined``/``graveyard`` remember what happened.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from calsync.booking.protocol import ChangedMeanwhile, RoomAlreadyBooked
from calsync.errors import (
    Conflict,
    IdempotencyKeyReused,
    NotFound,
    SideError,
    Throttled,
    TransientError,
)
from calsync.model import Booking, BookingStatus, Organizer, Side, SourceIds, content_hash
from calsync.model.booking import Cancellation
from calsync.settings import Room
from calsync.sync.overlap import overlaps
from calsync.sync.state import ItemState, OrganizerRole

WRITE_OPS = frozenset({"create", "update", "delete", "decline", "cancel"})
READ_OPS = frozenset({"read", "find_copy", "list_window"})
HORIZON = dt.timedelta(days=366)  # how far the booking emulator compares two bookings for overlaps
_ids = itertools.count(1)
ATTENDANT_DECLINE = "declined by the Calendar Attendant: the room is busy"
ROOM_DECLINE = "declined by the room"


def _default_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Stored:
    """One item as the side holds it."""

    item_id: str
    room: str  # calsync room key
    booking: Booking  # as written (status as the organiser set it)
    version: str
    created_at: dt.datetime
    stamp: str | None = None
    by_calsync: bool = False  # Outlook: organised by the room (created through the API)
    declined: bool = False  # Outlook: the room declined it; booking: rejected
    reason: str | None = None
    role: OrganizerRole | None = None  # Outlook: who organises it (None on the booking side)


@dataclass(frozen=True)
class Violation:
    """A write calsync made to an item it does not own (DESIGN invariant 7)."""

    op: str
    item_id: str
    why: str


@dataclass
class Fault:
    error: type[SideError]
    times: int
    ops: frozenset[str]
    lost_response: bool = False  # perform the operation, then raise (the answer never arrived)
    status: int | None = 503  # TransientError's status: 503, or None for a timeout (no answer at all)


@dataclass
class MemorySide:
    """A CalendarSide kept in dictionaries (see the module docstring for each side's rules)."""

    side: Side
    clock: Callable[[], dt.datetime] = _default_clock
    private_subject: str = "Private booking"
    attendant: bool = True  # Outlook: the Calendar Attendant processes invitations (AutomateProcessing)
    allow_conflicts: bool = False  # Outlook: AllowConflicts; False declines invitations overlapping a live event
    items: dict[str, Stored] = field(default_factory=dict)
    graveyard: dict[str, Stored] = field(default_factory=dict)  # deleted items, for post-mortems
    declined: dict[str, str] = field(default_factory=dict)  # item id -> reason, calsync's declines
    writes: int = 0  # calsync's write calls that reached the side (create, update, delete, decline)
    write_log: list[tuple[str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)  # calsync's writes to items it does not own
    _keys: dict[str, Any] = field(default_factory=dict)

    # --- helpers ------------------------------------------------------------------------------

    def _new_id(self) -> str:
        n = next(_ids)
        # Graph ids carry '/', '+' and '='; the mapping table must encode them
        return f"AAMk{n:05d}/Qm+E=" if self.side is Side.OUTLOOK else f"bk_{n:05d}"

    @staticmethod
    def _new_version() -> str:
        return f"v{next(_ids)}"

    def _shown(self, stored: Stored) -> Booking:
        """The canonical booking a read returns."""
        booking = stored.booking
        if stored.declined:
            booking = booking.model_copy(update={"status": BookingStatus.CANCELLED})
        if self.side is Side.OUTLOOK:
            ids = SourceIds(outlook=stored.item_id, booking=stored.stamp)
        else:
            ids = SourceIds(booking=stored.item_id, outlook=stored.stamp)
        return booking.model_copy(update={"ids": ids})

    def state(self, stored: Stored) -> ItemState:
        booking = self._shown(stored)
        return ItemState(side=self.side, item_id=stored.item_id, booking=booking, content_hash=content_hash(booking),
                         version=stored.version, created_at=stored.created_at, stamp=stored.stamp,
                         role=stored.role)  # fmt: skip

    def _gone(self, item_id: str) -> ItemState:
        return ItemState(side=self.side, item_id=item_id, booking=None)

    def _fault(self, op: str, *, after: bool = False) -> None:
        for fault in self.faults:
            if fault.times > 0 and op in fault.ops and fault.lost_response == after:
                fault.times -= 1
                what = "lost the response to" if after else "failed"
                if fault.error is Throttled:
                    raise Throttled(f"{self.side} {what} {op} (injected)", side=self.side.value, status=429,
                                    retry_after=0.0)  # fmt: skip
                raise fault.error(f"{self.side} {what} {op} (injected)", side=self.side.value, status=fault.status)

    def _wrote(self, op: str, item_id: str) -> None:
        self.writes += 1
        self.write_log.append((op, item_id))
        self._fault(op, after=True)

    def _violate(self, op: str, stored: Stored, why: str) -> None:
        self.violations.append(Violation(op, stored.item_id, why))

    def _persons(self, stored: Stored) -> bool:
        return self.side is Side.OUTLOOK and stored.role is OrganizerRole.PERSON

    def _attendant_declines(self, stored: Stored) -> bool:
        """Whether the Calendar Attendant declines this invitation (a person's meeting that overlaps)."""
        if not (self._persons(stored) and self.attendant) or self.allow_conflicts:
            return False
        return self._rival(stored.room, stored.booking, stored.item_id) is not None

    def _get(self, room: Room, item_id: str) -> Stored:
        """The item to write; the booking system writes a booking by its id, whichever room it is in now."""
        stored = self.items.get(item_id)
        if stored is None or (stored.room != room.key and self.side is Side.OUTLOOK):
            raise NotFound(f"{self.side} item {item_id} does not exist", side=self.side.value, status=404)
        return stored

    def _check_version(self, stored: Stored, version: str | None) -> None:
        """If-Match: None sends no precondition (OutlookSide) or the current one (BookingSide reads it first)."""
        if version is not None and version != stored.version:
            error = ChangedMeanwhile if self.side is Side.BOOKING else Conflict
            raise error(f"{self.side} item {stored.item_id} changed meanwhile: version {stored.version}, "
                        f"If-Match {version}", side=self.side.value, status=412)  # fmt: skip

    def _live(self, stored: Stored) -> bool:
        return not stored.declined and not stored.booking.is_cancelled

    def _rival(self, room_key: str, booking: Booking, exclude: str | None) -> Stored | None:
        """A live item of the room that overlaps ``booking`` (compared as the booking emulator does)."""
        if booking.is_cancelled:
            return None
        for other in self.items.values():
            if other.room != room_key or other.item_id == exclude or not self._live(other):
                continue
            start = max(booking.interval_utc()[0], other.booking.interval_utc()[0])
            if overlaps(booking, other.booking, (start, start + HORIZON)):
                return other
        return None

    def _check_free(self, room_key: str, booking: Booking, exclude: str | None) -> None:
        if self.side is not Side.BOOKING:
            return
        rival = self._rival(room_key, booking, exclude)
        if rival is not None:
            raise RoomAlreadyBooked(f"room {room_key!r} is already booked at that time by {rival.item_id}",
                                    side=self.side.value, status=409, conflicting_booking_id=rival.item_id)  # fmt: skip

    def _as_written(self, room: Room, booking: Booking, organizer: Organizer | None, *, mask: bool = True) -> Booking:
        """What the side stores for a write by calsync (``mask``: a create, which OutlookSide writes masked)."""
        update: dict[str, Any] = {"room": room.key, "ids": SourceIds()}
        if organizer is not None:
            update["organizer"] = organizer
        if mask and self.side is Side.OUTLOOK and booking.sensitivity.hides_subject:
            update["subject"] = self.private_subject
        return booking.model_copy(update=update)

    # --- fault injection ----------------------------------------------------------------------

    def fail_next(self, times: int = 1, *, error: type[SideError] = TransientError,
                  ops: Iterable[str] = WRITE_OPS | READ_OPS, status: int | None = 503) -> None:  # fmt: skip
        """The next ``times`` calls of ``ops`` raise ``error`` before doing anything (``status`` None: a timeout)."""
        self.faults.append(Fault(error, times, frozenset(ops), status=status))

    def lose_next_response(self, times: int = 1, *, ops: Iterable[str] = WRITE_OPS) -> None:
        """The next ``times`` writes of ``ops`` happen, then raise TransientError (the answer was lost)."""
        self.faults.append(Fault(TransientError, times, frozenset(ops), lost_response=True))

    def clear_faults(self) -> None:
        self.faults.clear()

    def reset_counts(self) -> None:
        self.writes = 0
        self.write_log.clear()

    # --- the CalendarSide protocol ------------------------------------------------------------

    async def read(self, room: Room, item_id: str) -> ItemState:
        self._fault("read")
        stored = self.items.get(item_id)
        if stored is not None and stored.room != room.key and self.side is Side.BOOKING:
            # moved to another room: gone from this one, as BookingSide reads it
            return ItemState(side=self.side, item_id=item_id, booking=None, version=stored.version,
                             moved_to=stored.room, stamp=stored.stamp)  # fmt: skip
        if stored is None or stored.room != room.key:
            return self._gone(item_id)
        return self.state(stored)

    async def find_copy(self, room: Room, source_id: str) -> ItemState | None:
        self._fault("find_copy")
        found = sorted((s for s in self.items.values() if s.room == room.key and s.stamp == source_id),
                       key=lambda s: (s.created_at, s.item_id))  # fmt: skip
        return self.state(found[0]) if found else None

    async def list_window(self, room: Room, start: dt.datetime, end: dt.datetime, *,
                          content: bool = False) -> list[ItemState]:  # fmt: skip
        self._fault("list_window")
        from calsync.recurrence import expand

        found = [s for s in self.items.values() if s.room == room.key and expand(s.booking, start, end)]
        if self.side is Side.OUTLOOK and not content:
            return [ItemState.from_mapping(self.side, s.item_id, None) for s in found]
        return [self.state(s) for s in found]

    async def create(self, room: Room, booking: Booking, *, stamp: str, idempotency_key: str) -> ItemState:
        self._fault("create")
        if self.side is Side.OUTLOOK:
            existing = self.items.get(self._keys.get(f"{room.key}\x1f{idempotency_key}", ""))
            if existing is not None:
                self._wrote("create", existing.item_id)
                return self.state(existing)
            organizer = Organizer(name=room.name or room.key, email=room.mailbox)
            written = self._as_written(room, booking, organizer)
        else:
            written = self._as_written(room, booking, None)
            fingerprint = (room.key, content_hash(written), written.organizer, stamp)
            replay = self._keys.get(idempotency_key)
            if replay is not None:
                if replay[0] != fingerprint:
                    raise IdempotencyKeyReused("Idempotency-Key reused: this key was used with a different request body",
                                          side=self.side.value, status=422)  # fmt: skip
                self._wrote("create", replay[1].item_id)
                return replay[1]
            self._check_free(room.key, written, None)
        role = OrganizerRole.ROOM if self.side is Side.OUTLOOK else None
        stored = Stored(self._new_id(), room.key, written, self._new_version(), self.clock(), stamp=stamp,
                        by_calsync=True, role=role)  # fmt: skip
        self.items[stored.item_id] = stored
        result = self.state(stored)
        if self.side is Side.OUTLOOK:
            self._keys[f"{room.key}\x1f{idempotency_key}"] = stored.item_id
        else:
            self._keys[idempotency_key] = (fingerprint, result)
        self._wrote("create", stored.item_id)
        return result

    async def update(self, room: Room, current: ItemState, desired: Booking) -> ItemState:
        self._fault("update")
        stored = self._get(room, current.item_id)
        self._check_version(stored, current.version)
        if self._persons(stored):
            self._violate("update", stored, "PATCH of the room's copy of a person's meeting")
        # the organizer is never rewritten; a PATCH writes the subject given (OutlookSide: the caller masks a copy's)
        written = self._as_written(room, desired, stored.booking.organizer, mask=False)
        self._check_free(room.key, written, stored.item_id)
        stored.booking, stored.room = written, room.key  # a booking moved to another room goes back with it
        stored.version = self._new_version()
        if self.side is Side.BOOKING:
            stored.declined, stored.reason = False, None  # a PUT replaces the status, rejected included
        self._wrote("update", stored.item_id)
        return self.state(stored)

    async def delete(self, room: Room, current: ItemState) -> None:
        self._fault("delete")
        stored = self._get(room, current.item_id)
        self._check_version(stored, current.version)
        if self._persons(stored):
            self._violate("delete", stored, "DELETE of the room's copy of a person's meeting")
        if self.side is Side.BOOKING and not stored.by_calsync:
            self._violate("delete", stored, "deleted an original booking (it may only be rejected)")
        self.graveyard[stored.item_id] = self.items.pop(stored.item_id)
        self._wrote("delete", stored.item_id)

    async def cancel(self, room: Room, current: ItemState, cancellation: Cancellation) -> ItemState | None:
        """As the real sides: a booking stays, cancelled with who/when/why; an Outlook room event is deleted."""
        if self.side is Side.OUTLOOK:
            stored = self.items.get(current.item_id)
            if stored is not None and self._persons(stored):
                self._fault("cancel")
                self._violate("cancel", stored, "cancel of a meeting the room does not organise")
                raise SideError("Graph cancel event failed: 400 Your request can't be completed. You need to be "
                                "an organizer to cancel a meeting.", side=self.side.value, status=400)  # fmt: skip
            await self.delete(room, current)
            return None
        self._fault("cancel")
        stored = self._get(room, current.item_id)
        if not stored.booking.is_cancelled:
            stored.booking = stored.booking.model_copy(update={"status": BookingStatus.CANCELLED,
                                                               "cancellation": cancellation})  # fmt: skip
            stored.version = self._new_version()
            self._wrote("cancel", stored.item_id)
        return self.state(stored)

    async def decline(self, room: Room, item: ItemState, reason: str) -> None:
        self._fault("decline")
        stored = self._get(room, item.item_id)
        if self.side is Side.OUTLOOK and (stored.by_calsync or stored.role is OrganizerRole.ROOM):
            self._violate("decline", stored, "decline of an event the room organises")
            raise SideError("Graph decline event failed: 400 ErrorInvalidRequest You can't respond to a meeting "
                            "you organized.", side=self.side.value, status=400)  # fmt: skip
        stored.declined, stored.reason = True, reason
        stored.version = self._new_version()
        self.declined[stored.item_id] = reason
        self._wrote("decline", stored.item_id)

    async def decline_occurrences(self, room: Room, item: ItemState, starts: tuple[dt.datetime, ...],
                                  reason: str) -> None:  # fmt: skip
        """As OutlookSide: the room declines those instances of a person's series; they read back as EXDATEs."""
        self._fault("decline")
        stored = self._get(room, item.item_id)
        if self.side is not Side.OUTLOOK or stored.role is not OrganizerRole.PERSON:
            self._violate("decline", stored, "per-occurrence decline of something other than a person's meeting")
            raise SideError("decline of an occurrence the room organises", side=self.side.value, status=400)
        recurrence = stored.booking.recurrence
        if recurrence is None:
            return
        exdates = tuple(sorted(set(recurrence.exdates) | set(starts), key=str))
        stored.booking = stored.booking.model_copy(update={"recurrence": recurrence.model_copy(
            update={"exdates": exdates})})  # fmt: skip
        stored.version = self._new_version()
        self.declined[stored.item_id] = reason
        self._wrote("decline", stored.item_id)

    async def close(self) -> None:
        return None

    # --- acting as a person -------------------------------------------------------------------

    def user_create(self, room: Room, booking: Booking, *, role: OrganizerRole = OrganizerRole.PERSON) -> str:
        """Book as a person would: an invitation to the room (Outlook) or a booking (booking system).

        Booking system: raises RoomAlreadyBooked when the room is taken. Outlook: a person's
        meeting (``role`` PERSON, organised by ``booking.organizer``) is processed by the Calendar
        Attendant, which declines it when it overlaps a live event (AllowConflicts False); ``role``
        ROOM is an event a delegate makes directly in the room calendar (no attendant).
        """
        written = booking.model_copy(update={"room": room.key, "ids": SourceIds()})
        self._check_free(room.key, written, None)
        stored = Stored(self._new_id(), room.key, written, self._new_version(), self.clock(),
                        role=role if self.side is Side.OUTLOOK else None)  # fmt: skip
        if self._attendant_declines(stored):
            stored.declined, stored.reason = True, ATTENDANT_DECLINE
        self.items[stored.item_id] = stored
        return stored.item_id

    def invite(self, room: Room, booking: Booking) -> str:
        """A person's meeting inviting the room (Outlook): the room's copy, as the attendant leaves it."""
        assert self.side is Side.OUTLOOK
        return self.user_create(room, booking, role=OrganizerRole.PERSON)

    def user_update(self, item_id: str, **changes: Any) -> None:
        """Change fields of the booking (``Booking`` field names) as its organiser would.

        An organiser's update of a meeting the room had declined is a new request to the
        attendant: accepted when the room is free, declined again when not.
        """
        stored = self.items[item_id]
        data = {**stored.booking.model_dump(), **changes}
        changed = Booking.model_validate(data)
        self._check_free(stored.room, changed, item_id)
        stored.booking = changed
        stored.version = self._new_version()
        if self._persons(stored) and self.attendant and stored.reason != ROOM_DECLINE:
            declines = self._attendant_declines(stored)
            stored.declined, stored.reason = declines, ATTENDANT_DECLINE if declines else None

    def delegate_update(self, item_id: str, **changes: Any) -> None:
        """A person with access to the room calendar edits a room-organised event (calsync's copy too)."""
        stored = self.items[item_id]
        assert self.side is Side.OUTLOOK and stored.role is OrganizerRole.ROOM
        self.user_update(item_id, **changes)

    def move_room(self, item_id: str, room: Room) -> None:
        """The booking is moved to another room (booking system): it leaves the old room's listings."""
        stored = self.items[item_id]
        moved = stored.booking.model_copy(update={"room": room.key})
        self._check_free(room.key, moved, item_id)
        stored.room, stored.booking = room.key, moved
        stored.version = self._new_version()

    def user_cancel(self, item_id: str) -> None:
        """The organiser cancels: the item stays, cancelled (Outlook: the room's copy shows isCancelled)."""
        self.user_update(item_id, status=BookingStatus.CANCELLED)

    def room_declines(self, item_id: str) -> None:
        """The room (a delegate, or the attendant on review) declines a person's meeting."""
        stored = self.items[item_id]
        assert self._persons(stored)
        stored.declined, stored.reason = True, ROOM_DECLINE
        stored.version = self._new_version()

    def user_delete(self, item_id: str) -> None:
        self.graveyard[item_id] = self.items.pop(item_id)

    # --- looking -----------------------------------------------------------------------------

    def live(self, room_key: str | None = None) -> list[ItemState]:
        """The items that hold the room now (not cancelled, declined or rejected)."""
        return [self.state(s) for s in self.items.values()
                if (room_key is None or s.room == room_key) and self._live(s)]  # fmt: skip

    def get(self, item_id: str) -> Stored | None:
        return self.items.get(item_id)
