"""Regression tests for issue 13's webhook defects, one per behaviour: 4xx never 5xx, claims checked, replays refused."""

from __future__ import annotations

import json
import logging
import time

import azure.functions as func
import pytest

from calsync.booking.webhook_signature import compute_signature, sign_webhook
from calsync.errors import QueueError
from calsync.functions import runtime
from calsync.model.job import JobKind, MaintenanceJob
from devstack.inprocess_queue import InProcessQueue
from tests.webhooks.conftest import (
    CLIENT_STATE,
    MAILBOX_A,
    SUB_A,
    SUB_B,
    SUB_EXPIRED,
    USER_A,
    WEBHOOK_SECRET,
    user_functions,
)
from tests.webhooks.test_http_functions import BOOKING_EVENT, EVENT_ID, collected, graph_request, notification

pytestmark = [pytest.mark.azurite]
FUNCTIONS = user_functions()
GRAPH_ROUTES = [("graph_webhook", "graph/notifications"), ("graph_lifecycle", "graph/lifecycle")]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


async def answer(name: str, request: func.HttpRequest) -> tuple[int, dict]:
    response = await FUNCTIONS[name](request)
    body = response.get_body()
    return response.status_code, (json.loads(body) if response.mimetype == "application/problem+json" else {})


# --- parsing with limits (before authentication) ------------------------------------------------

CRASHING_BODIES = {
    "1000-brackets": b"[" * 1000,
    "1000-braces-in-value": b'{"value": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1001,
    "4301-digit-number": b'{"value": [{"subscriptionId": ' + b"9" * 4301 + b"}]}",
    "nan": b'{"value": NaN}',
    "lone-surrogate-client-state": json.dumps({"value": [notification(client_state="\ud800")]}).encode(),
    "not-utf8": b'{"value": "\xff"}',
    "bom": b"\xef\xbb\xbf{}",
}


@pytest.mark.parametrize("body", CRASHING_BODIES.values(), ids=CRASHING_BODIES.keys())
@pytest.mark.parametrize(("name", "route"), GRAPH_ROUTES)
async def test_bodies_that_crashed_the_parser_are_a_400_problem_without_traceback(
    queue: InProcessQueue, caplog: pytest.LogCaptureFixture, name: str, route: str, body: bytes
) -> None:
    status, problem = await answer(name, graph_request(body, route=route))
    assert status == 400 and problem["status"] == 400
    assert queue.stats().sent == 0
    no_tracebacks(caplog)


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    from calsync import json_limits

    text = json.dumps({"value": ["[" * 5000, '{\\"' * 100]})
    assert json_limits.loads(text)["value"][0] == "[" * 5000
    with pytest.raises(Exception, match="nested deeper than 32"):
        json_limits.loads('"x",' + "[" * 40)


# --- every ChangeHint field validated at the edge -----------------------------------------------


@pytest.mark.parametrize(
    ("resource_data", "says"),
    [
        ({"id": EVENT_ID, "@odata.etag": "W/" + "x" * 300}, "@odata.etag"),
        ({"id": EVENT_ID, "@odata.etag": "W/\ud800"}, "lone surrogate"),
        ({"id": EVENT_ID + "\u00e9"}, "should match pattern"),
        ({"id": "A" * 1025}, "resourceData.id"),
        ({"id": "A" * 600}, "too long for a table key"),
    ],
    ids=["etag-over-256", "etag-lone-surrogate", "id-non-ascii", "id-over-1024", "id-too-long-for-a-key"],
)
async def test_every_hint_field_is_checked_at_the_edge_with_the_models_limits(
    queue: InProcessQueue, caplog: pytest.LogCaptureFixture, resource_data: dict, says: str
) -> None:
    item = notification(resourceData=resource_data)
    item["resource"] = f"Users/{USER_A}/Events/{resource_data['id']}"
    status, problem = await answer("graph_webhook", graph_request({"value": [item]}))
    assert status == 400 and says in problem["detail"]
    assert queue.stats().sent == 0
    no_tracebacks(caplog)


