"""Microsoft Graph events (``calsync.outlook.wire.GraphEvent``) <-> calsync's canonical ``Booking``, both ways, pure.

Reading (``event_to_booking``), for singleInstance and seriesMaster events:

- Timed start/end become aware UTC, whatever zone Graph wrote them in (calsync asks
  ``Prefer: outlook.timezone="UTC"``; documentation examples use Windows names).
- All-day events become dates. Graph returns them at local midnight with the
  Prefer zone's *name* but not shifted ("2022-08-10T00:00:00.0000000", "UTC"), so
  the date part is the date; the booking's zone comes from originalStartTimeZone.
- ``time_zone``: recurrenceTimeZone for series, else originalStartTimeZone, else
  start.timeZone, mapped to IANA (calsync.outlook.zones). A timed single event
  whose zone is unknown falls back to UTC (its zone changes nothing); an all-day
  event or series with an unknown zone is refused.
- The series pattern becomes the canonical RRULE (calsync.outlook.patterns).
  Cancelled occurrences ("OID.<master id>.<YYYY-MM-DD>" in cancelledOccurrences,
  or cancelled instances) become EXDATEs; exceptions (exceptionOccurrences, or
  instances of type "exception") become OccurrenceOverrides keyed by originalStart.
- isCancelled -> status cancelled; showAs tentative -> tentative; sensitivity,
  organizer, subject copied; the stamp -> ids.booking; event.id -> ids.outlook.
- A room-unavailability block is an event carrying the category ``BLOCK_CATEGORY``
  (the subject is left alone, so people read what the block is for).

Writing (``booking_to_event``, ``event_patch``, ``plan_instance_changes``):

- A created event of a private or confidential booking is written with
  ``private_subject``, never its subject; sensitivity is copied as it is (both hide
  the subject in Outlook). A PATCH (``event_patch``, ``plan_instance_changes``)
  writes the subject it is given and compares it with the subject the event shows:
  the caller has already masked a copy's (calsync.sync.translate.desired_copy), an
  original keeps its own title, and a copy whose placeholder someone retitled is
  patched back to the placeholder.
- Start/end are local wall time with the zone name from ``graph_zone_name`` (a
  Windows name where that reads back as the same IANA zone, else the IANA name;
  Graph accepts both). All-day: midnight dates with isAllDay.
- showAs busy (tentative for tentative bookings); blocks get ``BLOCK_CATEGORY``.
- The organizer is not written: Graph makes the room mailbox the organizer.
- A cancelled status is not a PATCH: the adapter cancels or deletes the event.
- EXDATEs and overrides cannot be written with the master: after creating or
  patching a series the adapter lists its instances and applies
  ``plan_instance_changes``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from calsync.errors import ValidationError
from calsync.model.booking import (
    Booking,
    BookingKind,
    BookingStatus,
    OccurrenceOverride,
    Organizer,
    Recurrence,
    Sensitivity,
    SourceIds,
)
from calsync.model.rrule import outlook_anchor
from calsync.outlook.patterns import pattern_to_rrule, rrule_to_pattern
from calsync.outlook.wire import DateTimeTimeZone, EventType, ExtendedProperty, FreeBusyStatus, GraphEvent
from calsync.outlook.zones import graph_zone_name, windows_to_iana
from calsync.recurrence import occurrence_starts

UTC = dt.UTC

STAMP_GUID = "89f73e00-ae3d-4712-9385-c65c1c5eeb54"
STAMP_PROPERTY_ID = f"String {{{STAMP_GUID}}} Name calsyncBookingId"
"""Single-value extended property holding the booking-system id of the booking calsync copied."""

STAMP_EXPAND = f"singleValueExtendedProperties($filter=id eq '{STAMP_PROPERTY_ID}')"
"""``$expand`` value that makes Graph return the stamp with an event."""

BLOCK_CATEGORY = "Room unavailable (calsync)"
"""Outlook category marking a room-unavailability block (BookingKind.BLOCK)."""

EVENT_SELECT = (
    "id,changeKey,type,subject,start,end,isAllDay,isCancelled,sensitivity,showAs,organizer,categories,"
    "originalStartTimeZone,originalEndTimeZone,recurrence,seriesMasterId,originalStart,cancelledOccurrences,"
    "responseStatus,createdDateTime,lastModifiedDateTime,isOrganizer,iCalUId"
)
"""``$select`` of every field the mapping reads (with ``$expand`` ``STAMP_EXPAND``)."""

EXCEPTIONS_EXPAND = "exceptionOccurrences($select=id,type,subject,start,end,isAllDay,isCancelled,originalStart)"
"""``$expand`` bringing a series master's moved instances along (else pass /instances)."""

