"""MRBS rows <-> the canonical Booking (pure: no database here).

Identity: MRBS recreates rows (new ids) on every edit (../shared/MRBS.md), so a calsync booking
id is the ``ical_uid``: one booking for a single entry, one for a series (its ``repeat`` row,
its occurrence rows, and the rows of occurrences MRBS detached when someone edited them).
Reading a series: the ``repeat`` row gives the RRULE (repeat_rule); each pattern occurrence is
matched by ``ical_recur_id`` (the occurrence's original start in UTC): a row that differs from
the pattern, or a detached row, is an override; a missing row is a cancelled date (EXDATE).

Fields: ``name`` <-> subject; ``status`` bit 1 <-> private, bits 2 (awaiting approval) and 4
(tentative) -> tentative; ``type`` = the configured block letter <-> a block; the area's zone
(or MRBS's) <-> time_zone; an entry from the area's first slot to the end of its last slot is
all-day (MRBS's "All day"); ``create_by`` (or the organiser calsync stored) <-> organizer.
``description`` is MRBS's alone: calsync keeps what is there and writes '' on create.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from calsync.booking.mrbs.repeat_rule import RepeatFields, repeat_from_rrule, rrule_from_repeat, series_starts
from calsync.booking.mrbs.schema import (
    ENTRY_RPT_ORIGINAL,
    ENTRY_SINGLE,
    STATUS_AWAITING_APPROVAL,
    STATUS_PRIVATE,
    STATUS_TENTATIVE,
)
from calsync.booking.protocol import BookingRecord
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
from calsync.recurrence import expand

UTC = dt.UTC


@dataclass(frozen=True)
class AreaDay:
    """Where an area's booking day starts and ends (seconds after local midnight) and its zone."""

    zone: str
    day_start: int = 7 * 3600  # MRBS's defaults: 07:00 ...
    day_end: int = 19 * 3600  # ... to the end of the 18:30 slot

    def all_day_bounds(self, first: dt.date, last: dt.date) -> tuple[int, int]:
        zone = ZoneInfo(self.zone)
        start = dt.datetime.combine(first, dt.time(0), tzinfo=zone) + dt.timedelta(seconds=self.day_start)
        end = dt.datetime.combine(last, dt.time(0), tzinfo=zone) + dt.timedelta(seconds=self.day_end)
        return int(start.timestamp()), int(end.timestamp())

    def as_all_day(self, start: int, end: int) -> tuple[dt.date, dt.date] | None:
        """[first, last + 1 day) when start..end is MRBS's "All day" over whole booking days."""
        if not 0 <= self.day_start < self.day_end <= 86400:
            return None
        zone = ZoneInfo(self.zone)
        first = dt.datetime.fromtimestamp(start, zone).date()
        last = dt.datetime.fromtimestamp(end, zone).date()
        if self.day_end == 86400:
            last -= dt.timedelta(days=1)
        if last < first or self.all_day_bounds(first, last) != (start, end):
            return None
        return first, last + dt.timedelta(days=1)


@dataclass(frozen=True)
class Row:
    """An ``entry`` or ``repeat`` row, as far as calsync reads it (``repeat`` fields only on repeat rows)."""

    id: int
    start_time: int
    end_time: int
    room_id: int
    name: str
    status: int
    type: str
    ical_uid: str
    ical_sequence: int
    create_by: str = ""
    modified_by: str = ""
    description: str | None = None
    timestamp: dt.datetime | None = None
    entry_type: int = ENTRY_SINGLE
    repeat_id: int | None = None
    ical_recur_id: str | None = None
    repeat: RepeatFields | None = None

    @classmethod
    def from_mapping(cls, values: Any, *, repeat: bool = False) -> Row:
        data = {name: values[name] for name in cls.__dataclass_fields__ if name != "repeat" and name in values}
        stamp = data.get("timestamp")
        if isinstance(stamp, dt.datetime) and stamp.tzinfo is None:
            data["timestamp"] = stamp.replace(tzinfo=UTC)  # MySQL: the session runs in UTC
        if repeat:
            data["repeat"] = RepeatFields(
                values["rep_type"], values["rep_opt"], values["rep_interval"], values["month_absolute"],
                values["month_relative"], values["end_date"],
            )  # fmt: skip
        return cls(**data)


