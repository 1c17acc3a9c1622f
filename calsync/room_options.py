"""Per-room options (issue #14): who organises calsync's Outlook copies, and which items hold the room.

Pure configuration, no I/O. ``Settings`` holds the defaults (ORGANIZER_MODE,
SERVICE_MAILBOX, TENANT_DOMAINS, BOOKING_URL_TEMPLATE, OUTLOOK_SCOPE, BOOKING_SCOPE);
a room in ROOMS may override the mode (``organizer_mode``), ``service_mailbox`` and
either scope (``outlook_scope``, ``booking_scope``).
``options_for(settings, room)`` resolves what applies to one room.

Organiser modes:

- ``room``: a booking's Outlook copy is an event in the room's own calendar,
  organised by the room (no invitations; the booker sees nothing in Outlook).
- ``service-mailbox``: the copy is a meeting organised by a service mailbox calsync
  controls, with the booker as a required attendee (when the booker is in the
  tenant) and the room as a resource attendee; the room's Calendar Attendant puts
  the room's copy in the room calendar (EXCHANGE.md case 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from calsync.model.scope import BookingScope, OrganizerMode, OutlookScope

if TYPE_CHECKING:
    from calsync.settings import Room, Settings


@dataclass(frozen=True)
class RoomOptions:
    """What applies to one room once its overrides are laid over the defaults."""

    mode: OrganizerMode = OrganizerMode.ROOM
    service_mailbox: str | None = None  # set only in service-mailbox mode
    tenant_domains: tuple[str, ...] = ()
    booking_url_template: str | None = None
    outlook_scope: OutlookScope = field(default_factory=OutlookScope)
    booking_scope: BookingScope = field(default_factory=BookingScope)

    @property
    def organizer(self) -> str | None:
        """The service mailbox that organises the room's copies, or None (the room organises them)."""
        return self.service_mailbox if self.mode is OrganizerMode.SERVICE_MAILBOX else None

    def in_tenant(self, email: str | None) -> bool:
        """Whether ``email`` belongs to one of the tenant's domains (so it can be invited)."""
        if not email or "@" not in email:
            return False
        domain = email.rsplit("@", 1)[1].lower()
        return any(domain == d.lower() or domain.endswith("." + d.lower()) for d in self.tenant_domains)


def options_for(settings: Settings, room: Room) -> RoomOptions:
    """The room's options: its own overrides, else the settings' defaults."""
    mailbox = room.service_mailbox or settings.service_mailbox
    # unset mode: service-mailbox whenever a service mailbox is configured (the recommended mode)
    mode = room.organizer_mode or settings.organizer_mode
    if mode is None:
        mode = OrganizerMode.SERVICE_MAILBOX if mailbox else OrganizerMode.ROOM
    return RoomOptions(
        mode=mode,
        service_mailbox=mailbox if mode is OrganizerMode.SERVICE_MAILBOX else None,
        tenant_domains=tuple(settings.tenant_domains),
        booking_url_template=settings.booking_url_template,
        outlook_scope=room.outlook_scope or settings.outlook_scope,
        booking_scope=room.booking_scope or settings.booking_scope,
    )