INSTANCE_SELECT = "id,changeKey,type,subject,start,end,isAllDay,isCancelled,seriesMasterId,originalStart,responseStatus"
"""``$select`` for /instances, as ``event_to_booking(instances=...)`` and ``plan_instance_changes`` need."""


def _odata_string(value: str) -> str:
    return value.replace("'", "''")


def stamp_filter(booking_id: str) -> str:
    """``$filter`` finding the event calsync stamped with ``booking_id``."""
    return (
        f"singleValueExtendedProperties/any(ep: ep/id eq '{STAMP_PROPERTY_ID}' "
        f"and ep/value eq '{_odata_string(booking_id)}')"
    )


def stamp_of(event: GraphEvent) -> str | None:
    """The booking-system id calsync stamped on ``event``, if it carries the stamp."""
    for prop in event.single_value_extended_properties or ():
        if (prop.id or "").lower() == STAMP_PROPERTY_ID.lower() and prop.value:
            return prop.value
    return None


def removed_reason(event: GraphEvent) -> str | None:
    """``"deleted"`` or ``"changed"`` for a delta entry marked "@removed", else None."""
    if event.removed is None:
        return None
    return str(event.removed.get("reason", "deleted"))


# --- reading --------------------------------------------------------------------------------


def _naive(text: str | None, what: str) -> dt.datetime:
    if not text:
        raise ValidationError(f"event {what} has no dateTime")
    head, dot, fraction = text.partition(".")
    try:
        value = dt.datetime.fromisoformat(head + (("." + fraction[:6]) if dot else ""))
    except ValueError:
        raise ValidationError(f"event {what} dateTime {text!r} is not ISO 8601") from None
    return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _instant(when: DateTimeTimeZone | None, what: str) -> dt.datetime:
    """A Graph dateTimeTimeZone as an aware UTC datetime."""
    if when is None:
        raise ValidationError(f"event has no {what}")
    local = _naive(when.date_time, what)
    zone = ZoneInfo(windows_to_iana(when.time_zone or "UTC"))
    return local.replace(tzinfo=zone).astimezone(UTC)


def declined(event: GraphEvent) -> bool:
    """Whether the mailbox declined the event (or occurrence): from the room's point of view it is not booked."""
    status = event.response_status
    response = getattr(status.response, "value", status.response) if status is not None else None
    return response == "declined"


def instance_original_start(instance: GraphEvent) -> dt.datetime | None:
    """An instance's original start (where the pattern put it) as an aware UTC datetime, if Graph tells."""
    if instance.original_start is not None:
        value = instance.original_start
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return _instant(instance.start, "start") if instance.start is not None else None


def _day(when: DateTimeTimeZone | None, what: str, zone: str) -> dt.date:
    """An all-day bound as a date: the date part when at midnight (Graph does not shift them)."""
    if when is None:
        raise ValidationError(f"event has no {what}")
    local = _naive(when.date_time, what)
    if local.time() == dt.time(0):
        return local.date()
    moved = local.replace(tzinfo=ZoneInfo(windows_to_iana(when.time_zone or "UTC"))).astimezone(ZoneInfo(zone))
    if moved.time() != dt.time(0):
        raise ValidationError(f"all-day event {what} {when.date_time} is not midnight in {zone}")
    return moved.date()


