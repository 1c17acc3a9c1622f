"""Keeps secrets and personal data out of calsync's logs and log telemetry.

Three layers, each cheap and each enough on its own for the case it covers:

- ``redact(text)`` masks every registered secret (the settings' SecretStr values,
  registered by ``configure_telemetry``), credential-shaped fragments
  (``AccountKey=...``, ``SharedAccessKey=...``, ``sig=...``, ``Bearer ...``) and the
  private values protected in the current sync context (a private meeting's subject).
- ``RedactionFilter`` applies it to a ``logging.LogRecord``: the message, an exception's
  text, and ``extra`` attributes; keys that only ever hold personal data (attendees,
  body) are replaced outright.
- ``RedactingLogRecordProcessor`` applies it again to OpenTelemetry log records just
  before export, so nothing that reached the exporter by another path escapes.

``describe_booking(booking)`` is how the engine mentions a booking in a log line: ids,
times, status, and the subject only when the meeting is not private.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable
from typing import Any

from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord

from calsync.model.booking import Booking

MASK = "[redacted]"
"""What a masked value reads as in logs and telemetry."""

MIN_SECRET_LENGTH = 4
"""Shorter registered values are ignored: masking every 'abc' in every log line would hide everything."""

PERSONAL_KEYS = frozenset({"attendees", "attendee", "attendee_list", "body", "body_preview", "bodyPreview"})
"""Log-record attribute names whose values are personal data and never exported, whatever they hold."""

_CREDENTIAL_PATTERNS = (
    (
        re.compile(r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature|sig|client_secret|password)=[^;&\s\"']+"),
        r"\1=" + MASK,
    ),
    (re.compile(r"(?i)\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
)

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()


def register_secret(*values: str | None) -> None:
    """Mask these values wherever they appear in logs from now on (process-wide)."""
    global _secrets
    fresh = {value for value in values if value and len(value) >= MIN_SECRET_LENGTH}
    if not fresh:
        return
    with _lock:
        _secrets = _secrets | fresh


def registered_secret_count() -> int:
    """How many distinct secret values are masked (for diagnostics; never the values)."""
    return len(_secrets)


def clear_secrets() -> None:
    """Forget every registered secret (tests only)."""
    global _secrets
    with _lock:
        _secrets = frozenset()


def _context_values() -> frozenset[str]:
    from calsync.telemetry.correlation import protected_values  # correlation sits above this module

    return protected_values()


def redact(text: str) -> str:
    """``text`` with registered secrets, credential fragments and protected private values masked."""
    if not text:
        return text
    values = _secrets | _context_values()
    # Longest first, so a secret that contains another is masked whole.
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in _CREDENTIAL_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    """An attribute value made safe to export under ``key``."""
    if key in PERSONAL_KEYS:
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, (list, tuple)):
        return type(value)(redact(item) if isinstance(item, str) else item for item in value)
    return value


# Attributes every LogRecord has; anything else came from ``extra=`` or a filter.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
}


class RedactionFilter(logging.Filter):
    """Masks secrets and private values in a record's message, exception text and extra attributes.

    Never drops a record (always returns True). Safe to run more than once on a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format: leave it for logging to report
            message = None
        if message is not None:
            masked = redact(message)
            if masked != message:
                record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            exc_type, exc, tb = record.exc_info
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            masked = redact(text)
            if masked != text:
                # The exception object itself holds the secret: export only the masked text.
                record.exc_info, record.exc_text = None, None
                setattr(record, "exception.type", exc_type.__name__ if exc_type else "Exception")
                setattr(record, "exception.message", redact(str(exc)))
                setattr(record, "exception.stacktrace", masked)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS:
                safe = redact_value(key, value)
                if safe is not value:
                    setattr(record, key, safe)
        return True


class RedactingLogRecordProcessor(LogRecordProcessor):
    """OpenTelemetry log processor that masks body and attributes before any exporter sees them.

    Register it before the exporting processor (``configure_azure_monitor`` adds
    ``log_record_processors`` ahead of its own exporter).
    """

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        record = log_record.log_record
        if isinstance(record.body, str):
            record.body = redact(record.body)
        attributes = record.attributes
        if attributes:
            for key, value in list(attributes.items()):
                safe = redact_value(key, value)
                if safe is not value:
                    attributes[key] = safe  # type: ignore[index]

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _when(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def describe_booking(booking: Booking) -> dict[str, str | bool]:
    """A booking described for logs: never attendees or organizer, and no subject when private.

    Use it as ``logger.info("updating", extra=describe_booking(b))`` (explicit extras win
    over the sync context's attributes). Private and confidential meetings read as ``[private]``.
    """
    description: dict[str, str | bool] = {
        "room": booking.room,
        "start": _when(booking.start),
        "end": _when(booking.end),
        "all_day": booking.all_day,
        "status": booking.status.value,
        "sensitivity": booking.sensitivity.value,
        "kind": booking.kind.value,
        "recurring": booking.recurrence is not None,
        "subject": "[private]" if booking.sensitivity.hides_subject else booking.subject,
    }
    if booking.ids.outlook:
        description["outlook_id"] = booking.ids.outlook
    if booking.ids.booking:
        description["booking_id"] = booking.ids.booking
    return description


def secret_values(settings: Any) -> Iterable[str]:
    """Every SecretStr value in a Settings object (including lists of them)."""
    from pydantic import SecretStr

    for name in type(settings).model_fields:
        value = getattr(settings, name)
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, SecretStr):
                yield item.get_secret_value()
