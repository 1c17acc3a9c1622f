"""kiota/httpx middleware for calsync's Graph requests: Prefer headers and a bounded retry wait.

``PreferHeadersHandler`` adds ``outlook.timezone="UTC"`` and ``IdType="ImmutableId"``
to the Prefer header of every request, keeping preferences set per request (such as
``odata.maxpagesize``). ``BoundedRetryHandler`` is kiota's RetryHandler (429/503/504,
Retry-After honoured, exponential backoff otherwise) with one addition kiota lacks:
the total time one request may spend waiting across its retries is capped. When the
next wait would go over the budget, the throttled response is returned as it is and
the adapter turns it into Throttled.
"""

from __future__ import annotations

import httpx
from kiota_http.middleware import RetryHandler
from kiota_http.middleware.middleware import BaseMiddleware
from kiota_http.middleware.options import RetryHandlerOption

PREFERENCES = ('outlook.timezone="UTC"', 'IdType="ImmutableId"')
_WAITED = "calsync_retry_waited"


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
