"""Encodes any id into a safe PartitionKey/RowKey and back.

Table Storage forbids '/', '\\', '#', '?' and control characters in keys, and
Graph ids contain '/', '+' and '='. Every id is therefore stored as unpadded
URL-safe base64 of its UTF-8 bytes (alphabet A-Z a-z 0-9 - _), which is
reversible, case-preserving and never needs OData quoting. Row kinds are told
apart by a short readable prefix ("m~", "o~", "b~").
"""

from __future__ import annotations

import base64
import binascii

from calsync.errors import ValidationError

MAX_KEY_BYTES = 1024  # Table Storage limit per key


def encode_key(value: str) -> str:
    """A Table Storage-safe key for ``value`` (any non-empty string)."""
    if not value:
        raise ValidationError("an id used as a table key must not be empty")
    encoded = base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii").rstrip("=")
    if len(encoded) + 2 > MAX_KEY_BYTES:
        raise ValidationError(f"id of {len(value)} characters is too long for a table key (max ~760 bytes)")
    return encoded


def decode_key(key: str) -> str:
    """The original id of an ``encode_key`` result."""
    try:
        padded = key + "=" * (-len(key) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError(f"table key {key!r} is not an encoded calsync id") from None


def prefixed(prefix: str, value: str) -> str:
    """A RowKey of one row kind: ``prefix`` followed by the encoded id."""
    return f"{prefix}~{encode_key(value)}"
