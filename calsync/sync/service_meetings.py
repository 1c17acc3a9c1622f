"""Service-mailbox mode (issue #14, EXCHANGE.md case 3): what calsync's meeting looks like, and who is who.

Pure helpers for calsync.sync.outlook_side. In this mode a booking's Outlook copy is
a meeting the service mailbox organises: the booker is a required attendee when their
address is in the tenant (otherwise the body says why they were not invited), the
room is a resource attendee, and the body names the booker and links back to the
booking. The room's Calendar Attendant puts the room's copy in the room calendar; the
mapping names that copy (it is what a room subscription notifies about) and keeps the
organiser's event id, where every write goes. The room's copy is never written.
"""

from __future__ import annotations

from calsync.model import Booking
from calsync.model.booking import Cancellation
from calsync.outlook.event_mapping import booking_to_event
from calsync.outlook.wire import Attendee, EmailAddress, GraphEvent, ItemBody
from calsync.room_options import RoomOptions
from calsync.settings import Room


def response_of(event: GraphEvent) -> str | None:
    status = event.response_status
    return str(getattr(status.response, "value", status.response)) if status and status.response else None


def room_response(organiser: GraphEvent, room: Room) -> str | None:
    """The room's answer as the organiser's event shows it (attendees[].status)."""
    for attendee in organiser.attendees or []:
        address = attendee.email_address.address if attendee.email_address else None
        if (address or "").lower() == room.mailbox.lower() and attendee.status is not None:
            return attendee.status.response
    return None


def body_text(booking: Booking, options: RoomOptions, booking_id: str, *, invited: bool) -> str:
    """The meeting's body: who booked, whether they were invited, the link back to the booking."""
    who = booking.organizer.name or booking.organizer.email or "an unknown user"
    lines = [f"Booked by {who} in the booking system."]
    if not invited:
        address = booking.organizer.email or "no e-mail address"
        lines.append(f"The booker ({address}) is not in this organisation and was not invited.")
    if options.booking_url_template:
        lines.append(f"Booking: {options.booking_url_template.format(booking_id=booking_id)}")
    return "\n".join(lines)


def meeting_event(booking: Booking, room: Room, options: RoomOptions, *, private_subject: str,
                  stamp: str) -> GraphEvent:  # fmt: skip
    """The meeting to POST in the service mailbox for ``booking`` (stamped with its booking id)."""
    event = booking_to_event(booking, private_subject=private_subject, stamp=stamp)
    invited = options.in_tenant(booking.organizer.email)
    attendees = [Attendee(type="resource", email_address=EmailAddress(address=room.mailbox, name=room.name or room.key))]
    if invited:
        booker = EmailAddress(address=booking.organizer.email, name=booking.organizer.name or booking.organizer.email)
        attendees.insert(0, Attendee(type="required", email_address=booker))
    event.attendees = attendees
    event.body = ItemBody(content_type="text", content=body_text(booking, options, stamp, invited=invited))
    return event


def declined(room: Room) -> Cancellation:
    """The cancellation calsync reads when the room's attendant declined the service mailbox's invitation."""
    return Cancellation(
        reason=f"The room {room.name or room.mailbox} declined the meeting (its booking policy: the time is taken, "
        "outside its booking window, or too long).",
        by=room.mailbox,
    )
