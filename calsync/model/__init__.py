"""calsync's canonical data: the Booking, the ChangeHint queue message and the content hash."""

from calsync.model.booking import (
    Booking,
    BookingKind,
    BookingStatus,
    OccurrenceOverride,
    Organizer,
    Recurrence,
    Sensitivity,
    Side,
    SourceIds,
)
from calsync.model.content_hash import content_hash, synced_fields
from calsync.model.hint import ChangeHint, ChangeKind, HintReason

__all__ = [
    "Booking",
    "BookingKind",
    "BookingStatus",
    "ChangeHint",
    "ChangeKind",
    "HintReason",
    "OccurrenceOverride",
    "Organizer",
    "Recurrence",
    "Sensitivity",
    "Side",
    "SourceIds",
    "content_hash",
    "synced_fields",
]
