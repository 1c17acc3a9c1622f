"""`calsync rooms check` and `calsync rooms migrate-organizer` (issue #14): organiser mode and room settings.

``observe`` is pure: from the events of a room's calendar it reports what can be seen
of the room's calendar processing (Set-CalendarProcessing) without Exchange
PowerShell, e.g. a room's copy whose subject is its organiser's name means
DeleteSubject and AddOrganizerToSubject are on (titles do not reach the booking
system). ``check_rooms`` reads each room's calendar (one calendarView delta round)
and calls it.

``migrate_room`` moves a room's existing copies from ``room`` to ``service-mailbox``
mode without duplicates, one booking at a time, each step safe to repeat:

1. the mapping forgets the room's event (a hint about it now finds no mapping, so its
   deletion is not read as a cancellation of the booking);
2. the room's event is deleted (calsync's own, room-organised: allowed, no mail);
3. the meeting is created in the service mailbox with the create key the engine would
   use for the next generation (a rerun after a crash gets the same meeting back);
4. the mapping is written with the room's copy and the organiser's event.

Without ``apply`` nothing is written: the plan is returned (the CLI's dry run).
A rerun continues where an interrupted run stopped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from calsync.errors import NotFound, ValidationError
from calsync.model import Side
from calsync.model.mapping import MappingRow
from calsync.outlook.wire import GraphEvent
from calsync.room_options import options_for
from calsync.settings import Room, Settings
from calsync.store.mappings import MappingStore
from calsync.sync.plan import copy_key
from calsync.sync.state import OrganizerRole
from calsync.sync.translate import desired_copy

if TYPE_CHECKING:
    from calsync.wiring import Services


@dataclass(frozen=True)
class RoomCheck:
    room: str
    mode: str
    service_mailbox: str | None
    findings: list[str] = field(default_factory=list)


def _organizer(event: GraphEvent) -> tuple[str, str]:
    who = event.organizer.email_address if event.organizer and event.organizer.email_address else None
    return ((who.address or "").lower(), (who.name or "").strip()) if who else ("", "")


def observe(room: Room, events: Sequence[GraphEvent], *, mode: str, service_mailbox: str | None) -> RoomCheck:
    """What the room's calendar shows of its calendar-processing settings (pure)."""
    findings: list[str] = []
    copies = [e for e in events if _organizer(e)[0] and _organizer(e)[0] != room.mailbox.lower()]
    named = [e for e in copies if _organizer(e)[1] and (e.subject or "").strip() == _organizer(e)[1]]
    prefixed = [e for e in copies if _organizer(e)[1] and (e.subject or "").startswith(_organizer(e)[1] + " ")]
    if named:
        findings.append(f"{len(named)} of {len(copies)} meeting copies show their organiser's name as the subject: "
                        "DeleteSubject and AddOrganizerToSubject are on, so meeting titles do not reach the booking "
                        "system (Set-CalendarProcessing -DeleteSubject $false -AddOrganizerToSubject $false)")  # fmt: skip
    elif prefixed:
        findings.append(f"{len(prefixed)} meeting copies start with their organiser's name: AddOrganizerToSubject "
                        "is on (Set-CalendarProcessing -AddOrganizerToSubject $false)")  # fmt: skip
    elif copies:
        findings.append(f"{len(copies)} meeting copies keep their titles: DeleteSubject and AddOrganizerToSubject "
                        "look off")  # fmt: skip
    cancelled = [e for e in copies if e.is_cancelled]
    if cancelled:
        findings.append(f"{len(cancelled)} cancelled meetings stay in the calendar: RemoveCanceledMeetings is off "
                        "(the default; calsync reads them as cancelled)")  # fmt: skip
    if service_mailbox:
        mine = [e for e in copies if _organizer(e)[0] == service_mailbox.lower()]
        declined = [e for e in mine if e.response_status and e.response_status.response == "declined"]
        if declined:
            findings.append(f"the room declined {len(declined)} of the service mailbox's meetings: check "
                            "BookInPolicy / AllBookInPolicy and the booking window for "
                            f"{service_mailbox}")  # fmt: skip
        elif mine:
            findings.append(f"the room accepts {service_mailbox}'s meetings ({len(mine)} seen)")
        else:
            findings.append(f"no meeting of {service_mailbox} seen yet: whether the room accepts them is unknown")
    if not events:
        findings.append("the calendar has no events in the sync window: nothing to observe")
    return RoomCheck(room.key, mode, service_mailbox, findings)


