"""GraphCalendar under faults injected in the emulator: throttling, errors, slowness, lost responses."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from calsync.errors import NotFound, PermissionDenied, Throttled, TransientError
from calsync.outlook.graph_client import GraphCalendar
from calsync.outlook.serialization import parse_event
from devstack.graph import GraphEmulator
from tests.outlook.conftest import STAMP_PROPERTY_ID, WebhookReceiver, graph_settings, utc

pytestmark = pytest.mark.emulator


def event_json(subject: str = "Fault", day: int = 1) -> dict:
    return {
        "subject": subject,
        "start": {"dateTime": f"2026-07-{day:02d}T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"2026-07-{day:02d}T10:00:00", "timeZone": "UTC"},
    }


async def adapter(graph: GraphEmulator, **settings: object) -> GraphCalendar:
    return GraphCalendar.from_settings(graph_settings(graph.base_url, **settings), stamp_property_id=STAMP_PROPERTY_ID)


async def test_429_retry_after_is_obeyed(calendar: GraphCalendar, graph: GraphEmulator, mailbox: str) -> None:
    made = graph.user_create_event(mailbox, event_json())
    graph.clear_requests()
    graph.throttle("GET", "/users/*/events/*", times=1, retry_after=1)

    got = await calendar.get_event(mailbox, made["id"])

    assert got.id == made["id"]
    first, retry = graph.requests_to("GET", "/users/*/events/*")
    assert (first.status, retry.status) == (429, 200)
    assert retry.started - first.finished >= 0.95  # waited Retry-After: 1 second
    assert retry.headers.get("retry-attempt") == "1"
    assert retry.prefer() == first.prefer() == ['outlook.timezone="UTC"', 'IdType="ImmutableId"']


async def test_503_without_retry_after_backs_off_and_succeeds(
    calendar: GraphCalendar, graph: GraphEmulator, mailbox: str
) -> None:
    graph.throttle("POST", "/users/*/events", times=1, retry_after=None, status=503)

    created = await calendar.create_event(mailbox, parse_event(event_json()), "txn-503")

    assert created.id
    assert [r.status for r in graph.requests_to("POST", "/users/*/events")] == [503, 201]
    assert len(graph.events(mailbox)) == 1


async def test_bounded_wait_gives_throttled(graph: GraphEmulator, mailbox: str) -> None:
    calendar = await adapter(graph, graph_max_retry_wait_seconds=2.5)
    try:
        graph.throttle("GET", "/places/*", times=10, retry_after=1)
        started = time.monotonic()
        with pytest.raises(Throttled) as caught:
            await calendar.list_rooms()
        elapsed = time.monotonic() - started
    finally:
        await calendar.aclose()

    assert caught.value.status == 429 and caught.value.retry_after == 1 and caught.value.retryable
    # waits of 1 s + 1 s fit the 2.5 s budget, a third would not: three attempts, then Throttled
    assert graph.count("GET", "/places/*") == 3
    assert 2.0 <= elapsed < 4.0


async def test_500_is_transient_without_retry(calendar: GraphCalendar, graph: GraphEmulator, mailbox: str) -> None:
    graph.fail("GET", "/users/*/calendarView/delta*", status=500)

    with pytest.raises(TransientError) as caught:
        await calendar.calendar_view_delta(mailbox, utc(2026, 1, 1), utc(2027, 1, 1))
    assert caught.value.status == 500 and caught.value.retryable
    assert graph.count("GET", "/users/*/calendarView/delta*") == 1


async def test_403_and_404_are_typed(calendar: GraphCalendar, graph: GraphEmulator, mailbox: str) -> None:
    graph.fail("GET", "/users/*/events/*", status=403)
    with pytest.raises(PermissionDenied) as denied:
        await calendar.get_event(mailbox, "AAAA++//missing==")
    assert denied.value.status == 403 and not denied.value.retryable

    with pytest.raises(NotFound):
        await calendar.get_event(mailbox, "AAAA++//missing==")
    with pytest.raises(NotFound):
        await calendar.get_event("nobody@contoso.example", "AAAA")


async def test_slow_answer_times_out_as_transient(graph: GraphEmulator, mailbox: str) -> None:
    calendar = await adapter(graph, graph_timeout_seconds=0.3)
    try:
        graph.slow("GET", "/places/*", seconds=1.0)
        with pytest.raises(TransientError) as caught:
            await calendar.list_rooms()
        assert caught.value.status is None
        assert "timed out" in str(caught.value)
    finally:
        await calendar.aclose()


async def test_lost_create_response_retried_with_transaction_id_gives_one_event(
    graph: GraphEmulator, mailbox: str
) -> None:
    calendar = await adapter(graph, graph_timeout_seconds=0.3)
    try:
        graph.slow("POST", "/users/*/events", seconds=1.0, after_change=True)
        with pytest.raises(TransientError):
            await calendar.create_event(mailbox, parse_event(event_json("Lost")), "txn-lost")
        assert len(graph.events(mailbox)) == 1  # created, but the answer never arrived

        again = await calendar.create_event(mailbox, parse_event(event_json("Lost")), "txn-lost")
    finally:
        await calendar.aclose()

    assert [e["id"] for e in graph.events(mailbox)] == [again.id]


async def test_never_more_than_four_requests_per_mailbox(
    calendar: GraphCalendar, graph: GraphEmulator, mailbox: str
) -> None:
    made = graph.user_create_event(mailbox, event_json())
    other = f"other-{mailbox}"
    graph.add_room(other)
    other_made = graph.user_create_event(other, event_json())
    graph.slow("GET", "/users/*/events/*", seconds=0.2, times=1000)

    await asyncio.gather(
        *(calendar.get_event(mailbox, made["id"]) for _ in range(12)),
        *(calendar.get_event(other, other_made["id"]) for _ in range(8)),
    )

    assert graph.max_in_flight(mailbox) == 4
    assert graph.max_in_flight(other) == 4
    assert graph.count("GET", f"/users/{mailbox}/events/*") == 12


async def test_dropped_notification_is_never_delivered(
    calendar: GraphCalendar, graph: GraphEmulator, mailbox: str, receiver: WebhookReceiver
) -> None:
    sub = await calendar.create_subscription(
        mailbox,
        notification_url=receiver.url("drops"),
        client_state="drop-state",
        expiration=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    receiver.received.clear()
    graph.drop_notifications(1)

    first = graph.user_create_event(mailbox, event_json("Dropped"))
    second = graph.user_create_event(mailbox, event_json("Delivered", day=2))
    graph.flush_notifications()

    delivered = [n["value"][0]["resourceData"]["id"] for n in receiver.received if n["kind"] == "drops"]
    assert delivered == [second["id"]]
    dropped = [d for d in graph.deliveries if d.dropped]
    assert [d.payload["value"][0]["resourceData"]["id"] for d in dropped] == [first["id"]]
    await calendar.delete_subscription(sub.id)