def _zone_of(event: GraphEvent, strict: bool) -> str:
    candidates = []
    if event.recurrence is not None and event.recurrence.range is not None:
        candidates.append(event.recurrence.range.recurrence_time_zone)
    candidates += [event.original_start_time_zone, event.start.time_zone if event.start else None]
    for name in candidates:
        if not name:
            continue
        try:
            return windows_to_iana(name)
        except ValidationError:
            if strict:
                raise
            return "UTC"
    return "UTC"


def _enum_value(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _sensitivity(event: GraphEvent) -> Sensitivity:
    value = _enum_value(event.sensitivity) or "normal"
    try:
        return Sensitivity(value)
    except ValueError:
        raise ValidationError(f"event {event.id!r} has sensitivity {value[:40]!r}, not one Graph documents") from None


def _status(event: GraphEvent) -> BookingStatus:
    if event.is_cancelled:
        return BookingStatus.CANCELLED
    if _enum_value(event.show_as) == FreeBusyStatus.Tentative.value:
        return BookingStatus.TENTATIVE
    return BookingStatus.CONFIRMED


def _organizer(event: GraphEvent) -> Organizer:
    address = event.organizer.email_address if event.organizer else None
    if address is None:
        return Organizer()
    return Organizer(name=address.name or None, email=address.address or None)


def _event_type(event: GraphEvent) -> str:
    return _enum_value(event.type) or EventType.SingleInstance.value


def _occurrence_id_date(event: GraphEvent) -> dt.date | None:
    """The original date in a (beta) occurrenceId "OID.<master id>.<YYYY-MM-DD>"."""
    return _oid_date(event.occurrence_id) if event.occurrence_id else None


def _oid_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.rsplit(".", 1)[1])
    except (IndexError, ValueError):
        return None


class _Series:
    """The pattern of a series master, to find which occurrence an instance replaced."""

    def __init__(self, booking: Booking) -> None:
        self.booking = booking
        self.zone = ZoneInfo(booking.time_zone)

    def on_date(self, day: dt.date) -> dt.datetime | dt.date | None:
        """The original start of the pattern's occurrence on local ``day``, if there is one."""
        if self.booking.all_day:
            return day if self._starts(day, day + dt.timedelta(days=1)) else None
        found = self._starts(day, day + dt.timedelta(days=1))
        return found[0] if found else None

    def original(self, instance: GraphEvent) -> dt.datetime | dt.date:
        """The original start of an exception or cancelled instance, as the Booking keys it."""
        if instance.original_start is not None:
            value = instance.original_start
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            if not self.booking.all_day:
                return value.astimezone(UTC)
            for day in (value.astimezone(self.zone).date(), value.astimezone(UTC).date()):
                if self.on_date(day) is not None:
                    return day
            raise ValidationError(f"instance {instance.id!r} has originalStart {value.isoformat()}, not in its series")
        day = _occurrence_id_date(instance)
        found = self.on_date(day) if day else None
        if found is None:
            raise ValidationError(
                f"instance {instance.id!r} has no originalStart (select it with INSTANCE_SELECT) "
                "and no occurrenceId naming a date of its series"
            )
        return found

    def _starts(self, first: dt.date, last: dt.date) -> list[dt.datetime]:
        lo = dt.datetime.combine(first, dt.time(0), tzinfo=self.zone)
        hi = dt.datetime.combine(last, dt.time(0), tzinfo=self.zone) - dt.timedelta(microseconds=1)
        return list(occurrence_starts(self.booking, lo, hi))


def _bounds(event: GraphEvent, all_day: bool, zone: str) -> tuple[dt.datetime | dt.date, dt.datetime | dt.date]:
    if all_day:
        return _day(event.start, "start", zone), _day(event.end, "end", zone)
    return _instant(event.start, "start"), _instant(event.end, "end")


