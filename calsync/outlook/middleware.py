"""kiota/httpx middleware for calsync's Graph requests: Prefer headers and a bounded retry wait.

``PreferHeadersHandler`` adds ``outlook.timezone="UTC"`` and ``IdType="ImmutableId"``
to the Prefer header of every request, keeping preferences set per request (such as
``odata.maxpagesize``). ``BoundedRetryHandler`` is kiota's RetryHandler (429/503/504,
Retry-After honoured, exponential backoff otherwise) with one addition kiota lacks:
the total time one request may spend waiting across its retries is capped. When the
next wait would go over the budget, the throttled response is returned as it is and
the adapter turns it into Throttled. It also reads Retry-After as a decimal number of
seconds: Graph's own throttling example sends "Retry-After: 2.128", which kiota's parser
(integers and HTTP dates only) drops, falling back to a 0.25-1.25 s backoff
(https://learn.microsoft.com/graph/throttling, "Sample response").

Three of the SDK's default handlers did work per request that calsync's requests never
need, and each parse of a Graph URL costs (httpx validates it character by character):
``QueryNameDecoding`` is kiota's ParametersNameDecodingHandler that re-parses the URL
only when a query holds an encoded character it decodes (``%24`` for ``$`` and the
like; calsync writes ``$select`` as is, kiota's own builders encode it); kiota's
UrlReplaceHandler (``/users/me-token-to-replace`` -> ``/me``, for delegated access,
which calsync does not use) is built disabled; ``GraphHostTelemetry`` is msgraph's
GraphTelemetryHandler deciding "is this a Graph URL" from the request's parsed URL
instead of parsing it again with urllib3.

``ResponseSizeLimit`` sits next to the transport and refuses a response whose
Content-Length, or whose body as it streams in, goes over a byte cap: a peer that
claims 3 GB is refused before anything is buffered (issue #13).
"""

from __future__ import annotations

import functools
import math

import httpx
from kiota_http.middleware import ParametersNameDecodingHandler, RetryHandler
from kiota_http.middleware.middleware import BaseMiddleware
from kiota_http.middleware.options import RetryHandlerOption
from msgraph_core import NationalClouds
from msgraph_core.middleware import GraphTelemetryHandler

from calsync.errors import SideError

PREFERENCES = ('outlook.timezone="UTC"', 'IdType="ImmutableId"')
_WAITED = "calsync_retry_waited"
MAX_RESPONSE_BYTES = 16 * 2**20
"""The largest Graph response calsync reads (a page of 100 full events is ~0.2 MB)."""


class ResponseTooLarge(SideError):
    """Graph (or whatever answered in its place) sent a response over the byte cap; not retryable."""

    http_status = 502


def merge_prefer(existing: str | None, required: tuple[str, ...] = PREFERENCES) -> str:
    """One Prefer value holding ``existing`` preferences plus each required one not yet named."""
    present = [p.strip() for p in (existing or "").split(",") if p.strip()]
    names = {p.split("=", 1)[0].strip().lower() for p in present}
    present.extend(p for p in required if p.split("=", 1)[0].lower() not in names)
    return ", ".join(present)


class PreferHeadersHandler(BaseMiddleware):
    """Adds calsync's Prefer preferences to every request (see module docstring)."""

    def __init__(self, preferences: tuple[str, ...] = PREFERENCES) -> None:
        super().__init__()
        self.preferences = preferences

    async def send(self, request: httpx.Request, transport: httpx.AsyncBaseTransport) -> httpx.Response:
        values = request.headers.get_list("prefer")
        request.headers["Prefer"] = merge_prefer(", ".join(values), self.preferences)
        return await super().send(request, transport)


class BoundedRetryHandler(RetryHandler):
    """kiota's RetryHandler with a cap on the total Retry-After/backoff wait of one request."""

    def __init__(self, max_total_wait: float, options: RetryHandlerOption | None = None) -> None:
        super().__init__(options)
        self.max_total_wait = max_total_wait

    def get_delay_time(
        self,
        retry_count: int,
        response: httpx.Response | None = None,
        delay: float = RetryHandlerOption.DEFAULT_DELAY,
    ) -> float:
        wait = super().get_delay_time(retry_count, response, delay)
        if response is None or response.status_code not in self.retry_on_status_codes:
            return wait
        extensions = response.request.extensions
        waited = float(extensions.get(_WAITED, 0.0))
        if waited + wait > self.max_total_wait:
            # kiota does not retry when the delay reaches MAX_DELAY: the response goes back as it is.
            return RetryHandlerOption.MAX_DELAY
        extensions[_WAITED] = waited + wait
        return wait

    def _parse_retry_after(self, retry_after: str) -> float | None:
        """Seconds to wait: decimal seconds ("2.128") or kiota's forms (integer, "n,m", HTTP date)."""
        try:
            seconds = float(retry_after.strip())
        except ValueError:
            return super()._parse_retry_after(retry_after)
        if not math.isfinite(seconds):
            return None
        return max(0.0, seconds)


class ResponseSizeLimit(BaseMiddleware):
    """Refuses responses over ``limit`` bytes, by their Content-Length or as their body streams in."""

    def __init__(self, limit: int = MAX_RESPONSE_BYTES) -> None:
        super().__init__()
        self.limit = limit

    def _refuse(self, request: httpx.Request, size: str) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"Graph response to {request.method} {request.url.path[:120]} is larger than {self.limit} bytes ({size})",
            side="outlook", status=None, limit=self.limit,
        )  # fmt: skip

    async def send(self, request: httpx.Request, transport: httpx.AsyncBaseTransport) -> httpx.Response:
        response = await super().send(request, transport)
        claimed = response.headers.get("content-length", "")
        if claimed.strip().isdigit() and int(claimed) > self.limit:
            await response.aclose()
            raise self._refuse(request, f"Content-Length {claimed[:20]}")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > self.limit:
                    raise self._refuse(request, "streamed")
                chunks.append(chunk)
        finally:
            await response.aclose()
        return httpx.Response(
            response.status_code, headers=response.headers, content=b"".join(chunks), request=request,
            extensions=response.extensions,
        )  # fmt: skip


class QueryNameDecoding(ParametersNameDecodingHandler):
    """kiota's ParametersNameDecodingHandler, skipped when the query holds nothing it would decode."""

    async def send(self, request: httpx.Request, transport: httpx.AsyncBaseTransport) -> httpx.Response:
        options = self._get_current_options(request)
        query = request.url.query
        codes = _encoded(tuple(options.characters_to_decode)) if options.enabled else ()
        if not any(code in query for code in codes):
            return await BaseMiddleware.send(self, request, transport)
        return await super().send(request, transport)


@functools.cache
def _encoded(characters: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(f"%{ord(c):02{case}}".encode() for c in characters for case in ("X", "x"))


_GRAPH_ENDPOINTS = frozenset(cloud.value for cloud in NationalClouds)


class GraphHostTelemetry(GraphTelemetryHandler):
    """msgraph's GraphTelemetryHandler; "is this Graph" read from the request's parsed URL (no urllib3 parse)."""

    def is_graph_url(self, url: httpx.URL) -> bool:  # type: ignore[override]
        port = "" if url.port is None else f":{url.port}"
        return f"{url.scheme}://{url.host}{port}" in _GRAPH_ENDPOINTS
