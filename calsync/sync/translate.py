"""What the copy of a booking should look like on the other side.

The copy carries every synced field of the source except what must not travel:
a private or confidential meeting's subject is replaced by the configured
placeholder (the subject itself never leaves its side), and source ids are
cleared (each side stamps its own). The organizer is set when the copy is
created and never rewritten afterwards. ``same_reservation`` says whether an
existing copy already matches its source.
"""

from __future__ import annotations

from calsync.model import Booking, OccurrenceOverride, SourceIds, content_hash


def desired_copy(source: Booking, *, private_subject: str) -> Booking:
    """The booking as calsync writes it on the other side."""
    if not source.sensitivity.hides_subject:
        return source.model_copy(update={"ids": SourceIds()})
    recurrence = source.recurrence
    if recurrence is not None and recurrence.overrides:
        masked = tuple(_mask_override(o, private_subject) for o in recurrence.overrides)
        recurrence = recurrence.model_copy(update={"overrides": masked})
    return source.model_copy(update={"subject": private_subject, "recurrence": recurrence, "ids": SourceIds()})


def _mask_override(override: OccurrenceOverride, private_subject: str) -> OccurrenceOverride:
    subject = None if override.subject is None else private_subject
    return override.model_copy(update={"subject": subject, "ids": SourceIds()})


def same_reservation(source: Booking, copy: Booking, *, private_subject: str) -> bool:
    """Whether ``copy`` already shows ``source`` as calsync would write it.

    The organizer is left out: a side may set its own (Graph makes the room mailbox
    the organizer of events an app creates), and calsync never rewrites it after the
    copy is created.
    """
    from calsync.model import Organizer

    desired = desired_copy(source, private_subject=private_subject).model_copy(update={"organizer": Organizer()})
    return content_hash(desired) == content_hash(copy.model_copy(update={"organizer": Organizer(), "ids": SourceIds()}))