def event_to_booking(event: GraphEvent, *, room: str, instances: Sequence[GraphEvent] = ()) -> Booking:
    """The canonical Booking for a singleInstance or seriesMaster event (see module docstring).

    ``instances`` are the series' instances as /instances returns them (occurrences are
    ignored; exceptions become overrides; cancelled ones EXDATEs), in addition to the
    master's own cancelledOccurrences and exceptionOccurrences.
    """
    if event.id and event.type is None and (event.recurrence or event.series_master_id or event.original_start):
        # Graph always sends `type` with these: without it calsync cannot tell a series from one of its
        # occurrences, and reading it as a single event would copy one meeting where a series is meant
        raise ValidationError(f"event {event.id!r} carries recurrence data but no type; refusing to guess what it is")
    kind = _event_type(event)
    if kind not in (EventType.SingleInstance.value, EventType.SeriesMaster.value):
        raise ValidationError(
            f"event {event.id!r} is of type {kind}; map its series master ({event.series_master_id!r}) instead"
        )
    recurring = event.recurrence is not None
    if kind == EventType.SeriesMaster.value and not recurring:
        raise ValidationError(f"series master {event.id!r} came without its recurrence; select it (EVENT_SELECT)")
    all_day = bool(event.is_all_day)
    zone = _zone_of(event, strict=all_day or recurring)
    start, end = _bounds(event, all_day, zone)
    categories = event.categories or []
    base = Booking(
        room=room,
        subject=event.subject or "",
        start=start,
        end=end,
        all_day=all_day,
        time_zone=zone,
        organizer=_organizer(event),
        sensitivity=_sensitivity(event),
        status=_status(event),
        kind=BookingKind.BLOCK if BLOCK_CATEGORY in categories else BookingKind.MEETING,
        ids=SourceIds(outlook=event.id, booking=stamp_of(event)),
    )
    if not recurring:
        return base
    rule = pattern_to_rrule(event.recurrence)  # type: ignore[arg-type]
    base = _anchored(base, rule, event)
    series = _Series(base.model_copy(update={"recurrence": Recurrence(rrule=rule)}))
    exdates: set[dt.datetime | dt.date] = set()
    for text in event.cancelled_occurrences or ():
        day = _oid_date(text)
        original = series.on_date(day) if day else None
        if original is None:
            raise ValidationError(f"cancelled occurrence {text!r} names no date of the series {event.id!r}")
        exdates.add(original)
    overrides: dict[dt.datetime | dt.date, OccurrenceOverride] = {}
    for instance in [*(event.exception_occurrences or ()), *instances]:
        instance_kind = _event_type(instance)
        released = instance.is_cancelled or declined(instance)  # an occurrence the room declined is not booked
        if instance_kind == EventType.Occurrence.value and not released:
            continue
        original = series.original(instance)
        if released:
            exdates.add(original)
            overrides.pop(original, None)
            continue
        if original in exdates:
            continue
        override = _override(instance, original, base, all_day, zone)
        if override is not None:
            overrides[original] = override
    return base.model_copy(
        update={"recurrence": Recurrence(rrule=rule, exdates=tuple(exdates), overrides=tuple(overrides.values()))}
    )


def _anchored(base: Booking, rule: str, event: GraphEvent) -> Booking:
    """The series as Outlook counts it: with INTERVAL > 1 it starts at the first occurrence on or after
    range.startDate (calsync.recurrence.outlook_anchor), whatever start the master reports."""
    span = event.recurrence.range if event.recurrence is not None else None
    if span is None or span.start_date is None or "INTERVAL=" not in rule:
        return base
    zone = ZoneInfo(base.time_zone)
    time_of_day = base.start.astimezone(zone).time() if isinstance(base.start, dt.datetime) else dt.time(0)
    first = outlook_anchor(rule, span.start_date, time_of_day)
    if first is None:
        return base
    moved = first.date() if base.all_day else first.replace(tzinfo=zone).astimezone(UTC)
    shift = moved - base.start  # type: ignore[operator]
    if not shift:
        return base
    return base.model_copy(update={"start": base.start + shift, "end": base.end + shift})


