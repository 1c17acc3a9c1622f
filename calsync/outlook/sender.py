"""Sends calsync's raw Graph requests through the SDK's httpx client, without kiota's request adapter.

calsync builds its Graph URLs itself and parses the bodies itself (calsync.outlook.wire),
so of kiota's request adapter only two things were used: the authentication provider
and the httpx client with its middleware (redirects, retries with Retry-After and the
bounded wait, Prefer headers, the response size cap, telemetry). ``GraphSender`` keeps
exactly those and drops the adapter's own per-request work (its tracing spans, a
urllib and an httpx parse of the URL, the response handler look-up), about 0.07 ms of
CPU of a 0.5 ms Graph read here (issue #16, bench/bench_graph_adapter.py).

What the adapter did and ``send`` still does:

- the authentication provider signs the request (a bearer token for the Graph host only;
  nothing with GRAPH_AUTH_MODE=none); a 401 carrying a claims challenge (continuous
  access evaluation) is answered once more with a token for those claims, as kiota's
  adapter does (https://learn.microsoft.com/entra/identity-platform/app-resilience-continuous-access-evaluation);
- a 2xx gives the body, or None for 204 and an empty body (a 304 is not a success: raised, as kiota does);
- any other status raises ``GraphErrorResponse`` with Graph's OData error code and
  message when the body holds them (``{"error": {"code", "message"}}``,
  https://learn.microsoft.com/graph/errors), None when it does not (an HTML gateway
  page, an empty body): the status alone then decides, as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from kiota_abstractions.authentication import AuthenticationProvider
from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from kiota_http.middleware.middleware import REQUEST_OPTIONS_KEY

_CLAIMS = re.compile(r'claims="([^"]+)"')


class GraphErrorResponse(Exception):
    """Graph answered outside 2xx: the status, Graph's error code and message (None when unreadable), the headers."""

    def __init__(self, status: int, code: str | None, message: str | None, headers: Mapping[str, str]) -> None:
        super().__init__(f"{status} {code or ''} {message or ''}".rstrip())
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def odata_error(body: bytes) -> tuple[str | None, str | None]:
    """Graph's error code and message from an error body, (None, None) where it holds none."""
    try:
        error = json.loads(body).get("error") if body else None
    except (ValueError, AttributeError, RecursionError):
        return None, None
    if not isinstance(error, dict):
        return None, None
    code, message = error.get("code"), error.get("message")
    return (code if isinstance(code, str) else None), (message if isinstance(message, str) else None)


@dataclass
class GraphSender:
    """The SDK's httpx client (with its middleware) and authentication provider, sending calsync's requests."""

    http_client: httpx.AsyncClient
    authentication: AuthenticationProvider

    async def send(self, method: Method, url: str, *, body: bytes | None = None,
                   headers: Sequence[tuple[str, str]] = ()) -> bytes | None:  # fmt: skip
        """The body of Graph's 2xx answer (None for 204 or empty); raises GraphErrorResponse, httpx errors."""
        response = await self._send(method, url, body, headers, {})
        if response.status_code == 401 and (claims := _claims(response)):
            response = await self._send(method, url, body, headers, {"claims": claims})
        if not response.is_success:
            code, message = odata_error(response.content)
            raise GraphErrorResponse(response.status_code, code, message, response.headers)
        if response.status_code == 204 or not response.content:
            return None
        return response.content

    async def _send(self, method: Method, url: str, body: bytes | None, headers: Sequence[tuple[str, str]],
                    authentication_context: dict[str, Any]) -> httpx.Response:  # fmt: skip
        info = RequestInformation(method=method)
        info.url = url
        info.headers.try_add("Accept", "application/json")
        for name, value in headers:
            info.headers.add(name, value)
        if body is not None:
            info.headers.try_add("Content-Type", "application/json")
        await self.authentication.authenticate_request(info, authentication_context)
        # msgraph's transport runs the middleware only for requests that carry kiota's options (none here: defaults)
        request = self.http_client.build_request(method.value, url, headers=info.request_headers, content=body,
                                                 extensions={REQUEST_OPTIONS_KEY: {}})  # fmt: skip
        return await self.http_client.send(request)


def _claims(response: httpx.Response) -> str | None:
    """The claims of a continuous access evaluation challenge in a 401's WWW-Authenticate, or None."""
    challenge = response.headers.get("WWW-Authenticate", "")
    if not challenge.lower().startswith("bearer"):
        return None
    found = _CLAIMS.search(challenge)
    return found.group(1) if found else None
