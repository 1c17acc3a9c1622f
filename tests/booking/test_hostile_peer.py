"""The REST client against a hostile booking system on real loopback HTTP (issue 13, peers).

Every answer outside the contract becomes a calsync error with the right retryable
flag; deadlines cover slow bodies; a size cap holds against huge Content-Length claims
and endless bodies (and is not retried); a 3xx is never success and no redirect is
followed, so a 3xx on DELETE leaves the booking and its mapping in place.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import pytest

from calsync.booking.conversion import RoomMap
from calsync.booking.rest_client import BookingRestClient
from calsync.errors import (
    CalsyncError,
    NotFound,
    PeerContractError,
    ResponseTooLarge,
    TransientError,
    ValidationError,
)
from calsync.model import Booking
from calsync.settings import Room
from calsync.sync.booking_side import BookingSide
from calsync.sync.plan import ItemState
from tests.booking.conftest import RecordingSleep
from tests.booking.hostile_server import HostileServer, Seen, canned, response

BOOKING = {
    "id": "B-1", "room_id": "room-1", "title": "Board", "start": "2030-03-04T09:00:00Z", "end": "2030-03-04T10:00:00Z",
    "version": "3", "created_at": "2030-03-01T09:00:00Z", "updated_at": "2030-03-01T09:00:00Z",
}  # fmt: skip
ROOM = Room(key="atlas", mailbox="atlas@example.com", booking_room_id="room-1")


def client(server: HostileServer, sleeps: RecordingSleep, **options: object) -> BookingRestClient:
    options = {"timeout": 2.0, "max_attempts": 4, **options}
    return BookingRestClient(server.base_url, api_key="secret-key", room_map=RoomMap([("room-1", "atlas")]),
                             sleep=sleeps, **options)  # type: ignore[arg-type]  # fmt: skip


def booking() -> Booking:
    return Booking(room="atlas", subject="Board", start=dt.datetime(2030, 3, 4, 9, tzinfo=dt.UTC),
                   end=dt.datetime(2030, 3, 4, 10, tzinfo=dt.UTC))  # fmt: skip


async def failure_of(server: HostileServer, sleeps: RecordingSleep, call: str, **options: object) -> CalsyncError:
    async with client(server, sleeps, **options) as rest:
        calls = {
            "get": lambda: rest.get_booking("B-1"),
            "delete": lambda: rest.delete_booking("B-1", if_match="3"),
            "update": lambda: rest.update_booking("B-1", booking(), if_match="3"),
            "create": lambda: rest.create_booking("room-1", booking(), idempotency_key="k", external_ref=None),
        }
        with pytest.raises(CalsyncError) as raised:
            await calls[call]()
    return raised.value


# --- malformed answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind", "retryable"),
    [
        (response(200, b'{"id": "B-1", "ti'), TransientError, True),
        (
            response(200, b"<html><body>Welcome to the proxy</body></html>", content_type="text/html"),
            TransientError,
            True,
        ),
        (response(200, b""), TransientError, True),
        (response(200, b"[" * 5000 + b"]" * 5000), TransientError, True),
        (response(200, json.dumps({**BOOKING, "version": 10**400}).encode()), ValidationError, False),
        (response(200, json.dumps({**BOOKING, "start": "yesterday"}).encode()), ValidationError, False),
        (response(200, b'{"id": "\\ud800"}'), TransientError, True),  # jiter: not valid JSON
    ],
    ids=["truncated-json", "html-200", "empty-200", "deep-nesting", "huge-number", "bad-datetime", "lone-surrogate"],
)
async def test_every_malformed_answer_is_a_calsync_error_with_the_right_retryable_flag(
    sleeps: RecordingSleep, raw: bytes, kind: type[CalsyncError], retryable: bool
) -> None:
    async with HostileServer(canned(raw)) as server:
        error = await failure_of(server, sleeps, "get")
    assert type(error) is kind and error.retryable is retryable
    assert not isinstance(error, NotFound)  # an empty 200 is not "gone"


# --- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("call", ["delete", "update", "create", "get"])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_3xx_is_never_success_and_no_redirect_is_followed(sleeps: RecordingSleep, call: str,
                                                                   status: int) -> None:  # fmt: skip
    async def redirect(seen: Seen, writer: asyncio.StreamWriter) -> None:
        target = f"http://127.0.0.1:{server.port}/moved{seen.path}"
        writer.write(response(status, b"", content_type=None, headers={"Location": target}))

    async with HostileServer(redirect) as server:
        error = await failure_of(server, sleeps, call)
    assert isinstance(error, PeerContractError) and not error.retryable
    assert f"-> {status}" in error.message and "follows no redirects" in error.message
    assert [seen.path for seen in server.seen] == [server.seen[0].path]  # asked once, the target never
    assert sleeps.delays == []


async def test_a_redirect_to_another_host_is_not_followed_and_gets_no_credentials(sleeps: RecordingSleep) -> None:
    async with HostileServer(canned(response(200, b"{}"))) as elsewhere:
        location = f"{elsewhere.base_url}/bookings/B-1"
        async with HostileServer(
            canned(response(307, b"", content_type=None, headers={"Location": location}))
        ) as server:
            error = await failure_of(server, sleeps, "delete")
        assert elsewhere.seen == []  # the bearer token never left for the other host
    assert isinstance(error, PeerContractError) and location in error.message
    assert server.seen[0].headers["authorization"] == "Bearer secret-key"


# --- deadlines and size caps --------------------------------------------------------------------


async def test_a_trickling_body_is_cut_off_at_the_deadline(sleeps: RecordingSleep) -> None:
    body = json.dumps(BOOKING).encode()

    async def trickle(seen: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(response(200, b"", length=len(body)))
        for byte in body:  # one byte every 0.2 s: each read is quick, the whole body takes ~40 s
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)

    async with HostileServer(trickle) as server:
        started = time.monotonic()
        error = await failure_of(server, sleeps, "get", timeout=1.0, max_attempts=2)
        elapsed = time.monotonic() - started
    assert isinstance(error, TransientError) and error.retryable and "deadline 1 s" in error.message
    assert elapsed < 2 * 1.0 + 1.0  # two attempts of at most 1 s each, plus slack
    assert len(server.seen) == 2


async def test_a_huge_content_length_is_refused_before_reading_and_not_retried(sleeps: RecordingSleep) -> None:
    async def liar(seen: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(response(200, b'{"id": ', length=3_000_000_000))
        await writer.drain()
        await asyncio.sleep(5)

    async with HostileServer(liar) as server:
        started = time.monotonic()
        error = await failure_of(server, sleeps, "get")
        elapsed = time.monotonic() - started
    assert isinstance(error, ResponseTooLarge) and not error.retryable
    assert "3,000,000,000 bytes" in error.message
    assert len(server.seen) == 1 and sleeps.delays == [] and elapsed < 1.0


async def test_an_endless_chunked_body_is_cut_off_at_the_byte_cap(sleeps: RecordingSleep) -> None:
    async def endless(seen: Seen, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"[" * 65536
        for _ in range(200):
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()

    async with HostileServer(endless) as server:
        error = await failure_of(server, sleeps, "get", max_response_bytes=256 * 1024)
    assert isinstance(error, ResponseTooLarge) and not error.retryable and "ran past it" in error.message
    assert len(server.seen) == 1


async def test_a_slow_server_that_never_answers_hits_the_deadline(sleeps: RecordingSleep) -> None:
    async def silent(seen: Seen, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    async with HostileServer(silent) as server:
        started = time.monotonic()
        error = await failure_of(server, sleeps, "get", timeout=0.5, max_attempts=1)
    assert isinstance(error, TransientError) and error.retryable and time.monotonic() - started < 1.5


# --- through the booking side: nothing lost ---------------------------------------------------


async def test_a_3xx_delete_through_the_booking_side_raises_and_deletes_nothing(sleeps: RecordingSleep) -> None:
    async def redirect_deletes(seen: Seen, writer: asyncio.StreamWriter) -> None:
        if seen.method == "DELETE":
            writer.write(response(302, b"", content_type=None, headers={"Location": "/elsewhere"}))
        else:
            writer.write(response(200, json.dumps(BOOKING).encode()))

    async with HostileServer(redirect_deletes) as server, client(server, sleeps) as rest:
        side = BookingSide(rest)
        current = await side.read(ROOM, "B-1")
        assert isinstance(current, ItemState) and current.booking is not None
        with pytest.raises(PeerContractError):  # the engine keeps the mapping when delete raises
            await side.delete(ROOM, current)
        assert (await side.read(ROOM, "B-1")).booking is not None
    assert [s.method for s in server.seen] == ["GET", "DELETE", "GET"]
