"""Organiser mode and scope filters: which events hold a room, and who organises calsync's meetings (issue #14).

Plain models; calsync.settings reads them from the environment, calsync.room_options
resolves them per room, calsync.sync.scope applies them when a side reads.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class OrganizerMode(StrEnum):
    """Who organises the Outlook copy of a booking made in the booking system."""

    ROOM = "room"
    SERVICE_MAILBOX = "service-mailbox"


class OutlookScope(BaseModel):
    """Which Outlook events hold the room (events calsync did not make; its own copies always do).

    ``ignore_show_as``: free/busy values that do not hold the room (Graph's showAs names).
    ``categories_include``: when not empty, only events with one of these categories hold it.
    ``categories_exclude``: events with one of these categories never do.
    ``organizer_domains``: when not empty, only events organised from these domains hold it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ignore_show_as: tuple[str, ...] = ("free",)
    categories_include: tuple[str, ...] = ()
    categories_exclude: tuple[str, ...] = ()
    organizer_domains: tuple[str, ...] = ()


class BookingScope(BaseModel):
    """Which booking-system bookings are synced: kinds and statuses listed here are not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ignore_kinds: tuple[str, ...] = ()
    ignore_statuses: tuple[str, ...] = ()