def _override(
    instance: GraphEvent, original: dt.datetime | dt.date, master: Booking, all_day: bool, zone: str
) -> OccurrenceOverride | None:
    """The override an exception instance stands for; None when it differs in nothing calsync syncs."""
    start, end = _bounds(instance, all_day, zone)
    if isinstance(original, dt.datetime):
        pattern_end: dt.datetime | dt.date = original + (master.end - master.start)  # type: ignore[operator]
    else:
        pattern_end = original + (master.end - master.start)  # type: ignore[operator]
    subject = instance.subject if instance.subject is not None and instance.subject != master.subject else None
    if start == original and end == pattern_end and subject is None:
        return None
    return OccurrenceOverride(
        original_start=original, start=start, end=end, subject=subject, ids=SourceIds(outlook=instance.id)
    )


# --- writing --------------------------------------------------------------------------------


def _when(value: dt.datetime | dt.date, zone: str) -> DateTimeTimeZone:
    if isinstance(value, dt.datetime):
        local = value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    else:
        local = dt.datetime.combine(value, dt.time(0))
    return DateTimeTimeZone(date_time=local.strftime("%Y-%m-%dT%H:%M:%S"), time_zone=graph_zone_name(zone))


def _subject(booking: Booking, subject: str | None, private_subject: str) -> str | None:
    if subject is None:
        return None
    return private_subject if booking.sensitivity.hides_subject else subject


def booking_to_event(booking: Booking, *, private_subject: str, stamp: str | None) -> GraphEvent:
    """The GraphEvent to POST for ``booking`` (EXDATEs and overrides follow via plan_instance_changes)."""
    event = GraphEvent(
        subject=_subject(booking, booking.subject, private_subject),
        start=_when(booking.start, booking.time_zone),
        end=_when(booking.end, booking.time_zone),
        is_all_day=booking.all_day,
        sensitivity=booking.sensitivity.value,
        show_as=FreeBusyStatus.Tentative if booking.status is BookingStatus.TENTATIVE else FreeBusyStatus.Busy,
        categories=[BLOCK_CATEGORY] if booking.kind is BookingKind.BLOCK else [],
    )
    if booking.recurrence is not None:
        event.recurrence = rrule_to_pattern(booking.recurrence.rrule, _local_start(booking), booking.time_zone)
    if stamp is not None:
        event.single_value_extended_properties = [ExtendedProperty(id=STAMP_PROPERTY_ID, value=stamp)]
    return event


def _local_start(booking: Booking) -> dt.datetime | dt.date:
    if isinstance(booking.start, dt.datetime):
        return booking.start.astimezone(ZoneInfo(booking.time_zone)).replace(tzinfo=None)
    return booking.start


_PATCHED = ("subject", "sensitivity", "showAs", "categories", "isAllDay", "start", "end", "recurrence")


def event_patch(current: Booking, desired: Booking, *, private_subject: str) -> GraphEvent | None:
    """A GraphEvent with only the fields in which ``desired`` differs from ``current``; None if none.

    Fields are compared as they would be written, except the subject: the subject the
    event shows is compared with ``desired``'s, and written as it is (see the module
    docstring: the caller masks a copy's). Start and end always travel together, with
    isAllDay when that changes; a series whose start moves gets its recurrence too
    (range.startDate). Status cancelled, EXDATEs and overrides are not PATCHed here.
    """
    full = booking_to_event(desired, private_subject=private_subject, stamp=None)
    full.subject = desired.subject  # written as it is: the caller masks a copy's
    now = booking_to_event(current, private_subject=private_subject, stamp=None).to_dict()
    now["subject"] = current.subject
    want = full.to_dict()
    changed = {name for name in _PATCHED if now.get(name) != want.get(name)}
    if _restores_occurrences(current, desired):
        # a cancelled or moved occurrence must come back: Outlook has no "uncancel"; rewriting the series'
        # pattern resets its exceptions and cancellations (Outlook warns "any exceptions associated with this
        # recurring appointment will be lost"; assumed the same through Graph, not confirmed), and the caller
        # re-applies the exceptions still wanted
        changed.add("recurrence")
    if changed & {"start", "end", "isAllDay"}:
        changed |= {"start", "end"}
        if desired.recurrence is not None:
            changed.add("recurrence")
    if not changed:
        return None
    patch = GraphEvent()
    for name, attribute in (
        ("subject", "subject"),
        ("sensitivity", "sensitivity"),
        ("showAs", "show_as"),
        ("categories", "categories"),
        ("isAllDay", "is_all_day"),
        ("start", "start"),
        ("end", "end"),
        ("recurrence", "recurrence"),
    ):
        if name in changed:
            setattr(patch, attribute, getattr(full, attribute))
    if "recurrence" in changed and full.recurrence is None:
        patch.clear("recurrence")  # a series turned into a single event
    return patch


