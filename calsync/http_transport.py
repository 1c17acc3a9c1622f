"""The transport under calsync's httpx clients (Graph through kiota's middleware, the booking REST client): aiohttp.

httpx's own transport (httpcore over anyio) costs about 0.3-0.4 ms of CPU per request on
the 2-core bench machine, aiohttp about a third of that (issue #16, bench/bench_worker.py).
httpx-aiohttp puts aiohttp under httpx's API, so kiota's middleware, the clients' error
handling and ``httpx.MockTransport`` in tests stay as they are.

Errors: httpx-aiohttp 0.2 reports every aiohttp connection error as ``httpx.ConnectTimeout``
(its map tries ``ClientConnectionError`` before the more specific classes), so a refused
connection or a dropped one would read "timed out". ``AiohttpTransport`` here names them as
httpx's own transport does: ``ConnectError`` (could not connect), ``RemoteProtocolError``
(the server closed the connection), ``ReadError`` (other socket failures); real timeouts
stay timeouts. All are httpx.TransportError, which both clients treat as transient.

With a proxy configured in the environment httpx keeps its own transport, which honours
the proxy variables exactly as before.

``ApiClient`` is httpx's AsyncClient without a cookie jar. httpx stores the cookies of
every answer (``Cookies.extract_cookies`` wraps each response and request for the stdlib
``http.cookiejar``, about 0.05 ms of CPU per request even when no Set-Cookie comes back).
calsync's peers are token-authenticated APIs (Graph, the booking system's REST API):
nothing of theirs depends on a cookie being sent back, and an affinity cookie from a
load balancer in front of a booking API is better ignored by a stateless client.
"""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator

import aiohttp
import httpx
import httpx_aiohttp


def _named(exc: httpx.TransportError) -> httpx.TransportError:
    """The httpx error httpx's own transport would raise for the aiohttp failure behind ``exc``."""
    cause = exc.__cause__
    if not isinstance(cause, aiohttp.ClientConnectionError) or isinstance(cause, TimeoutError):
        return exc
    if isinstance(cause, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(cause))
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(str(cause))
    return httpx.ReadError(str(cause) or type(cause).__name__)


class _Stream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.TransportError as exc:
            raise _named(exc) from exc.__cause__

    async def aclose(self) -> None:
        await self._inner.aclose()


class AiohttpTransport(httpx_aiohttp.AiohttpTransport):
    """httpx-aiohttp's transport with httpx's own names for connection failures (see the module docstring)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await super().handle_async_request(request)
        except httpx.TransportError as exc:
            raise _named(exc) from exc.__cause__
        response.stream = _Stream(response.stream)  # type: ignore[arg-type]
        return response


class _NoCookies(httpx.Cookies):
    """A cookie store that keeps nothing (see the module docstring)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class ApiClient(httpx.AsyncClient):
    """httpx's AsyncClient that neither keeps nor sends cookies (see the module docstring)."""

    _no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        if cookies:
            raise ValueError("calsync's API clients send no cookies")


def fast_transport() -> httpx.AsyncBaseTransport | None:
    """An aiohttp transport for an httpx client, or None (httpx's own) when the environment names a proxy."""
    if urllib.request.getproxies():
        return None
    return AiohttpTransport()
