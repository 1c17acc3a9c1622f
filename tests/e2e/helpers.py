"""Small builders for end-to-end tests: Graph event JSON and booking fields as users would enter them."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from calsync.outlook.zones import windows_to_iana

MAILBOX = "room-a@contoso.example"
ROOM_ID = "R-100"


def graph_event(subject: str, start: str, end: str, zone: str = "W. Europe Standard Time", **extra: Any) -> dict:
    """An event as a user creates it in Outlook (local wall times in a Windows zone)."""
    return {"subject": subject, "start": {"dateTime": start, "timeZone": zone},
            "end": {"dateTime": end, "timeZone": zone}, **extra}  # fmt: skip


def booking_fields(title: str, start: str, end: str, zone: str = "Europe/Berlin", **extra: Any) -> dict:
    """A booking as a user enters it in the booking system (RFC 3339 with offsets)."""
    return {"title": title, "start": start, "end": end, "time_zone": zone,
            "organizer": {"name": "Ada Lovelace", "email": "ada@contoso.example"}, **extra}  # fmt: skip


def live_bookings(stack: Any, room_id: str = ROOM_ID) -> list[dict]:
    return [
        b for b in stack.booking.bookings() if b["room_id"] == room_id and b["status"] not in ("cancelled", "rejected")
    ]


def live_events(stack: Any, mailbox: str = MAILBOX) -> list[dict]:
    events = stack.graph.events(mailbox)
    return [
        e for e in events if not e.get("isCancelled") and (e.get("responseStatus") or {}).get("response") != "declined"
    ]


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