@dataclass(frozen=True)
class Link:
    """calsync's own row for a booking it created: the Outlook stamp and the organiser."""

    ical_uid: str
    external_ref: str | None = None
    idempotency_key: str | None = None
    organizer_name: str | None = None
    organizer_email: str | None = None
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class Kinds:
    """The MRBS type letters calsync writes for meetings and reads/writes as blocks."""

    meeting: str = "I"
    block: str | None = None


def recur_id(instant: dt.datetime) -> str:
    """MRBS's ical_recur_id of an occurrence: its original start in UTC, 20270325T080000Z."""
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _utc(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, UTC)


# --- rows -> Booking ---------------------------------------------------------------------------


def version_of(rows: Sequence[Row]) -> str:
    """Changes whenever any row of the booking changes (ids, times, text, status, timestamps)."""
    material = repr(sorted((row.repeat is not None, repr(row)) for row in rows))
    return hashlib.sha256(material.encode()).hexdigest()[:20]


def _common(row: Row, kinds: Kinds, link: Link | None) -> dict[str, Any]:
    organizer = (
        Organizer(name=link.organizer_name, email=link.organizer_email)
        if link is not None and (link.organizer_name or link.organizer_email)
        else Organizer(name=row.create_by or None)
    )
    return {
        "subject": row.name,
        "organizer": organizer,
        "sensitivity": Sensitivity.PRIVATE if row.status & STATUS_PRIVATE else Sensitivity.NORMAL,
        "status": (
            BookingStatus.TENTATIVE
            if row.status & (STATUS_TENTATIVE | STATUS_AWAITING_APPROVAL)
            else BookingStatus.CONFIRMED
        ),
        "kind": BookingKind.BLOCK if kinds.block and row.type == kinds.block else BookingKind.MEETING,
    }


def booking_from_rows(
    booking_id: str, rows: Sequence[Row], *, room: str, area: AreaDay, kinds: Kinds, link: Link | None = None
) -> Booking:
    """The canonical Booking of one booking's rows (a repeat row among them makes it a series)."""
    master = next((row for row in rows if row.repeat is not None), None)
    base = master or min(rows, key=lambda row: (row.start_time, row.id))
    span = area.as_all_day(base.start_time, base.end_time)
    fields: dict[str, Any] = {
        **_common(base, kinds, link), "room": room, "time_zone": area.zone,
        "ids": SourceIds(booking=booking_id, outlook=link.external_ref if link else None),
    }  # fmt: skip
    if span is not None:
        fields.update(start=span[0], end=span[1], all_day=True)
    else:
        fields.update(start=_utc(base.start_time), end=_utc(base.end_time))
    if master is None or master.repeat is None:
        return Booking(**fields)
    rule = rrule_from_repeat(master.repeat, area.zone)
    by_recur: dict[str, Row] = {}
    for row in sorted(rows, key=lambda r: r.repeat_id is None):  # detached rows (edited occurrences) win
        if row.repeat is None and row.ical_recur_id:
            by_recur[row.ical_recur_id] = row
    exdates: list[dt.datetime | dt.date] = []
    overrides: list[OccurrenceOverride] = []
    duration = base.end_time - base.start_time
    for start in series_starts(rule, _utc(base.start_time), area.zone):
        row = by_recur.get(recur_id(start))
        original: dt.datetime | dt.date = start
        if span is not None:
            original = start.astimezone(ZoneInfo(area.zone)).date()
        if row is None:
            exdates.append(original)
            continue
        moved = row.start_time != int(start.timestamp()) or row.end_time - row.start_time != duration
        if moved or row.name != base.name:
            overrides.append(_override(row, original, span is not None, area, base.name))
    fields["recurrence"] = Recurrence(rrule=rule, exdates=tuple(exdates), overrides=tuple(overrides))
    return Booking(**fields)


def _override(row: Row, original: dt.datetime | dt.date, all_day: bool, area: AreaDay, name: str) -> OccurrenceOverride:
    subject = row.name if row.name != name else None
    span = area.as_all_day(row.start_time, row.end_time) if all_day else None
    if span is not None:
        return OccurrenceOverride(original_start=original, start=span[0], end=span[1], subject=subject)
    return OccurrenceOverride(
        original_start=original, start=_utc(row.start_time), end=_utc(row.end_time), subject=subject
    )


