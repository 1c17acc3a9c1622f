"""JSON <-> calsync's Graph wire models (calsync.outlook.wire), for documentation payloads and tests.

What the tests parse is what the adapter parses on the wire (``wire.parse_event``);
only fields that are set (not None) appear in ``*_to_dict`` output, as they are sent.
Input that is not a JSON object is a ValidationError here (a caller's payload).
"""

from __future__ import annotations

import json
from typing import Any

from calsync.errors import ValidationError
from calsync.outlook import wire
from calsync.outlook.wire import GraphEvent, PatternedRecurrence


def _as_bytes(data: bytes | str | dict[str, Any], what: str) -> bytes | dict[str, Any]:
    if isinstance(data, dict):
        return data
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data.strip():
        raise ValidationError(f"{what} JSON is empty")
    try:
        parsed = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ValidationError(f"{what} JSON must be an object, got {type(parsed).__name__}")
    return data


def parse_event(data: bytes | str | dict[str, Any]) -> GraphEvent:
    """A Graph event JSON object (as in the documentation or on the wire) as a ``GraphEvent``."""
    return wire.parse_event(_as_bytes(data, "event"))


def event_to_dict(event: GraphEvent) -> dict[str, Any]:
    """The JSON object calsync would send for ``event``."""
    return event.to_dict()


def parse_recurrence(data: bytes | str | dict[str, Any]) -> PatternedRecurrence:
    """A Graph patternedRecurrence JSON object as a ``PatternedRecurrence``."""
    return wire.parse_recurrence(_as_bytes(data, "recurrence"))


def recurrence_to_dict(recurrence: PatternedRecurrence) -> dict[str, Any]:
    """The JSON object calsync would send for ``recurrence``."""
    return recurrence.to_dict()