async def check_rooms(settings: Settings, keys: Sequence[str] = ()) -> list[RoomCheck]:
    """``observe`` for each configured room (or those named), reading each calendar once."""
    from calsync.wiring import Services

    rooms = _rooms(settings, keys)
    services = await Services.open(settings)
    try:
        found = []
        for room in rooms:
            options = options_for(settings, room)
            delta = await services.graph.calendar_view_delta(room.mailbox, *services.window.bounds(services.clock()))
            found.append(observe(room, delta.changed, mode=options.mode.value, service_mailbox=options.organizer))
        return found
    finally:
        await services.close()


@dataclass(frozen=True)
class MigrationStep:
    booking_id: str
    room_event_id: str | None
    outcome: str = "planned"


async def migrate_room(settings: Settings, key: str, *, apply: bool = False) -> list[MigrationStep]:
    """Move the room's booking copies to service-mailbox meetings (see the module docstring); dry run by default."""
    from calsync.wiring import Services

    [room] = _rooms(settings, [key])
    options = options_for(settings, room)
    if options.organizer is None:
        raise ValidationError(f"room {key} is not in service-mailbox mode: set SERVICE_MAILBOX (and organizer_mode) "
                              "first", room=key)  # fmt: skip
    services = await Services.open(settings)
    try:
        mappings = MappingStore(services.tables)
        rows = [r for r in await mappings.list_room(room.key) if r.origin is Side.BOOKING and r.booking_id
                and not r.cancelled and r.outlook_role in (None, OrganizerRole.ROOM.value)]  # fmt: skip
        if not apply:
            return [MigrationStep(r.booking_id or "", r.outlook_id) for r in rows]
        return [await _migrate_one(services, room, mappings, row) for row in rows]
    finally:
        await services.close()


async def _migrate_one(services: Services, room: Room, mappings: MappingStore, row: MappingRow) -> MigrationStep:
    booking_side, outlook = services.sides[Side.BOOKING], services.outlook
    source = await booking_side.read(room, row.booking_id or "")
    if not source.exists or source.booking is None:
        return MigrationStep(row.booking_id or "", row.outlook_id, "skipped: the booking is gone or cancelled")
    old = row.outlook_id
    if old:  # 1. forget the room's event, 2. delete it
        row = await mappings.update(row.model_copy(update={"outlook_id": None, "outlook_hash": None,
                                                           "outlook_version": None}), row)  # fmt: skip
        with contextlib.suppress(NotFound):
            await services.graph.delete_event(room.mailbox, old)
    generation = row.generation + 1
    desired = desired_copy(source.booking, private_subject=services.settings.private_subject)
    copy = await outlook.create(room, desired, stamp=source.item_id,
                                idempotency_key=copy_key(source, row, generation))  # fmt: skip
    if not copy.exists:
        await mappings.delete(row)  # the engine's next pass sees a new booking, and rejects it with the room's reason
        return MigrationStep(source.item_id, old, "declined by the room; the next reconcile rejects the booking")
    await mappings.update(row.model_copy(update={
        "outlook_id": copy.item_id, "outlook_hash": copy.content_hash, "outlook_version": copy.version,
        "outlook_role": OrganizerRole.SERVICE.value, "outlook_organizer_id": copy.organizer_id,
        "booking_hash": source.content_hash, "booking_version": source.version, "generation": generation,
    }), row)  # fmt: skip
    return MigrationStep(source.item_id, old, f"migrated to the service mailbox's meeting (room copy {copy.item_id})")


def _rooms(settings: Settings, keys: Sequence[str]) -> list[Room]:
    if not keys:
        return list(settings.rooms)
    unknown = [k for k in keys if settings.room(k) is None]
    if unknown:
        raise ValidationError(f"unknown room(s): {', '.join(unknown)} (not in ROOMS)", rooms=unknown)
    return [r for r in settings.rooms if r.key in keys]
