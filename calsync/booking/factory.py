"""booking_system_from_settings: the BookingSystem that BOOKING_BACKEND names (rest or mrbs)."""

from __future__ import annotations

from calsync.booking.protocol import BookingSystem
from calsync.settings import BookingBackend, Settings


def booking_system_from_settings(settings: Settings) -> BookingSystem:
    """The REST client (BOOKING_* settings) or MRBS's database (MRBS_* settings); imports only the one used."""
    if settings.booking_backend is BookingBackend.MRBS:
        from calsync.booking.mrbs.system import MrbsBookingSystem

        return MrbsBookingSystem.from_settings(settings)
    from calsync.booking.rest_client import BookingRestClient

    return BookingRestClient.from_settings(settings)