def _restores_occurrences(current: Booking, desired: Booking) -> bool:
    """Whether ``desired`` no longer cancels or moves an occurrence that ``current`` does."""
    if current.recurrence is None or desired.recurrence is None:
        return False
    moved = {o.original_start for o in desired.recurrence.overrides}
    return bool(set(current.recurrence.exdates) - set(desired.recurrence.exdates)
                or {o.original_start for o in current.recurrence.overrides} - moved)  # fmt: skip


class InstanceAction(StrEnum):
    PATCH = "patch"
    DELETE = "delete"


@dataclass(frozen=True)
class InstanceChange:
    """One instance of an Outlook series to PATCH (moved/retitled) or DELETE (EXDATE)."""

    action: InstanceAction
    instance_id: str
    original_start: dt.datetime | dt.date
    patch: GraphEvent | None = None


def plan_instance_changes(desired: Booking, instances: Sequence[GraphEvent]) -> list[InstanceChange]:
    """What to do to ``instances`` (from /instances) so the Outlook series has ``desired``'s EXDATEs and overrides.

    An instance whose original start is an EXDATE is deleted; one with an override is
    moved/retitled to it; an exception without an override goes back to the pattern.
    Instances already right need nothing. Cancelled instances are left alone.
    """
    if desired.recurrence is None:
        raise ValidationError("plan_instance_changes needs a recurring booking")
    series = _Series(desired)
    exdates = set(desired.recurrence.exdates)
    overrides = {o.original_start: o for o in desired.recurrence.overrides}
    changes: list[InstanceChange] = []
    for instance in instances:
        if instance.is_cancelled or not instance.id:
            continue
        if instance.original_start is None and _event_type(instance) == EventType.Occurrence.value:
            original = _start_key(instance, desired)
        else:
            original = series.original(instance)
        if original in exdates:
            changes.append(InstanceChange(InstanceAction.DELETE, instance.id, original))
            continue
        override = overrides.get(original)
        start, end = (override.start, override.end) if override else _pattern_bounds(desired, original)
        subject = override.subject if override and override.subject is not None else desired.subject
        written = subject  # as given: the caller masks a copy's subjects (the series' and its overrides')
        now_start, now_end = _bounds(instance, desired.all_day, desired.time_zone)
        patch = GraphEvent()
        if (now_start, now_end) != (start, end):
            patch.start = _when(start, desired.time_zone)
            patch.end = _when(end, desired.time_zone)
        if instance.subject is not None and instance.subject != written:
            patch.subject = written
        if patch.start is not None or patch.subject is not None:
            changes.append(InstanceChange(InstanceAction.PATCH, instance.id, original, patch))
    return changes


def _start_key(instance: GraphEvent, booking: Booking) -> dt.datetime | dt.date:
    start, _ = _bounds(instance, booking.all_day, booking.time_zone)
    return start


def _pattern_bounds(
    booking: Booking, original: dt.datetime | dt.date
) -> tuple[dt.datetime | dt.date, dt.datetime | dt.date]:
    return original, original + (booking.end - booking.start)  # type: ignore[operator]


__all__ = [
    "BLOCK_CATEGORY",
    "EVENT_SELECT",
    "EXCEPTIONS_EXPAND",
    "INSTANCE_SELECT",
    "STAMP_EXPAND",
    "STAMP_PROPERTY_ID",
    "InstanceAction",
    "InstanceChange",
    "booking_to_event",
    "event_patch",
    "event_to_booking",
    "plan_instance_changes",
    "removed_reason",
    "stamp_filter",
    "stamp_of",
]
