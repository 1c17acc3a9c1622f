"""The HTTP functions, called as the host calls them: what gets enqueued, and what is refused with which 4xx."""

from __future__ import annotations

import json
import time

import azure.functions as func
import pytest

from calsync.booking.webhook_signature import sign_webhook
from calsync.model import ChangeHint, ChangeKind, HintReason, Side
from calsync.model.job import JobKind, MaintenanceJob
from devstack.inprocess_queue import InProcessQueue
from tests.webhooks.conftest import CLIENT_STATE, SUB_A, USER_A, WEBHOOK_SECRET, user_functions

pytestmark = [pytest.mark.azurite]

EVENT_ID = "AAMkAGI2TG93AAA=/+x=="
FUNCTIONS = user_functions()


def graph_request(body: object, *, route: str = "graph/notifications", room: str = "room-a",
                  params: dict | None = None) -> func.HttpRequest:  # fmt: skip
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return func.HttpRequest("POST", f"https://calsync.example/api/{route}", headers={"Content-Type": "application/json"},
                            params={"room": room, **(params or {})}, body=raw)  # fmt: skip


def notification(client_state: str = CLIENT_STATE, change: str = "updated", **extra) -> dict:
    return {
        "subscriptionId": SUB_A, "clientState": client_state,
        "changeType": change, "resource": f"Users/{USER_A}/Events/{EVENT_ID}", "tenantId": "t",
        "subscriptionExpirationDateTime": "2026-11-26T18:23:45.9356913Z",
        "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": f"Users/{USER_A}/Events/{EVENT_ID}",
                         "@odata.etag": 'W/"DwAAABYAAAA"', "id": EVENT_ID},
        **extra,
    }  # fmt: skip


async def collected(queue: InProcessQueue, name: str) -> list[str]:
    bodies: list[str] = []
    queue.subscribe(name, lambda message: bodies.append(message.get_body().decode()))
    await queue.drain()
    return bodies


async def test_validation_handshake_echoes_the_token_as_plain_text(queue: InProcessQueue) -> None:
    request = graph_request(b"", params={"validationToken": "Validation: Testing client application"})
    response = await FUNCTIONS["graph_webhook"](request)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_body() == b"Validation: Testing client application"
    assert queue.stats().sent == 0


async def test_valid_notifications_become_one_hint_each(queue: InProcessQueue) -> None:
    body = {"value": [notification(), notification(change="deleted")]}
    response = await FUNCTIONS["graph_webhook"](graph_request(body))
    assert response.status_code == 202
    hints = [ChangeHint.from_json(b) for b in await collected(queue, "changes")]
    assert [(h.source, h.room, h.item_id, h.change_kind, h.reason) for h in hints] == [
        (Side.OUTLOOK, "room-a", EVENT_ID, ChangeKind.UPDATED, HintReason.WEBHOOK),
        (Side.OUTLOOK, "room-a", EVENT_ID, ChangeKind.DELETED, HintReason.WEBHOOK),
    ]


async def test_same_notification_twice_is_enqueued_once(queue: InProcessQueue) -> None:
    for _ in range(2):
        assert (await FUNCTIONS["graph_webhook"](graph_request({"value": [notification()]}))).status_code == 202
    assert len(await collected(queue, "changes")) == 1
    assert queue.stats().duplicates_dropped == 1


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"value": [notification(client_state="forged")]}, 401, "wrong clientState"),
        ({"value": [notification(), notification(client_state="")]}, 401, "wrong clientState"),
        (b"{not json", 400, "not JSON"),
        ({"value": []}, 400, "value"),
        ({"value": [notification(resourceData=None)]}, 400, "resourceData"),
        ({"value": [notification(subject="x" * 2_000_000)]}, 413, "exceeds the limit"),
    ],
)
async def test_bad_or_forged_notifications_are_refused_and_nothing_is_enqueued(
    queue: InProcessQueue, body: object, status: int, says: str
) -> None:
    response = await FUNCTIONS["graph_webhook"](graph_request(body))
    assert response.status_code == status
    assert says in json.loads(response.get_body())["detail"]
    assert response.mimetype == "application/problem+json"
    assert queue.stats().sent == 0