# --- what a notification claims -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("subscription", "says"),
    [
        (SUB_B, "it is room room-b's"),
        (SUB_EXPIRED, "not a live subscription"),
        ("00000000-0000-4000-8000-000000000000", "not a live subscription"),
    ],
    ids=["another-rooms", "expired", "unknown"],
)
@pytest.mark.parametrize(("name", "route"), GRAPH_ROUTES)
async def test_a_notification_must_come_from_a_live_subscription_of_the_rooms(
    queue: InProcessQueue, name: str, route: str, subscription: str, says: str
) -> None:
    item = notification(subscriptionId=subscription)
    if name == "graph_lifecycle":
        item = {"subscriptionId": subscription, "clientState": CLIENT_STATE, "lifecycleEvent": "subscriptionRemoved"}
    status, problem = await answer(name, graph_request({"value": [notification(), item]}, route=route))
    assert status == 403 and says in problem["detail"]
    assert queue.stats().sent == 0


async def test_subscription_removed_for_room_b_sent_to_room_as_url_acts_on_nothing(queue: InProcessQueue) -> None:
    body = {"value": [{"subscriptionId": SUB_B, "clientState": CLIENT_STATE, "lifecycleEvent": "subscriptionRemoved"}]}
    status, _ = await answer("graph_lifecycle", graph_request(body, route="graph/lifecycle", room="room-a"))
    assert status == 403 and queue.stats().sent == 0
    status, _ = await answer("graph_lifecycle", graph_request(body, route="graph/lifecycle", room="room-b"))
    assert status == 202
    [job] = [MaintenanceJob.model_validate_json(b) for b in await collected(queue, "reconcile")]
    assert (job.kind, job.room, job.subscription_id) == (JobKind.RESUBSCRIBE, "room-b", SUB_B)


@pytest.mark.parametrize(
    "resource",
    [
        f"Users/other@contoso.com/Events/{EVENT_ID}",
        f"Users/{USER_A.replace('6', '7')}/Events/{EVENT_ID}",
        f"Users/{USER_A}/Events/../../other@contoso.com/Events/{EVENT_ID}",
        f"Users/{USER_A}/Messages/{EVENT_ID}",
        f"Users/{USER_A}/Events/AAMkOTHER=",
        "",
    ],
    ids=["other-mailbox", "other-object-id", "dot-dot", "not-an-event", "other-event", "empty"],
)
async def test_a_resource_must_name_an_event_of_the_rooms_mailbox(queue: InProcessQueue, resource: str) -> None:
    status, problem = await answer("graph_webhook", graph_request({"value": [notification(resource=resource)]}))
    assert status == 403 and "resource" in problem["detail"]
    assert queue.stats().sent == 0


async def test_a_resource_may_name_the_mailbox_by_address(queue: InProcessQueue) -> None:
    item = notification(resource=f"users/{MAILBOX_A.upper()}/events/{EVENT_ID}")
    status, _ = await answer("graph_webhook", graph_request({"value": [item]}))
    assert status == 202 and queue.stats().sent == 1


async def test_a_dot_dot_event_id_is_refused_by_the_id_grammar(queue: InProcessQueue) -> None:
    item = notification(resourceData={"id": "../../x"}, resource=f"Users/{USER_A}/Events/../../x")
    status, problem = await answer("graph_webhook", graph_request({"value": [item]}))
    assert status == 400 and "resourceData.id" in problem["detail"] and queue.stats().sent == 0


async def test_a_subscription_recorded_after_the_cache_was_loaded_is_found_on_its_first_notification(
    queue: InProcessQueue, webhook_runtime: runtime.Runtime
) -> None:
    import datetime as dt

    from calsync.store.records import SubscriptionRecord, SubscriptionStore

    assert (await answer("graph_webhook", graph_request({"value": [notification()]})))[0] == 202  # cache loaded
    new = "11111111-2222-4333-8444-555555555555"
    await SubscriptionStore(webhook_runtime.tables).put(SubscriptionRecord(
        subscription_id=new, room="room-a", resource="/users/room-a/events",
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)))  # fmt: skip
    status, _ = await answer("graph_webhook", graph_request({"value": [notification(subscriptionId=new,
                                                                                     change="deleted")]}))  # fmt: skip
    assert status == 202


async def test_an_unknown_lifecycle_event_is_logged_and_skipped_not_a_400_for_the_batch(
    queue: InProcessQueue, caplog: pytest.LogCaptureFixture
) -> None:
    events = ["missed", "unknownFutureValue", "reauthorizationRequired"]
    body = {"value": [{"subscriptionId": SUB_A, "clientState": CLIENT_STATE, "lifecycleEvent": e} for e in events]}
    status, _ = await answer("graph_lifecycle", graph_request(body, route="graph/lifecycle"))
    assert status == 202
    jobs = [MaintenanceJob.model_validate_json(b) for b in await collected(queue, "reconcile")]
    assert [j.kind for j in jobs] == [JobKind.RECONCILE, JobKind.REAUTHORIZE]
    assert any("unknown lifecycleEvent 'unknownFutureValue'" in r.getMessage() for r in caplog.records)


