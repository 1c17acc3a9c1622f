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


def flow_back(copy: Booking, origin: Booking, *, private_subject: str) -> Booking:
    """An edit made on a copy, as it may reach its origin: only the fields a copy may change.

    Times, all-day, recurrence and status come from the copy. What only the origin decides
    stays the origin's: its organiser, and, when the origin hides its subject, its title (its
    occurrences' too) and its privacy. The copy of a private booking shows only the
    placeholder, so whatever title it shows now, the placeholder retitled included, says
    nothing about the origin's title and never travels back (issue 11: "a masked title never
    flows back to the origin"); un-marking the copy private would reveal the title on the next
    write, so that does not travel back either. calsync.sync.plan then shows the placeholder
    on the copy again.
    """
    edited = copy.model_copy(update={"organizer": origin.organizer, "ids": SourceIds()})
    if not origin.sensitivity.hides_subject:
        return edited
    recurrence = edited.recurrence
    if recurrence is not None and recurrence.overrides:
        real = {o.original_start: o.subject for o in (origin.recurrence.overrides if origin.recurrence else ())}
        overrides = tuple(o.model_copy(update={"subject": real.get(o.original_start)}) for o in recurrence.overrides)
        recurrence = recurrence.model_copy(update={"overrides": overrides})
    return edited.model_copy(update={"subject": origin.subject, "sensitivity": origin.sensitivity,
                                     "recurrence": recurrence})  # fmt: skip


def changes_origin(desired: Booking, origin: Booking) -> bool:
    """Whether an edit flowing back (``flow_back``'s answer) changes anything of the origin's synced fields."""
    return content_hash(desired) != content_hash(origin)
