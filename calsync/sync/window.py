"""The sync window: the span of time calsync keeps identical on both sides, computed in one place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class SyncWindow:
    """[now - past, now + future): what reconcile compares, series are expanded over, and backfill copies."""

    past: dt.timedelta
    future: dt.timedelta
    clock: Clock = utc_now

    @classmethod
    def days(cls, past_days: int, future_days: int, clock: Clock = utc_now) -> SyncWindow:
        return cls(dt.timedelta(days=past_days), dt.timedelta(days=future_days), clock)

    def bounds(self, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
        moment = self.clock() if now is None else now
        return moment - self.past, moment + self.future

    def __call__(self) -> tuple[dt.datetime, dt.datetime]:
        """The window as of now (a callable, so sides can take it where they took a function)."""
        return self.bounds()
