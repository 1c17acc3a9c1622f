"""JSON <-> msgraph-sdk models through kiota's own JSON parse node and serialization writer.

Documentation payloads, emulator JSON and SDK models meet here, so what the tests
parse is exactly what the SDK parses on the wire. Only ``write``-side fields that
are set (not None) appear in ``*_to_dict`` output, as the SDK sends them.
"""

from __future__ import annotations

import json
from typing import Any

from kiota_abstractions.serialization import Parsable
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from kiota_serialization_json.json_serialization_writer_factory import JsonSerializationWriterFactory
from msgraph.generated.models.event import Event
from msgraph.generated.models.patterned_recurrence import PatternedRecurrence

from calsync.errors import ValidationError

_JSON = "application/json"


def _as_bytes(data: bytes | str | dict[str, Any], what: str) -> bytes:
    if isinstance(data, dict):
        return json.dumps(data).encode("utf-8")
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


def parse_model(data: bytes | str | dict[str, Any], factory: Any, what: str = "payload") -> Any:
    """Parse JSON into the SDK model class ``factory`` (e.g. ``Event``)."""
    node = JsonParseNodeFactory().get_root_parse_node(_JSON, _as_bytes(data, what))
    return node.get_object_value(factory)


def model_to_dict(model: Parsable) -> dict[str, Any]:
    """The JSON object the SDK would send for ``model``."""
    writer = JsonSerializationWriterFactory().get_serialization_writer(_JSON)
    writer.write_object_value(None, model)
    return json.loads(writer.get_serialized_content())


def parse_event(data: bytes | str | dict[str, Any]) -> Event:
    """A Graph event JSON object (as in the documentation or on the wire) as an SDK ``Event``."""
    return parse_model(data, Event, "event")


def event_to_dict(event: Event) -> dict[str, Any]:
    """The JSON object the SDK would send for ``event``."""
    return model_to_dict(event)


def parse_recurrence(data: bytes | str | dict[str, Any]) -> PatternedRecurrence:
    """A Graph patternedRecurrence JSON object as an SDK ``PatternedRecurrence``."""
    return parse_model(data, PatternedRecurrence, "recurrence")


def recurrence_to_dict(recurrence: PatternedRecurrence) -> dict[str, Any]:
    """The JSON object the SDK would send for ``recurrence``."""
    return model_to_dict(recurrence)
