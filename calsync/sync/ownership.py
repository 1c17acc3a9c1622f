"""Who owns a reservation, and so what calsync may do to each item of it (EXCHANGE.md's table, DESIGN invariant 7).

Pure. A mapped reservation has an *authority*: the side whose content wins. It is
the side it was made on (the mapping's origin), except that a person's meeting in
Outlook always wins, because calsync can never edit it (only the room's copy would
change; the organiser would never see it). What may be done to an Outlook item
depends on who organises it: a room-organised event (calsync's copies among them)
may be patched, deleted and cancelled; the room's copy of a person's meeting may
only be declined. The room's copy of calsync's service-mailbox meeting (role SERVICE,
EXCHANGE.md case 3) is calsync's: its content follows the booking (authority: the
origin), and it is changed, cancelled or deleted only at its organiser, the service
mailbox (calsync.sync.outlook_side), never declined. A booking is never deleted by
calsync unless it is calsync's copy; an original booking is rejected with a reason.
"""

from __future__ import annotations

import datetime as dt

from calsync.model import Side
from calsync.model.mapping import MappingRow
from calsync.sync.state import ItemState, OrganizerRole


def outlook_role(mapping: MappingRow | None, item: ItemState | None = None) -> OrganizerRole | None:
    """Who organises the reservation's Outlook item: as just read, else as the mapping remembers."""
    if item is not None and item.side is Side.OUTLOOK and item.role is not None:
        return item.role
    if mapping is not None and mapping.outlook_role:
        return OrganizerRole(mapping.outlook_role)
    return None


def authority(mapping: MappingRow, outlook_item: ItemState | None = None) -> Side:
    """The side whose content wins for this reservation."""
    if outlook_role(mapping, outlook_item) is OrganizerRole.PERSON:
        return Side.OUTLOOK
    return mapping.origin


def released_by_decline(origin: ItemState) -> bool:
    """How an original gives up the room: declined/rejected (True) or deleted (a room event, calsync's meeting).

    Graph refuses a decline of an event the room organises ("you can't respond to a meeting
    you organised"), and deleting a room-organised event is what EXCHANGE.md allows for it;
    calsync's service-mailbox meeting is deleted at its organiser (the room's copy follows);
    a person's meeting and a booking are declined or rejected, never deleted.
    """
    return not (origin.side is Side.OUTLOOK and origin.role in (OrganizerRole.ROOM, OrganizerRole.SERVICE))


def origin_created(item: ItemState, mapping: MappingRow | None) -> dt.datetime | None:
    """When the reservation ``item`` belongs to was first made (first-come compares origins, not copies)."""
    if mapping is not None and mapping.origin_created_at is not None:
        return mapping.origin_created_at
    return item.created_at


def whose(origin: ItemState, otherwise: str) -> str:
    """The original's organiser as a possessive for the booking system's users ("Ada's"), else ``otherwise``."""
    organizer = origin.booking.organizer if origin.booking is not None else None
    who = (organizer.name or organizer.email) if organizer is not None else None
    return f"{who}'s" if who else otherwise
