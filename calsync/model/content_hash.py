"""Content hash of a Booking over the synced fields only: calsync's echo detector.

The hash is SHA-256 over canonical JSON (sorted keys, no whitespace) of the fields
that the sync copies: room, subject, bounds, all-day, organizer e-mail,
sensitivity, status, kind and recurrence. It ignores source ids and bookkeeping,
reads instants in UTC (so equal instants written in different zones hash the
same), applies Unicode NFC to text, and includes the time zone only where it
changes meaning (all-day bookings and recurring series, which expand in it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import unicodedata
from typing import Any

from calsync.model.booking import Booking, OccurrenceOverride, Recurrence


def _text(value: str | None) -> str | None:
    return None if value is None else unicodedata.normalize("NFC", value)


def _when(value: dt.datetime | dt.date) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def _override(override: OccurrenceOverride) -> dict[str, Any]:
    return {
        "original_start": _when(override.original_start),
        "start": _when(override.start),
        "end": _when(override.end),
        "subject": _text(override.subject),
    }


def _recurrence(recurrence: Recurrence | None) -> dict[str, Any] | None:
    if recurrence is None:
        return None
    return {
        "rrule": recurrence.rrule,
        "exdates": sorted(_when(value) for value in recurrence.exdates),
        "overrides": sorted((_override(o) for o in recurrence.overrides), key=lambda o: o["original_start"]),
    }


def synced_fields(booking: Booking) -> dict[str, Any]:
    """The canonical, comparable view of the fields the sync copies."""
    zone_matters = booking.all_day or booking.recurrence is not None
    email = booking.organizer.email
    return {
        "room": booking.room,
        "subject": _text(booking.subject),
        "start": _when(booking.start),
        "end": _when(booking.end),
        "all_day": booking.all_day,
        "time_zone": booking.time_zone if zone_matters else None,
        "organizer": _text(email.lower()) if email else None,
        "sensitivity": booking.sensitivity.value,
        "status": booking.status.value,
        "kind": booking.kind.value,
        "recurrence": _recurrence(booking.recurrence),
    }


def slot_fields(booking: Booking) -> dict[str, Any]:
    """The part of ``synced_fields`` that decides whom a booking can overlap, and who wins: room, times, kind.

    Times as the content hash reads them (instants in UTC, series with their zone, rule,
    EXDATEs and moved occurrences), status (a cancelled booking holds nothing) and kind
    (a block outranks meetings); no title, organiser or sensitivity.
    """
    fields = synced_fields(booking)
    recurrence = fields["recurrence"]
    if recurrence is not None:
        overrides = [{key: value for key, value in o.items() if key != "subject"} for o in recurrence["overrides"]]
        recurrence = {**recurrence, "overrides": overrides}
    return {key: fields[key] for key in ("room", "start", "end", "all_day", "time_zone", "status", "kind")} | {
        "recurrence": recurrence}


def _digest(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def slot_hash(booking: Booking) -> str:
    """Hex SHA-256 of the canonical JSON of ``slot_fields(booking)``: equal when only title, organiser or the like differ."""
    return _digest(slot_fields(booking))


def content_hash(booking: Booking) -> str:
    """Hex SHA-256 of the canonical JSON of ``synced_fields(booking)``."""
    return _digest(synced_fields(booking))
