"""Scope filters (issue #14), pure: whether an item holds the room, or why it does not.

Applied when a side reads an item: an item out of scope reads as cancelled (not a
live booking), so the decision needs no branch of its own. A new out-of-scope event
is never copied; a copy whose source leaves the scope is removed (or soft-cancelled)
like the copy of a cancelled source; one that comes back into scope is copied again.
calsync's own copies (stamped, or organised by its service mailbox) are always in
scope: the filters say which of *other people's* items count.
"""

from __future__ import annotations

from collections.abc import Sequence

from calsync.model import Booking, BookingStatus
from calsync.model.booking import Cancellation
from calsync.room_options import BookingScope, OutlookScope


def outlook_out_of_scope(scope: OutlookScope, *, show_as: str | None, categories: Sequence[str],
                         organizer_email: str | None) -> str | None:  # fmt: skip
    """Why an Outlook event does not hold the room under ``scope``, or None when it does."""
    shown = (show_as or "busy").lower()
    if shown in {value.lower() for value in scope.ignore_show_as}:
        return f"the event is shown as {shown}, which does not hold the room"
    have = {c.lower() for c in categories}
    excluded = sorted(have & {c.lower() for c in scope.categories_exclude})
    if excluded:
        return f"the event has the category {excluded[0]!r}, which does not hold the room"
    if scope.categories_include and not have & {c.lower() for c in scope.categories_include}:
        return "the event has none of the categories that hold the room"
    if scope.organizer_domains:
        domain = (organizer_email or "").rsplit("@", 1)[-1].lower()
        if domain not in {d.lower() for d in scope.organizer_domains}:
            return "the event's organiser is not from a domain whose meetings hold the room"
    return None


def booking_out_of_scope(scope: BookingScope, booking: Booking) -> str | None:
    """Why a booking is not synced under ``scope``, or None when it is."""
    if booking.kind.value in scope.ignore_kinds:
        return f"bookings of kind {booking.kind.value} are not synced"
    if booking.status.value in scope.ignore_statuses:
        return f"{booking.status.value} bookings are not synced"
    return None


def out_of_scope(booking: Booking, reason: str) -> Booking:
    """``booking`` as the sync sees it once out of scope: not a live booking, with the reason."""
    if booking.is_cancelled:
        return booking
    return booking.model_copy(update={"status": BookingStatus.CANCELLED,
                                      "cancellation": Cancellation(reason=f"No longer synced: {reason}.")})  # fmt: skip
