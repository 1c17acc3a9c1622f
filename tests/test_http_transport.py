"""calsync's httpx clients over aiohttp (calsync.http_transport), against a real local socket."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from calsync.http_transport import AiohttpTransport, ApiClient


async def _server(seen: list[bytes]) -> tuple[asyncio.Server, int]:
    """An HTTP/1.1 server that records each request's head and answers with a cookie."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while head := await reader.readuntil(b"\r\n\r\n"):
            seen.append(head)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: ARRAffinity=abc; Path=/\r\n\r\nok")
            await writer.drain()
            if reader.at_eof():
                break

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.asyncio
async def test_a_cookie_a_peer_sets_is_never_sent_back() -> None:
    seen: list[bytes] = []
    server, port = await _server(seen)
    async with server, ApiClient(transport=AiohttpTransport()) as client:
        first = await client.get(f"http://127.0.0.1:{port}/one")
        second = await client.get(f"http://127.0.0.1:{port}/two")
    assert first.text == second.text == "ok"
    assert len(seen) == 2
    assert all(b"cookie:" not in head.lower() for head in seen)
    assert not list(client.cookies.jar)


def test_cookies_cannot_be_given_to_an_api_client() -> None:
    client = ApiClient()
    with pytest.raises(ValueError, match="no cookies"):
        client.cookies = {"session": "x"}


@pytest.mark.asyncio
async def test_a_refused_connection_is_a_connect_error_not_a_timeout() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with ApiClient(transport=AiohttpTransport()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")
