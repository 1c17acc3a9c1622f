"""ChangeHint: the queue message that says "look at this item again", never the data itself.

HTTP functions and the reconciler produce hints; the sync engine consumes them and
always re-reads the item's current state. The Service Bus MessageId is derived
from what identifies one change (source, room, item, kind and the item's version
when the notification carries one), so duplicate notifications of the same change
collapse in Service Bus duplicate detection; the session id is the room key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from calsync.model.booking import Side, to_utc

MAX_ROOM_CHARS = 128
MAX_ITEM_ID_CHARS = 1024
MAX_VERSION_CHARS = 256


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    UNKNOWN = "unknown"  # reconcile and lifecycle hints: the engine finds out


VERSIONED_KINDS = (ChangeKind.CREATED, ChangeKind.UPDATED)
"""Hints whose version names the item's state after the change, so an echo of calsync's own write can be told
by it; a deletion names the last version, the one calsync saw, and is never skipped unread."""


class HintReason(StrEnum):
    WEBHOOK = "webhook"
    RECONCILE = "reconcile"
    LIFECYCLE = "lifecycle"
    REPLAY = "replay"
    BACKFILL = "backfill"  # onboarding (calsync.onboarding) copies an unpaired item while its room goes live
    MOVED = "moved"  # a booking's new room tells its old room that the booking left it (calsync.sync.moves)


class ChangeHint(BaseModel):
    """One item on one side of one room may have changed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Side
    room: str = Field(min_length=1, max_length=MAX_ROOM_CHARS)
    item_id: str = Field(min_length=1, max_length=MAX_ITEM_ID_CHARS)
    change_kind: ChangeKind = ChangeKind.UNKNOWN
    reason: HintReason = HintReason.WEBHOOK
    observed_at: dt.datetime
    version: str | None = Field(
        default=None,
        max_length=MAX_VERSION_CHARS,
        description="The item's version as the notification saw it (booking version, Graph etag), if any.",
    )

    @field_validator("room", "item_id", "version")
    @classmethod
    def _valid_unicode(cls, value: str | None) -> str | None:
        if value is not None and any("\ud800" <= char <= "\udfff" for char in value):
            raise ValueError("must not contain lone surrogates (not valid Unicode)")
        return value

    @field_validator("observed_at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        return to_utc(value, "observed_at")

    @property
    def session_id(self) -> str:
        """All hints of one room share a Service Bus session, so they apply one at a time."""
        return self.room

    @property
    def message_id(self) -> str:
        """Deterministic id for Service Bus duplicate detection (at most 128 characters).

        Two notifications of the same change give the same id. Without a version the
        observation time tells changes apart, so a later reconcile is never swallowed.
        """
        marker = self.version if self.version is not None else self.observed_at.isoformat()
        material = "\x1f".join((self.source.value, self.room, self.item_id, self.change_kind.value, marker))
        digest = hashlib.sha256(material.encode("utf-8")).hexdigest()[:40]
        return f"{self.source.value}-{digest}"

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, body: str | bytes) -> ChangeHint:
        return cls.model_validate_json(body)