def record_from_rows(
    booking_id: str, rows: Sequence[Row], *, room: str, area: AreaDay, kinds: Kinds, link: Link | None = None
) -> BookingRecord:
    """The BookingRecord of one booking's rows: version from every row, times from their timestamps."""
    booking = booking_from_rows(booking_id, rows, room=room, area=area, kinds=kinds, link=link)
    stamps = [row.timestamp for row in rows if row.timestamp is not None] or [dt.datetime(1970, 1, 1, tzinfo=UTC)]
    created = link.created_at if link is not None and link.created_at is not None else min(stamps)
    return BookingRecord(
        id=booking_id, room_id=str(rows[0].room_id), booking=booking, version=version_of(rows),
        external_ref=link.external_ref if link else None,
        created_at=created.astimezone(UTC), updated_at=max(max(stamps), created).astimezone(UTC),
    )  # fmt: skip


# --- Booking -> rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """The rows MRBS would hold for a booking: the repeat row (series only) and the entry rows."""

    repeat: dict[str, Any] | None
    entries: tuple[dict[str, Any], ...]

    def intervals(self) -> list[tuple[int, int]]:
        return [(row["start_time"], row["end_time"]) for row in self.entries]


def _status(booking: Booking) -> int:
    status = STATUS_PRIVATE if booking.sensitivity.hides_subject else 0
    return status | (STATUS_TENTATIVE if booking.status is BookingStatus.TENTATIVE else 0)


def plan_rows(
    booking: Booking, *, uid: str, sequence: int, room_id: int, area: AreaDay, kinds: Kinds,
    create_by: str, modified_by: str, description: str = "",
) -> Planned:  # fmt: skip
    """The rows for ``booking`` as MRBS's edit_entry_handler writes them (ids left to the database)."""
    common = {
        "room_id": room_id, "create_by": create_by, "modified_by": modified_by, "name": booking.subject[:80],
        "type": kinds.block if booking.kind is BookingKind.BLOCK and kinds.block else kinds.meeting,
        "description": description, "status": _status(booking), "ical_uid": uid, "ical_sequence": sequence,
    }  # fmt: skip
    first_start, first_end = _bounds(booking.start, booking.end, area)
    if booking.recurrence is None:
        entry = {**common, "start_time": first_start, "end_time": first_end, "entry_type": ENTRY_SINGLE,
                 "ical_recur_id": None if sequence == 0 else ""}  # fmt: skip
        return Planned(None, (entry,))
    repeat_fields = repeat_from_rrule(booking.recurrence.rrule, _utc(first_start), area.zone)
    repeat = {**common, **repeat_fields.__dict__, "start_time": first_start, "end_time": first_end}
    last = _utc(repeat_fields.end_date) + dt.timedelta(days=2)
    entries = []
    for occurrence in expand(booking, _utc(first_start) - dt.timedelta(days=1), last):
        if occurrence.original_start > _utc(repeat_fields.end_date):
            continue
        start, end = _occurrence_bounds(occurrence.start, occurrence.end, booking, area)
        original = _occurrence_bounds(occurrence.original_start, occurrence.original_start, booking, area)[0]
        moved = occurrence.subject is not None or occurrence.start != occurrence.original_start or (
            (end - start) != (first_end - first_start))
        entries.append({
            **common, "start_time": start, "end_time": end, "ical_recur_id": recur_id(_utc(original)),
            "entry_type": ENTRY_SINGLE if moved else ENTRY_RPT_ORIGINAL, "name": (occurrence.subject or booking.subject)[:80],
            "ical_sequence": sequence + 1 if moved else sequence, "detached": moved,
        })  # fmt: skip
    return Planned(repeat, tuple(entries))


def _bounds(start: dt.datetime | dt.date, end: dt.datetime | dt.date, area: AreaDay) -> tuple[int, int]:
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        return int(start.timestamp()), int(end.timestamp())
    return area.all_day_bounds(start, end - dt.timedelta(days=1))  # type: ignore[arg-type, operator]


def _occurrence_bounds(start: dt.datetime, end: dt.datetime, booking: Booking, area: AreaDay) -> tuple[int, int]:
    if not booking.all_day:
        return int(start.timestamp()), int(end.timestamp())
    zone = ZoneInfo(booking.time_zone)
    first, stop = start.astimezone(zone).date(), end.astimezone(zone).date()
    return area.all_day_bounds(first, max(first, stop - dt.timedelta(days=1)))


def with_room(planned: Planned, room_id: int) -> Planned:
    """The same rows in another room."""
    repeat = None if planned.repeat is None else {**planned.repeat, "room_id": room_id}
    return replace(planned, repeat=repeat, entries=tuple({**e, "room_id": room_id} for e in planned.entries))