# --- untrusted values in logs and answers -------------------------------------------------------


async def test_a_500_kb_forged_value_is_escaped_and_truncated_in_the_log_and_the_answer(
    queue: InProcessQueue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    forged = "x\n" * 250_000
    body = {"value": [notification(client_state="forged", subscriptionId=SUB_A)]}
    status, problem = await answer("graph_webhook", graph_request(body, params={"room": forged}))
    assert status == 401 and len(json.dumps(problem)) < 1000
    status, _ = await answer("graph_webhook", graph_request({"value": [notification()]}, room=forged))
    assert status == 202  # an unconfigured room: acknowledged and ignored
    assert caplog.records and all(len(r.getMessage()) < 1000 and "\n" not in r.getMessage() for r in caplog.records)


# --- booking webhook --------------------------------------------------------------------------


def signed(body: bytes, header: str | None = None) -> func.HttpRequest:
    signature = header if header is not None else sign_webhook(body, [WEBHOOK_SECRET])
    return func.HttpRequest("POST", "https://calsync.example/api/booking/webhook",
                            headers={"Booking-Signature": signature}, body=body)  # fmt: skip


@pytest.mark.parametrize(
    "header",
    ["t=²,v1=" + "a" * 64, "t=١٢٣,v1=" + "a" * 64, "t=1\u200b,v1=" + "a" * 64, "t=+1,v1=" + "a" * 64,
     "t=1,v1=" + "é" * 64, "t=1,v1=" + "a" * 64 + "," * 5000, "=,=,="],
    ids=["superscript-two", "arabic-digits", "zero-width-space", "plus-sign", "non-ascii-hex", "many-commas", "empty-keys"],
)  # fmt: skip
async def test_a_signature_header_outside_the_ascii_grammar_is_a_clean_401(
    queue: InProcessQueue, caplog: pytest.LogCaptureFixture, header: str
) -> None:
    status, problem = await answer("booking_webhook", signed(json.dumps(BOOKING_EVENT).encode(), header))
    assert status == 401 and "Booking-Signature" in problem["detail"]
    assert queue.stats().sent == 0
    no_tracebacks(caplog)


async def test_a_validly_signed_body_nested_5000_deep_is_a_400(
    queue: InProcessQueue, caplog: pytest.LogCaptureFixture
) -> None:
    body = b'{"event": "booking.updated", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, problem = await answer("booking_webhook", signed(body))
    assert status == 400 and "nested deeper" in problem["detail"]
    assert queue.stats().sent == 0
    no_tracebacks(caplog)


async def test_a_replayed_booking_webhook_is_accepted_once(queue: InProcessQueue) -> None:
    body = json.dumps(BOOKING_EVENT).encode()
    header = sign_webhook(body, [WEBHOOK_SECRET])
    assert (await answer("booking_webhook", signed(body, header)))[0] == 202
    status, problem = await answer("booking_webhook", signed(body, header))
    assert status == 409 and "replayed" in problem["detail"]
    stamp = int(header.split(",")[0][2:])  # the same signature with an extra bogus v1 is the same request
    padded = f"{header},v1={compute_signature(body, 'other', stamp)}"
    assert (await answer("booking_webhook", signed(body, padded)))[0] == 409
    assert queue.stats().sent == 1
    fresh = sign_webhook(body, [WEBHOOK_SECRET], int(time.time()) + 1)  # a new signing is a new request
    assert (await answer("booking_webhook", signed(body, fresh)))[0] == 202


class FailingPublisher:
    async def publish(self, hints, *, queue):
        raise QueueError("Service Bus is down")


async def test_a_booking_webhook_answered_503_is_accepted_when_the_sender_retries_it(
    queue: InProcessQueue, webhook_runtime: runtime.Runtime
) -> None:
    body = json.dumps(BOOKING_EVENT).encode()
    header = sign_webhook(body, [WEBHOOK_SECRET])
    previous = webhook_runtime.use_publisher(FailingPublisher())  # type: ignore[arg-type]
    assert (await answer("booking_webhook", signed(body, header)))[0] == 503
    webhook_runtime.use_publisher(previous)
    assert (await answer("booking_webhook", signed(body, header)))[0] == 202
    assert queue.stats().sent == 1
