"""Helpers for end-to-end tests: the builders from devstack.local_stack, request-log views, held hints."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from calsync.outlook.zones import windows_to_iana
from devstack.local_stack import booking_fields, graph_event  # noqa: F401 - the tests' builders

MAILBOX = "room-a@contoso.example"
ROOM_ID = "R-100"


def live_bookings(stack: Any, room_id: str = ROOM_ID) -> list[dict]:
    return stack.live_bookings(room_id)


def live_events(stack: Any, mailbox: str = MAILBOX) -> list[dict]:
    return stack.live_events(mailbox)


def graph_utc(value: dict) -> dt.datetime:
    """A Graph dateTimeTimeZone as an aware UTC datetime, whatever zone it is written in."""
    local = dt.datetime.fromisoformat(value["dateTime"][:19])
    return local.replace(tzinfo=ZoneInfo(windows_to_iana(value["timeZone"]))).astimezone(dt.UTC)


def graph_writes(stack: Any) -> list[str]:
    """Writes calsync made to Graph's calendars (subscriptions excluded), as 'METHOD path'."""
    return [f"{r.method} {r.path}" for r in stack.graph.requests
            if r.method in ("POST", "PATCH", "DELETE") and "/events" in r.path]  # fmt: skip


def graph_reads(stack: Any) -> list[str]:
    return [f"{r.method} {r.path}" for r in stack.graph.requests if r.method == "GET"]


def booking_writes(stack: Any) -> list[str]:
    """Writes calsync made to the booking system's API, as 'METHOD path'."""
    return [f"{r.method} {r.path}" for r in stack.booking.requests
            if r.method in ("POST", "PUT", "PATCH", "DELETE") and r.path.startswith("/bookings")]  # fmt: skip


async def quiet_logs(stack: Any) -> None:
    await stack.settle()
    stack.graph.clear_requests()
    stack.booking.clear_requests()


class HeldHints:
    """Holds back every message the webhooks enqueue until ``release()``: both sides change before calsync looks."""

    def __init__(self, stack: Any) -> None:
        from calsync.functions import runtime
        from calsync.queues.publisher import PublisherBase

        class Recorder(PublisherBase):
            def __init__(self) -> None:
                self.messages: list[tuple[str, Any]] = []

            async def send(self, messages: Any, *, queue: str) -> None:
                self.messages.extend((queue, m) for m in messages)

        self.stack = stack
        self.recorder = Recorder()
        self.real = runtime.current().use_publisher(self.recorder)

    def messages(self, queue: str = "changes") -> list[Any]:
        return [m for q, m in self.recorder.messages if q == queue]

    async def release(self, messages: list[Any] | None = None) -> None:
        from calsync.functions import runtime

        await self.stack.settle()
        runtime.current().use_publisher(self.real)
        await self.real.send(self.messages() if messages is None else messages, queue="changes")
        await self.stack.settle()


def daily_bookings(stack: Any, title: str, days: int, hour: int = 9) -> list[dict]:
    """One half-hour booking per day of December 2026 in room-a, as users of the booking system make them."""
    return [stack.booking.user_create_booking(ROOM_ID, **booking_fields(
        f"{title} {day}", f"2026-12-{day:02d}T{hour:02d}:00:00+01:00", f"2026-12-{day:02d}T{hour:02d}:30:00+01:00"))
        for day in range(1, days + 1)]  # fmt: skip