async def test_notification_for_an_unconfigured_room_is_acknowledged_and_ignored(queue: InProcessQueue) -> None:
    response = await FUNCTIONS["graph_webhook"](graph_request({"value": [notification()]}, room="broom-closet"))
    assert response.status_code == 202
    assert queue.stats().sent == 0


async def test_lifecycle_notifications_become_maintenance_jobs(queue: InProcessQueue) -> None:
    events = ["reauthorizationRequired", "subscriptionRemoved", "missed"]
    body = {"value": [{"subscriptionId": SUB_A, "clientState": CLIENT_STATE, "lifecycleEvent": e,
                       "subscriptionExpirationDateTime": "2026-11-26T18:23:45Z", "tenantId": "t"}
                      for e in events]}  # fmt: skip
    response = await FUNCTIONS["graph_lifecycle"](graph_request(body, route="graph/lifecycle"))
    assert response.status_code == 202
    jobs = [MaintenanceJob.model_validate_json(b) for b in await collected(queue, "reconcile")]
    assert [(j.kind, j.room, j.subscription_id) for j in jobs] == [
        (JobKind.REAUTHORIZE, "room-a", SUB_A), (JobKind.RESUBSCRIBE, "room-a", SUB_A), (JobKind.RECONCILE, "room-a", SUB_A),
    ]  # fmt: skip


async def test_forged_lifecycle_notification_is_refused(queue: InProcessQueue) -> None:
    body = {"value": [{"subscriptionId": SUB_A, "clientState": "nope", "lifecycleEvent": "missed"}]}
    response = await FUNCTIONS["graph_lifecycle"](graph_request(body, route="graph/lifecycle"))
    assert response.status_code == 401 and queue.stats().sent == 0


def booking_request(payload: object, *, secrets=(WEBHOOK_SECRET,), timestamp: int | None = None,
                    tamper: bool = False) -> func.HttpRequest:  # fmt: skip
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signature = sign_webhook(body, list(secrets), timestamp)
    if tamper:
        body = body.replace(b"B-42", b"B-43")
    return func.HttpRequest("POST", "https://calsync.example/api/booking/webhook",
                            headers={"Booking-Signature": signature, "Content-Type": "application/json"}, body=body)  # fmt: skip


BOOKING_EVENT = {"event": "booking.updated", "booking_id": "B-42", "room_id": "R-100", "version": "7"}


async def test_signed_booking_webhook_becomes_one_hint(queue: InProcessQueue) -> None:
    response = await FUNCTIONS["booking_webhook"](booking_request(BOOKING_EVENT))
    assert response.status_code == 202
    [hint] = [ChangeHint.from_json(b) for b in await collected(queue, "changes")]
    assert (hint.source, hint.room, hint.item_id, hint.change_kind, hint.version) == (
        Side.BOOKING, "room-a", "B-42", ChangeKind.UPDATED, "7")  # fmt: skip


@pytest.mark.parametrize(
    ("request_factory", "status"),
    [
        (lambda: booking_request(BOOKING_EVENT, secrets=("wrong-secret",)), 401),
        (lambda: booking_request(BOOKING_EVENT, timestamp=int(time.time()) - 3600), 401),
        (lambda: booking_request(BOOKING_EVENT, tamper=True), 401),
        (lambda: func.HttpRequest("POST", "https://x/api/booking/webhook", headers={}, body=b"{}"), 401),
        (lambda: booking_request(b"{broken"), 400),
        (lambda: booking_request({"event": "booking.exploded", "booking_id": "B", "room_id": "R-100"}), 400),
        (lambda: booking_request({**BOOKING_EVENT, "pad": "x" * 2_000_000}), 413),
    ],
    ids=[
        "wrong-secret",
        "stale-timestamp",
        "tampered-body",
        "unsigned",
        "malformed-json",
        "unknown-event",
        "oversized",
    ],
)
async def test_bad_booking_webhooks_are_refused_and_nothing_is_enqueued(queue, request_factory, status) -> None:
    response = await FUNCTIONS["booking_webhook"](request_factory())
    assert response.status_code == status
    assert queue.stats().sent == 0


async def test_booking_webhook_for_an_unconfigured_room_is_ignored(queue: InProcessQueue) -> None:
    response = await FUNCTIONS["booking_webhook"](booking_request({**BOOKING_EVENT, "room_id": "R-999"}))
    assert response.status_code == 202 and queue.stats().sent == 0
