"""Encodes any id into a safe PartitionKey/RowKey and back.

Table Storage forbids '/', '\\', '#', '?' and control characters in keys, and
Graph ids contain '/', '+' and '='. Every id is therefore stored as unpadded
URL-safe base64 of its UTF-8 bytes (alphabet A-Z a-z 0-9 - _), which is
reversible, case-preserving and never needs OData quoting. Row kinds are told
apart by a short readable prefix ("m~", "o~", "b~").

Table Storage limits each key to 1 KiB, i.e. 512 UTF-16 code units; base64 is
ASCII, so one character is one code unit. ``encode_key`` leaves room for the
longest row-kind prefix and refuses, before anything is written, ids that would
encode longer (about 380 UTF-8 bytes) and ids that are not valid Unicode text
(lone surrogates, which have no UTF-8 form). Both are ``KeyTooLong`` /
``ValidationError``: not retryable, the hint is dead-lettered with the reason.
"""

from __future__ import annotations

import base64
import binascii

from calsync.errors import ValidationError

MAX_KEY_BYTES = 1024  # Table Storage limit per key: 1 KiB
MAX_KEY_CHARS = MAX_KEY_BYTES // 2  # ... stored as UTF-16: 512 code units
PREFIX_CHARS = 2  # "m~", "o~", "b~": the longest prefix any caller puts before an encoded id
MAX_ENCODED_CHARS = MAX_KEY_CHARS - PREFIX_CHARS
MAX_ID_BYTES = MAX_ENCODED_CHARS * 3 // 4  # UTF-8 bytes whose unpadded base64 fits MAX_ENCODED_CHARS


class KeyTooLong(ValidationError):
    """An id whose encoded table key would exceed Table Storage's 1 KiB key limit."""


def encode_key(value: str) -> str:
    """A Table Storage-safe key for ``value`` (any non-empty, valid Unicode string).

    Raises ValidationError for an empty id or one with lone surrogates, KeyTooLong
    (a ValidationError) for an id whose key would exceed 512 UTF-16 code units.
    """
    if not value:
        raise ValidationError("an id used as a table key must not be empty")
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            f"an id of {len(value)} characters used as a table key contains a lone surrogate (not valid Unicode)"
        ) from None
    if len(raw) > MAX_ID_BYTES:
        raise KeyTooLong(
            f"an id of {len(raw)} UTF-8 bytes is too long for a table key: its encoded key would exceed"
            f" {MAX_KEY_CHARS} UTF-16 code units (1 KiB); at most {MAX_ID_BYTES} bytes fit"
        )
    encoded = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    assert len(encoded) <= MAX_ENCODED_CHARS
    return encoded


def decode_key(key: str) -> str:
    """The original id of an ``encode_key`` result."""
    try:
        padded = key + "=" * (-len(key) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError(f"table key {key[:80]!r} is not an encoded calsync id") from None


def prefixed(prefix: str, value: str) -> str:
    """A RowKey of one row kind: ``prefix`` followed by the encoded id."""
    if len(prefix) + 1 > PREFIX_CHARS:
        raise ValueError(f"row-kind prefix {prefix!r} is longer than the {PREFIX_CHARS} characters keys reserve")
    return f"{prefix}~{encode_key(value)}"
