"""Jobs on the "reconcile" queue: per-room maintenance that the timer and lifecycle notifications ask for.

A job names a room and what to do there: reconcile it (delta + change feed),
reauthorize or recreate its Graph subscription. Its MessageId is deterministic
per (kind, room, subscription, requested minute) so a burst of identical
lifecycle notifications collapses into one job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from calsync.model.booking import to_utc


class JobKind(StrEnum):
    RECONCILE = "reconcile"  # delta + change feed -> ChangeHints (and a full pass when a cursor is lost)
    REAUTHORIZE = "reauthorize"  # Graph lifecycle: reauthorizationRequired
    RESUBSCRIBE = "resubscribe"  # Graph lifecycle: subscriptionRemoved -> recreate, then reconcile
    ONBOARD = "onboard"  # calsync onboard: plan the room (dry run) or apply its stored plan (calsync.onboarding)


class MaintenanceJob(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: JobKind
    room: str = Field(min_length=1, max_length=128)
    subscription_id: str | None = None
    full: bool = False
    requested_at: dt.datetime
    apply: bool = False  # onboard: apply the stored plan (False: dry run)
    request_id: str = ""  # onboard: the CLI follows the progress row carrying this id

    @field_validator("requested_at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        return to_utc(value, "requested_at")

    @property
    def message_id(self) -> str:
        minute = self.requested_at.strftime("%Y%m%dT%H%M")
        material = "\x1f".join((self.kind.value, self.room, self.subscription_id or "", str(self.full), minute))
        if self.kind is JobKind.ONBOARD:
            material += f"\x1f{self.apply}\x1f{self.request_id}"
        return f"job-{hashlib.sha256(material.encode()).hexdigest()[:40]}"
