"""The client's error mapping for answers the emulator never gives (proxies, broken servers), via httpx.MockTransport."""

from __future__ import annotations

import httpx
import pytest

from calsync.booking.rest_client import BookingRestClient
from calsync.errors import NotFound, PermissionDenied, Throttled, TransientError, ValidationError
from tests.booking.conftest import RecordingSleep


def client_for(handler: httpx.MockTransport, sleeps: RecordingSleep) -> BookingRestClient:
    return BookingRestClient("http://booking.test", api_key="k", transport=handler, sleep=sleeps)


async def test_html_502_from_a_proxy_is_transient_with_the_reason_phrase(sleeps: RecordingSleep) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, text="<html>Bad gateway</html>"))
    async with client_for(transport, sleeps) as client:
        with pytest.raises(TransientError, match=r"GET /rooms -> 502 Bad Gateway$"):
            await client.list_rooms()
    assert len(sleeps.delays) == 3


async def test_503_with_http_date_retry_after_is_throttled_when_budget_is_exceeded(sleeps: RecordingSleep) -> None:
    headers = {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}
    transport = httpx.MockTransport(lambda request: httpx.Response(503, headers=headers))
    async with client_for(transport, sleeps) as client:
        with pytest.raises(Throttled) as caught:
            await client.list_rooms()
    assert caught.value.retry_after is not None and caught.value.retry_after > 30
    assert sleeps.delays == []  # never waits beyond the budget


async def test_a_200_that_breaks_the_contract_is_a_validation_error_naming_the_field(sleeps: RecordingSleep) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"items": [{"id": "r"}]}))
    async with client_for(transport, sleeps) as client:
        with pytest.raises(
            ValidationError, match=r"RoomList that breaks the contract \(items.0.name: Field required\)"
        ):
            await client.list_rooms()


async def test_403_problem_is_permission_denied_keeping_title_and_detail(sleeps: RecordingSleep) -> None:
    problem = {"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "key may not write room-1"}
    transport = httpx.MockTransport(
        lambda request: httpx.Response(403, json=problem, headers={"Content-Type": "application/problem+json"})
    )
    async with client_for(transport, sleeps) as client:
        with pytest.raises(PermissionDenied, match="403 Forbidden: key may not write room-1"):
            await client.list_rooms()


async def test_410_outside_the_change_feed_is_not_found(sleeps: RecordingSleep) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(410))
    async with client_for(transport, sleeps) as client:
        with pytest.raises(NotFound) as caught:
            await client.get_booking("bk_1")
    assert type(caught.value) is NotFound


async def test_ids_are_percent_encoded_and_the_key_is_a_bearer_token(sleeps: RecordingSleep) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404)

    async with client_for(httpx.MockTransport(answer), sleeps) as client:
        with pytest.raises(NotFound):
            await client.get_booking("a/b?c")
    assert seen[0].url.raw_path == b"/bookings/a%2Fb%3Fc"
    assert seen[0].headers["authorization"] == "Bearer k"
