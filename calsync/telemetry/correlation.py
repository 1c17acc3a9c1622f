"""Correlation of log lines with the sync they belong to.

``with sync_context(room=..., source=..., item_id=..., message_id=...) as ctx:`` puts
the sync's identity in a contextvar; every log record created inside (in this task
or thread) carries it as attributes ``room``, ``source``, ``item_id``, ``message_id``,
``outlook_id`` and ``booking_id``, which the OpenTelemetry logging handler exports
as customDimensions in Application Insights. Ids learned during the sync (the target's
id after a create) are added with ``ctx.update(...)``. ``ctx.protect(booking)`` masks a
private meeting's subject in every log line of the context, should one slip into a
message by mistake.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from typing import Any

from calsync.model.booking import Booking

CORRELATION_KEYS = ("room", "source", "item_id", "message_id", "outlook_id", "booking_id")
"""The attribute names every log line of a sync carries (when known)."""


class SyncContext:
    """The identity of one sync in progress, and the private values its logs must not show."""

    def __init__(self, attributes: dict[str, str], protected: frozenset[str]) -> None:
        self._attributes = attributes
        self._protected = protected

    @property
    def attributes(self) -> dict[str, str]:
        """The correlation attributes known so far (copy)."""
        return dict(self._attributes)

    @property
    def protected(self) -> frozenset[str]:
        return self._protected

    def update(self, **ids: object) -> None:
        """Add ids learned during the sync (e.g. ``booking_id`` after a create)."""
        self._attributes.update(_clean(ids))

    def protect(self, booking: Booking) -> None:
        """Mask ``booking``'s private texts (subject of a private meeting) in this context's logs."""
        self.mask(*private_texts(booking))

    def mask(self, *values: str) -> None:
        """Mask these values in this context's logs (shorter than 3 characters are ignored)."""
        fresh = {value for value in values if value and len(value.strip()) >= 3}
        if fresh:
            self._protected = self._protected | fresh


_current: ContextVar[SyncContext | None] = ContextVar("calsync_sync_context", default=None)


def _text(value: object) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def _clean(values: dict[str, object]) -> dict[str, str]:
    unknown = set(values) - set(CORRELATION_KEYS)
    if unknown:
        raise TypeError(f"unknown correlation attribute(s): {', '.join(sorted(unknown))}")
    return {key: _text(value) for key, value in values.items() if value is not None and value != ""}


@contextmanager
def sync_context(
    *,
    room: str | None = None,
    source: object | None = None,
    item_id: str | None = None,
    message_id: str | None = None,
    outlook_id: str | None = None,
    booking_id: str | None = None,
) -> Iterator[SyncContext]:
    """Correlate every log line inside the block with this sync (nested blocks add to the outer one)."""
    parent = _current.get()
    attributes = parent.attributes if parent else {}
    attributes.update(
        _clean(
            {
                "room": room,
                "source": source,
                "item_id": item_id,
                "message_id": message_id,
                "outlook_id": outlook_id,
                "booking_id": booking_id,
            }
        )
    )
    context = SyncContext(attributes, parent.protected if parent else frozenset())
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def current_context() -> SyncContext | None:
    """The sync context of the running code, if any."""
    return _current.get()


def protected_values() -> frozenset[str]:
    """Private values masked in the current context's logs."""
    context = _current.get()
    return context.protected if context else frozenset()


class CorrelationFilter(logging.Filter):
    """Adds the current sync context's attributes to a record (never overrides explicit extras)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        if context is not None:
            for key, value in context._attributes.items():
                if key not in record.__dict__:
                    setattr(record, key, value)
        return True


def correlation_attributes() -> dict[str, Any]:
    """The current context's attributes, e.g. to attach to a span or a queue message."""
    context = _current.get()
    return context.attributes if context else {}


def private_texts(booking: Booking) -> tuple[str, ...]:
    """The texts of ``booking`` that must never reach telemetry (its subjects when private)."""
    if not booking.sensitivity.hides_subject:
        return ()
    texts = [booking.subject]
    if booking.recurrence is not None:
        texts.extend(o.subject for o in booking.recurrence.overrides if o.subject)
    return tuple(text for text in texts if text and len(text.strip()) >= 3)
