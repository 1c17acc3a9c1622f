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


def content_hash(booking: Booking) -> str:
    """Hex SHA-256 of the canonical JSON of ``synced_fields(booking)``."""
    canonical = json.dumps(synced_fields(booking), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
