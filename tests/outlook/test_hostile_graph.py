"""The Graph adapter against a hostile peer: a loopback server that answers whatever each test scripts.

Every failure must be a calsync error with the right retryable flag (issue #13): an
answer calsync cannot read is TransientError (retryable), content that does not fit is
ValidationError (not retryable), only 404/410 mean gone; deadlines and the size cap hold.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from calsync.errors import CalsyncError, NotFound, TransientError, ValidationError
from calsync.outlook.graph_client import GraphCalendar
from calsync.outlook.middleware import BoundedRetryHandler, ResponseTooLarge
from calsync.settings import load_settings

MAILBOX = "room@contoso.example"
EVENT = {"id": "AAA=", "type": "singleInstance", "subject": "Ok", "changeKey": "ck",
         "start": {"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "UTC"},
         "end": {"dateTime": "2026-03-02T10:00:00.0000000", "timeZone": "UTC"}}  # fmt: skip

Writer = Callable[[asyncio.StreamWriter], Awaitable[None]]


def answer(status: int, body: bytes = b"", content_type: str = "application/json", **headers: str) -> Writer:
    async def write(writer: asyncio.StreamWriter) -> None:
        head = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        head += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()

    return write


def raw(head: str, trickle: bytes = b"", every: float = 0.0) -> Writer:
    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(head.encode())
        await writer.drain()
        for byte in trickle:
            await asyncio.sleep(every)
            writer.write(bytes([byte]))
            await writer.drain()

    return write


@dataclass
class HostilePeer:
    """Answers the n-th request with the n-th scripted writer (the last one repeats)."""

    script: list[Writer] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = next(
                    (int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0
                )
                if length:
                    await reader.readexactly(length)
                self.requests.append(lines[0])
                index = min(len(self.requests), len(self.script)) - 1
                await self.script[index](writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def peer() -> AsyncIterator[HostilePeer]:
    hostile = HostilePeer()
    server = await asyncio.start_server(hostile.handle, "127.0.0.1", 0)
    hostile.port = server.sockets[0].getsockname()[1]
    async with server:
        yield hostile
        server.close()


def calendar_for(peer: HostilePeer, *, timeout: float = 1.0, retry_wait: float = 5.0) -> GraphCalendar:
    settings = load_settings(tables_connection_string="UseDevelopmentStorage=true", graph_auth_mode="none",
                             graph_base_url=f"http://127.0.0.1:{peer.port}/v1.0", graph_timeout_seconds=timeout,
                             graph_max_retry_wait_seconds=retry_wait)  # fmt: skip
    return GraphCalendar.from_settings(settings)


async def failure_of(peer: HostilePeer, *script: Writer, **options: float) -> CalsyncError:
    peer.script = list(script)
    async with calendar_for(peer, **options) as calendar:
        with pytest.raises(CalsyncError) as caught:
            await calendar.get_event(MAILBOX, "AAA=")
    return caught.value


async def test_an_empty_200_is_a_retryable_failure_not_not_found(peer: HostilePeer) -> None:
    error = await failure_of(peer, answer(200))
    assert isinstance(error, TransientError) and not isinstance(error, NotFound) and error.retryable


async def test_a_200_text_html_is_a_retryable_failure(peer: HostilePeer) -> None:
    error = await failure_of(peer, answer(200, b"<html><body>Sign in</body></html>", "text/html"))
    assert isinstance(error, TransientError) and error.retryable


@pytest.mark.parametrize(
    "body",
    [b'{"id": "AAA=", "subject": ', b"[" * 5000 + b"]" * 5000, b'{"id": "AAA=", "x": ' + b"9" * 5000 + b"}", b"[1, 2]"],
    ids=["truncated", "deep-nesting", "huge-number", "not-an-object"],
)
async def test_unreadable_json_is_a_retryable_failure(peer: HostilePeer, body: bytes) -> None:
    error = await failure_of(peer, answer(200, body))
    assert isinstance(error, TransientError) and error.retryable


async def test_a_bad_datetime_field_is_a_validation_error_not_retried(peer: HostilePeer) -> None:
    body = json.dumps(EVENT | {"createdDateTime": "yesterday-ish"}).encode()
    error = await failure_of(peer, answer(200, body))
    assert isinstance(error, ValidationError) and not error.retryable
    assert len(peer.requests) == 1


async def test_only_404_means_gone(peer: HostilePeer) -> None:
    body = json.dumps({"error": {"code": "ErrorItemNotFound", "message": "gone"}}).encode()
    assert isinstance(await failure_of(peer, answer(404, body)), NotFound)


async def test_an_error_body_that_is_not_odata_json_is_still_classified(peer: HostilePeer) -> None:
    error = await failure_of(peer, answer(500, b"<html>oops</html>", "text/html"), retry_wait=0)
    assert isinstance(error, TransientError) and error.retryable


async def test_a_huge_content_length_is_refused_before_buffering(peer: HostilePeer) -> None:
    started = time.perf_counter()
    error = await failure_of(peer, raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                       "Content-Length: 3000000000\r\n\r\n{"))  # fmt: skip
    assert isinstance(error, ResponseTooLarge) and not error.retryable
    assert time.perf_counter() - started < 2


async def test_a_slow_body_hits_the_overall_deadline(peer: HostilePeer) -> None:
    trickle = raw("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
                  trickle=b" " * 1000, every=0.3)  # fmt: skip
    started = time.perf_counter()
    error = await failure_of(peer, trickle, timeout=0.5, retry_wait=0)  # deadline: 2 x 0.5 s + 0
    assert isinstance(error, TransientError) and error.retryable
    assert time.perf_counter() - started < 3


async def test_a_fractional_retry_after_is_honoured(peer: HostilePeer) -> None:
    peer.script = [answer(429, b'{"error": {"code": "TooManyRequests", "message": "slow down"}}', Retry_After="1.6"),
                   answer(200, json.dumps(EVENT).encode())]  # fmt: skip
    async with calendar_for(peer) as calendar:
        started = time.perf_counter()
        event = await calendar.get_event(MAILBOX, "AAA=")
    # kiota's own parser drops "1.6" and backs off 0.25-1.25 s instead
    assert event.subject == "Ok" and len(peer.requests) == 2
    assert time.perf_counter() - started >= 1.6


def test_retry_after_with_a_fraction_parses_as_graph_documents_it() -> None:
    handler = BoundedRetryHandler(60)
    assert handler._parse_retry_after("2.128") == pytest.approx(2.128)
    assert handler._parse_retry_after("7") == 7
    assert handler._parse_retry_after("nan") is None


async def test_one_bad_item_in_a_delta_page_is_skipped_not_fatal(peer: HostilePeer) -> None:
    page = {
        "value": [EVENT, EVENT | {"id": "BBB=", "originalStart": "not a time"}, EVENT | {"id": "CCC="}],
        "@odata.deltaLink": f"http://127.0.0.1:{peer.port}/v1.0/users/{MAILBOX}/calendarView/delta?$deltatoken=x",
    }
    peer.script = [answer(200, json.dumps(page).encode())]
    async with calendar_for(peer) as calendar:
        result = await calendar.calendar_view_delta(MAILBOX, delta_link=page["@odata.deltaLink"])
    assert [e.id for e in result.changed] == ["AAA=", "CCC="]
    assert len(result.skipped) == 1 and "BBB=" in str(result.skipped[0])
