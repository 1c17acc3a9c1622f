"""The Outlook side's I/O: room-mailbox calendar operations over msgraph-sdk, with typed errors.

``GraphCalendar`` wraps one GraphServiceClient (subscriptions, places) and sends the
calendar requests, whose URLs it builds and whose bodies calsync.outlook.wire parses,
through the same httpx client and authentication without kiota's request adapter
(sender.py). It is built from Settings
(``GraphCalendar.from_settings``): azure-identity credentials chosen by
GRAPH_AUTH_MODE (credentials.py), GRAPH_BASE_URL as the base URL, and an httpx
client carrying kiota's default middleware with two changes (middleware.py): the
Prefer header always asks for UTC times and immutable ids, and retries on
429/503/504 honour Retry-After within a bounded total wait. On top of that every
call on a mailbox holds one of GRAPH_MAX_CONCURRENCY_PER_MAILBOX slots (Graph allows
4 concurrent requests per app and mailbox) and has a deadline.

Every method documents what it raises; all are calsync.errors types with
side="outlook" and the HTTP status: NotFound (404/410), SyncStateExpired (a deltaLink
Graph no longer knows), Throttled (429/503/504 left after the wait budget),
Conflict (409/412: changed meanwhile), PermissionDenied (401/403), TransientError
(other 5xx, timeouts, connection errors) and plain SideError for other refusals
(400: a request Graph does not accept). Tokens and clientState are never logged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from kiota_abstractions.api_error import APIError
from kiota_abstractions.method import Method
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware import (
    HeadersInspectionHandler,
    ParametersNameDecodingHandler,
    RetryHandler,
    UrlReplaceHandler,
)
from kiota_http.middleware.options import HeadersInspectionHandlerOption, RetryHandlerOption, UrlReplaceHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.subscription import Subscription
from msgraph_core import GraphClientFactory

from calsync.errors import (
    CalsyncError,
    Conflict,
    NotFound,
    PermissionDenied,
    SideError,
    SyncStateExpired,
    Throttled,
    TransientError,
    ValidationError,
)
from calsync.http_transport import ApiClient, fast_transport
from calsync.outlook.credentials import authentication_provider, graph_credential
from calsync.outlook.event_mapping import EVENT_SELECT, EXCEPTIONS_EXPAND, INSTANCE_SELECT, STAMP_PROPERTY_ID
from calsync.outlook.middleware import (
    BoundedRetryHandler,
    GraphHostTelemetry,
    PreferHeadersHandler,
    QueryNameDecoding,
    ResponseSizeLimit,
)
from calsync.outlook.sender import GraphErrorResponse, GraphSender
from calsync.outlook.wire import GraphEvent, parse_event, parse_items, parse_page, to_json
from calsync.settings import Settings

SIDE = "outlook"
_SYNC_STATE_CODES = ("SyncStateNotFound", "SyncStateInvalid", "resyncRequired")
READ_SELECT = EVENT_SELECT + ",createdDateTime,lastModifiedDateTime,responseStatus"
"""What get_event and find_event_by_stamp select: the mapping's fields plus what the engine reads
(creation time for first-come conflicts, the room's response to see declines)."""
EVENT_CHANGE_TYPES = "created,updated,deleted"
log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class DeltaResult:
    """One complete calendarView delta round: what changed, what went, and where to resume."""

    changed: list[GraphEvent]
    removed: list[str]
    delta_link: str
    skipped: list[ValidationError] = field(default_factory=list)  # items Graph sent that calsync cannot read


@dataclass(frozen=True)
class RoomInfo:
    """A room mailbox as /places/microsoft.graph.room lists it."""

    email: str
    display_name: str | None


def _graph_time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"window bounds must be timezone-aware (got naive {moment.isoformat()})")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _if_match(etag: str) -> str:
    """An If-Match value from an @odata.etag (kept) or a bare changeKey (made a weak etag)."""
    return etag if etag.startswith(('W/"', '"')) or etag == "*" else f'W/"{etag}"'


def _retry_after(headers: object) -> float | None:
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter("retry-after") or getter("Retry-After")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def translate(exc: BaseException, operation: str) -> SideError:
    """The calsync error for an error answer, timeout or transport error of ``operation``; re-raises anything else."""
    if isinstance(exc, GraphErrorResponse):
        return _answer_error(operation, exc.status, exc.code, exc.message, exc.headers)
    if isinstance(exc, APIError):
        code = message = None
        if isinstance(exc, ODataError) and exc.error is not None:
            code, message = exc.error.code, exc.error.message
        return _answer_error(operation, exc.response_status_code, code, message or exc.message, exc.response_headers)
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return TransientError(f"Graph {operation} timed out", side=SIDE, status=None)
    if isinstance(exc, httpx.TransportError):
        return TransientError(f"Graph {operation} failed: {type(exc).__name__}", side=SIDE, status=None)
    raise exc


def _answer_error(operation: str, status: int | None, code: str | None, message: str | None, headers: object
                  ) -> SideError:  # fmt: skip
    """The calsync error for Graph's answer ``status`` (with its OData error code and message) to ``operation``."""
    text = f"Graph {operation} failed: {status} {code or ''} {message or ''}".rstrip()
    fields = {"code": code}
    if status == 410 and ("delta" in operation or code in _SYNC_STATE_CODES):
        return SyncStateExpired(text, side=SIDE, status=status, **fields)
    if status in (404, 410):
        return NotFound(text, side=SIDE, status=status, **fields)
    if status in (409, 412):
        return Conflict(text, side=SIDE, status=status, **fields)
    if status in (401, 403):
        return PermissionDenied(text, side=SIDE, status=status, **fields)
    if status in (429, 503, 504):
        return Throttled(text, side=SIDE, status=status, retry_after=_retry_after(headers), **fields)
    if status is not None and status >= 500:
        return TransientError(text, side=SIDE, status=status, **fields)
    return SideError(text, side=SIDE, status=status, **fields)


def warm_up() -> None:
    """Nothing left to warm: events are parsed by calsync.outlook.wire, not by msgraph-sdk's models."""


MAX_BATCH = 20
"""Requests per JSON batch (https://learn.microsoft.com/graph/json-batching, "Batch size limitations")."""


@dataclass(frozen=True)
class BatchRequest:
    """One request of a JSON batch: method, URL relative to the version root, optional JSON body."""

    method: str
    url: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class BatchResult:
    """One answer of a batch, in request order: the parsed event (or None) or the calsync error."""

    event: GraphEvent | None = None
    error: CalsyncError | None = None


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    """httpx client with kiota's default middleware, calsync's Prefer headers and bounded retries."""
    # perf (#16): aiohttp under httpx (calsync.http_transport); kiota's middleware wraps it as before
    client = ApiClient(timeout=httpx.Timeout(settings.graph_timeout_seconds), http2=False,
                               transport=fast_transport())  # fmt: skip
    retry_option = RetryHandlerOption(delay=0.0, max_retries=RetryHandlerOption.MAX_MAX_RETRIES)
    middleware = []
    for handler in KiotaClientFactory.get_default_middleware(None):
        if isinstance(handler, RetryHandler):
            handler = BoundedRetryHandler(settings.graph_max_retry_wait_seconds, retry_option)
        elif isinstance(handler, ParametersNameDecodingHandler):
            handler = QueryNameDecoding()  # the same, without a URL re-parse when there is nothing to decode
        elif isinstance(handler, UrlReplaceHandler):
            handler = UrlReplaceHandler(UrlReplaceHandlerOption(enabled=False))  # no /me: application access
        elif isinstance(handler, HeadersInspectionHandler):
            # kiota copies every request's and response's headers into one shared collection by default;
            # calsync never reads it
            handler = HeadersInspectionHandler(HeadersInspectionHandlerOption(inspect_request_headers=False,
                                                                              inspect_response_headers=False))
        middleware.append(handler)
    middleware.append(PreferHeadersHandler())
    middleware.append(GraphHostTelemetry())
    middleware.append(ResponseSizeLimit())  # last: next to the transport, so every attempt is capped
    return GraphClientFactory.create_with_custom_middleware(middleware, client=client)


class GraphCalendar:
    """Room-mailbox calendar operations on Microsoft Graph (see the module docstring)."""

    def __init__(
        self,
        client: GraphServiceClient,
        sender: GraphSender,
        *,
        max_concurrency_per_mailbox: int = 4,
        call_timeout: float = 90.0,
        stamp_property_id: str | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
        max_retry_wait: float = 30.0,
    ) -> None:
        self.client = client
        self.sender = sender
        self.max_concurrency = max_concurrency_per_mailbox
        self.call_timeout = call_timeout
        self.stamp_property_id = stamp_property_id or STAMP_PROPERTY_ID
        self._on_close = on_close
        self.max_retry_wait = max_retry_wait
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._read_query_cache: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, stamp_property_id: str | None = None) -> GraphCalendar:
        """The adapter for ``settings``: credentials, base URL, timeouts, retry budget, concurrency."""
        credential = graph_credential(settings)
        http_client = build_http_client(settings)
        authentication = authentication_provider(settings, credential)
        adapter = GraphRequestAdapter(authentication, client=http_client)
        adapter.base_url = settings.graph_base_url.rstrip("/")

        transport = http_client._transport  # msgraph's transport wrapper does not close the one below it
        inner = getattr(transport, "transport", None)

        async def close() -> None:
            await http_client.aclose()
            if isinstance(inner, httpx.AsyncBaseTransport):
                await inner.aclose()
            if credential is not None:
                await credential.close()

        return cls(
            GraphServiceClient(request_adapter=adapter),
            GraphSender(http_client, authentication),
            max_concurrency_per_mailbox=settings.graph_max_concurrency_per_mailbox,
            # one attempt per try, plus the longest total wait for Retry-After
            call_timeout=settings.graph_timeout_seconds * 2 + settings.graph_max_retry_wait_seconds,
            stamp_property_id=stamp_property_id,
            on_close=close,
            max_retry_wait=settings.graph_max_retry_wait_seconds,
        )

    async def aclose(self) -> None:
        if self._on_close is not None:
            await self._on_close()
            self._on_close = None

    async def __aenter__(self) -> GraphCalendar:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- plumbing ----------------------------------------------------------------------------------
    @asynccontextmanager
    async def _slot(self, mailbox: str | None) -> AsyncIterator[None]:
        if mailbox is None:
            yield
            return
        slot = self._slots.setdefault(mailbox.lower(), asyncio.Semaphore(self.max_concurrency))
        async with slot:
            yield

    async def _call(self, operation: str, mailbox: str | None, make: Callable[[], Awaitable[T]]) -> T:
        """Run one SDK call in the mailbox's slot, under the deadline (slow bodies included), errors translated."""
        try:
            async with self._slot(mailbox), asyncio.timeout(self.call_timeout):
                return await make()
        except (GraphErrorResponse, APIError, TimeoutError, httpx.TransportError) as exc:
            error = translate(exc, operation)
            log.info("graph %s on %s: %s (status %s)", operation, mailbox, type(error).__name__, error.status)
            raise error from None
        except CalsyncError:
            raise
        except (httpx.HTTPError, ValueError, TypeError, KeyError, RecursionError, UnicodeError) as exc:
            # what the SDK raises on an answer it cannot read (e.g. an error body that is not OData JSON)
            log.info("graph %s on %s: unreadable answer (%s)", operation, mailbox, type(exc).__name__)
            raise TransientError(f"Graph {operation}: unreadable answer ({type(exc).__name__})", side=SIDE,
                                 status=None) from None  # fmt: skip

    # --- raw requests: URLs built once per shape, bodies parsed by calsync.outlook.wire -------------
    @property
    def base_url(self) -> str:
        return str(self.client.request_adapter.base_url).rstrip("/")

    def _user(self, mailbox: str) -> str:
        return f"/users/{quote(mailbox, safe='@')}"

    def _event_path(self, mailbox: str, event_id: str) -> str:
        return f"{self._user(mailbox)}/events/{quote(event_id, safe='')}"

    async def _send(
        self, operation: str, mailbox: str | None, method: Method, url: str, *, body: bytes | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> bytes | None:  # fmt: skip
        """One request through the SDK's httpx client (auth, middleware, retries); the raw body or None (204/empty)."""
        full_url = url if url.startswith("http") else self.base_url + url
        return await self._call(
            operation, mailbox, lambda: self.sender.send(method, full_url, body=body, headers=headers)
        )

    async def _get_event(self, operation: str, mailbox: str, url: str, *, body: bytes | None = None,
                         method: Method = Method.GET, headers: Sequence[tuple[str, str]] = ()) -> GraphEvent:  # fmt: skip
        raw = await self._send(operation, mailbox, method, url, body=body, headers=headers)
        if raw is None:
            # only 404/410 mean gone (issue #13): a 200 without a body is a broken answer, to retry
            raise TransientError(f"Graph answered {operation} with an empty body", side=SIDE, status=200)
        return parse_event(raw)

    async def _pages(self, operation: str, mailbox: str, url: str, headers: Sequence[tuple[str, str]] = ()
                     ) -> AsyncIterator[tuple[list[GraphEvent], list[ValidationError], str | None]]:  # fmt: skip
        """Each page of a collection, nextLinks followed: its events, its unreadable items, its deltaLink."""
        next_url: str | None = url
        while next_url:
            raw = await self._send(operation, mailbox, Method.GET, next_url, headers=headers)
            if raw is None:
                raise TransientError(f"Graph answered {operation} with an empty page", side=SIDE, status=200)
            page = parse_page(raw, operation)
            events, bad = parse_items(page.value, f"{operation} item")
            yield events, bad, page.delta_link
            next_url = page.next_link

    def _stamp_expand(self) -> str:
        return f"singleValueExtendedProperties($filter=id eq '{self.stamp_property_id}')"

    def _read_query(self) -> str:
        if self._read_query_cache is None:
            self._read_query_cache = _query(
                {"$select": READ_SELECT, "$expand": f"{self._stamp_expand()},{EXCEPTIONS_EXPAND}"}
            )
        return self._read_query_cache

    # --- events ---------------------------------------------------------------------------------------
    def read_url(self, mailbox: str, event_id: str) -> str:
        """The URL (below the version root) get_event reads, for a batch of reads."""
        return f"{self._event_path(mailbox, event_id)}?{self._read_query()}"

    async def get_event(self, mailbox: str, event_id: str) -> GraphEvent:
        """The event (single, series master or instance) as the mapping reads it.

        Selects READ_SELECT (event_mapping.EVENT_SELECT and a few more) and expands calsync's stamp property and, for a
        series master, its exceptionOccurrences (cancelledOccurrences come with the master).
        Raises NotFound (404/410 only), Throttled, PermissionDenied, TransientError (also: an empty or
        unparsable 200), ValidationError (an event whose fields do not fit).
        """
        return await self._get_event("get event", mailbox, self.read_url(mailbox, event_id))

    async def list_instances(
        self, mailbox: str, series_id: str, window_start: dt.datetime, window_end: dt.datetime
    ) -> list[GraphEvent]:
        """Occurrences and exceptions of a series in the window (cancelled ones are absent),
        with event_mapping.INSTANCE_SELECT, ready for event_to_booking(instances=...).

        Raises NotFound (no such series), Throttled, PermissionDenied, TransientError, SideError (not a series),
        ValidationError (an instance calsync cannot read: a series read without it would be wrong).
        """
        query = _query({"startDateTime": _graph_time(window_start), "endDateTime": _graph_time(window_end),
                        "$select": INSTANCE_SELECT})  # fmt: skip
        url = f"{self._event_path(mailbox, series_id)}/instances?{query}"
        events: list[GraphEvent] = []
        async for page, bad, _ in self._pages("list instances", mailbox, url):
            if bad:
                raise bad[0]
            events.extend(page)
        return events

    async def find_event_by_stamp(self, mailbox: str, booking_id: str) -> GraphEvent | None:
        """The event calsync stamped with ``booking_id`` (the booking system's id), or None.

        Raises Throttled, PermissionDenied, TransientError.
        """
        value = booking_id.replace("'", "''")
        stamp_filter = (
            f"singleValueExtendedProperties/any(ep: ep/id eq '{self.stamp_property_id}' and ep/value eq '{value}')"
        )
        query = _query({"$filter": stamp_filter, "$select": READ_SELECT, "$expand": self._stamp_expand()})
        found: list[GraphEvent] = []
        async for page, bad, _ in self._pages("find event by stamp", mailbox, f"{self._user(mailbox)}/events?{query}"):
            found.extend(page)
            for error in bad:
                log.warning("graph: skipped an unreadable event stamped %r in %s: %s", booking_id, mailbox, error)
        if len(found) > 1:
            log.warning("graph: %d events in %s carry the same calsync stamp", len(found), mailbox)
        found.sort(key=lambda e: (e.created_date_time or dt.datetime.max.replace(tzinfo=dt.UTC), e.id or ""))
        return found[0] if found else None

    async def find_events_by_ical_uid(self, mailbox: str, ical_uid: str) -> list[GraphEvent]:
        """The events of ``mailbox`` that are copies of the meeting ``ical_uid`` (organiser's or attendee's).

        Raises Throttled, PermissionDenied, TransientError.
        """
        value = ical_uid.replace("'", "''")
        query = _query({"$filter": f"iCalUId eq '{value}'", "$select": READ_SELECT + ",attendees",
                        "$expand": self._stamp_expand()})  # fmt: skip
        found: list[GraphEvent] = []
        async for page, bad, _ in self._pages("find events by iCalUId", mailbox, f"{self._user(mailbox)}/events?{query}"):
            found.extend(page)
            for error in bad:
                log.warning("graph: skipped an unreadable copy of %r in %s: %s", ical_uid, mailbox, error)
        return found

    async def cancel_event(self, mailbox: str, event_id: str, comment: str) -> None:
        """Cancel a meeting ``mailbox`` organises; every attendee receives the cancellation with ``comment``.

        Raises NotFound, Throttled, PermissionDenied, TransientError, SideError (not the organiser).
        """
        body = json.dumps({"comment": comment}).encode()
        await self._send("cancel event", mailbox, Method.POST, f"{self._event_path(mailbox, event_id)}/cancel", body=body)

    def create_url(self, mailbox: str) -> str:
        """The URL (relative to the version root) create_event POSTs to, for a batched create."""
        return f"{self._user(mailbox)}/events"

    def create_body(self, event: GraphEvent, transaction_id: str) -> dict[str, Any]:
        """The JSON object create_event POSTs: ``event`` with Graph's transactionId (the caller's event unchanged)."""
        return {**event.to_dict(), "transactionId": transaction_id}

    async def create_event(self, mailbox: str, event: GraphEvent, transaction_id: str) -> GraphEvent:
        """Create ``event`` (which should carry calsync's stamp) with Graph's transactionId.

        A retry with the same transaction_id gives back the event created the first time.
        Raises Throttled, PermissionDenied, TransientError, SideError (rejected payload).
        """
        body = json.dumps(self.create_body(event, transaction_id)).encode()
        return await self._get_event("create event", mailbox, self.create_url(mailbox), body=body, method=Method.POST)

    async def update_event(self, mailbox: str, event_id: str, patch: GraphEvent, *, etag: str | None = None
                           ) -> GraphEvent:  # fmt: skip
        """PATCH only the fields set in ``patch``; with ``etag`` (an @odata.etag or changeKey) as If-Match.

        Raises Conflict (412: changed meanwhile), NotFound, Throttled, PermissionDenied, TransientError.
        """
        headers = [("If-Match", _if_match(etag))] if etag else []
        return await self._get_event("update event", mailbox, self._event_path(mailbox, event_id),
                                     body=to_json(patch), method=Method.PATCH, headers=headers)  # fmt: skip

    async def delete_event(self, mailbox: str, event_id: str, *, etag: str | None = None) -> None:
        """Delete an event (an instance id cancels that occurrence).

        Raises NotFound, Conflict (412 with etag), Throttled, PermissionDenied, TransientError.
        """
        headers = [("If-Match", _if_match(etag))] if etag else []
        await self._send("delete event", mailbox, Method.DELETE, self._event_path(mailbox, event_id), headers=headers)

    async def decline_event(self, mailbox: str, event_id: str, comment: str) -> None:
        """Decline the meeting as the room, sending the organiser the response with ``comment``.

        Raises NotFound, Throttled, PermissionDenied, TransientError, SideError (e.g. the room organises it).
        """
        body = json.dumps({"comment": comment, "sendResponse": True}).encode()
        url = f"{self._event_path(mailbox, event_id)}/decline"
        await self._send("decline event", mailbox, Method.POST, url, body=body)

    async def calendar_view_delta(
        self,
        mailbox: str,
        window_start: dt.datetime | None = None,
        window_end: dt.datetime | None = None,
        delta_link: str | None = None,
        *,
        page_size: int | None = None,
    ) -> DeltaResult:
        """One delta round on the room's calendarView, every @odata.nextLink followed.

        Without ``delta_link`` a full round for the window; with it, the changes since.
        An item changed and then removed within the round is reported as removed only.
        An item calsync cannot read is logged and reported in ``skipped``; the round goes on.
        Raises SyncStateExpired (410: start a fresh round without delta_link), NotFound,
        Throttled, PermissionDenied, TransientError.
        """
        headers = [("Prefer", f"odata.maxpagesize={page_size}")] if page_size else []
        if delta_link:
            url = delta_link
        else:
            if window_start is None or window_end is None:
                raise ValueError("a first delta round needs window_start and window_end")
            query = _query({"startDateTime": _graph_time(window_start), "endDateTime": _graph_time(window_end)})
            url = f"{self._user(mailbox)}/calendarView/delta?{query}"
        changed: dict[str, GraphEvent] = {}
        removed: dict[str, None] = {}
        skipped: list[ValidationError] = []
        async for page, bad, link in self._pages("calendarView delta", mailbox, url, headers):
            for error in bad:
                log.warning("graph delta of %s: skipped an item calsync cannot read: %s", mailbox, error)
            skipped.extend(bad)
            for item in page:
                if item.id is None:
                    continue
                if item.removed is not None:
                    changed.pop(item.id, None)
                    removed[item.id] = None
                else:
                    removed.pop(item.id, None)
                    changed[item.id] = item
            if link:
                return DeltaResult(list(changed.values()), list(removed), link, skipped)
        raise TransientError("Graph delta page had neither nextLink nor deltaLink", side=SIDE, status=None)

    # --- JSON batching ---------------------------------------------------------------------------------
    async def batch(self, mailbox: str, requests: Sequence[BatchRequest], *, max_rounds: int = 4) -> list[BatchResult]:
        """Send ``requests`` (all for ``mailbox``) as JSON batches of at most MAX_BATCH, answers in request order.

        Each batch holds one of the mailbox's slots (so at most GRAPH_MAX_CONCURRENCY_PER_MAILBOX
        batches are in flight for a mailbox). Items answered 429/503/504 are sent again in a
        later batch after the longest Retry-After among them, within the retry budget; an item
        that still fails gets its calsync error in its result. A whole batch that fails raises.
        https://learn.microsoft.com/graph/json-batching ("Batch size limitations", throttling per request).
        """
        results: list[BatchResult | None] = [None] * len(requests)
        pending = list(range(len(requests)))
        waited = 0.0
        for round_no in range(max_rounds):
            chunks = [pending[i : i + MAX_BATCH] for i in range(0, len(pending), MAX_BATCH)]
            answers = await asyncio.gather(*(self._batch_once(mailbox, [(i, requests[i]) for i in c]) for c in chunks))
            pending, wait = [], 0.0
            for answer in answers:
                for index, result, retry_after in answer:
                    if retry_after is not None and round_no + 1 < max_rounds:
                        pending.append(index)
                        wait = max(wait, retry_after)
                    results[index] = result
            if not pending:
                break
            if waited + wait > self.max_retry_wait:
                break
            waited += wait
            await asyncio.sleep(wait)
        return [r if r is not None else BatchResult(error=TransientError("no answer", side=SIDE)) for r in results]

    async def _batch_once(self, mailbox: str, items: list[tuple[int, BatchRequest]]
                          ) -> list[tuple[int, BatchResult, float | None]]:  # fmt: skip
        body = {"requests": [
            {"id": str(index), "method": r.method, "url": r.url, **({"body": r.body} if r.body is not None else {}),
             "headers": {**({"Content-Type": "application/json"} if r.body is not None else {}), **(r.headers or {})}}
            for index, r in items
        ]}  # fmt: skip
        raw = await self._send("batch", mailbox, Method.POST, "/$batch", body=json.dumps(body).encode())
        if raw is None:
            raise TransientError("Graph answered a batch with an empty body", side=SIDE, status=200)
        page = _parse_batch(raw)
        by_id = {str(answer.get("id")): answer for answer in page if isinstance(answer, dict)}
        out: list[tuple[int, BatchResult, float | None]] = []
        for index, request in items:
            answer = by_id.get(str(index))
            if answer is None:
                out.append((index, BatchResult(error=TransientError("batch answer missing", side=SIDE)), 0.0))
                continue
            out.append(_batch_item(index, request, answer))
        return out

    # --- subscriptions -------------------------------------------------------------------------------
    async def create_subscription(
        self,
        mailbox: str,
        *,
        notification_url: str,
        client_state: str,
        expiration: dt.datetime,
        lifecycle_notification_url: str | None = None,
    ) -> Subscription:
        """Subscribe to created/updated/deleted events of the room (Graph validates the URLs first).

        Raises SideError (400: validation handshake failed or bad expiry), NotFound, Throttled,
        PermissionDenied, TransientError.
        """
        body = Subscription(
            change_type=EVENT_CHANGE_TYPES,
            notification_url=notification_url,
            lifecycle_notification_url=lifecycle_notification_url,
            resource=f"/users/{mailbox}/events",
            expiration_date_time=expiration.astimezone(dt.UTC),
            client_state=client_state,
        )
        created = await self._call("create subscription", None, lambda: self.client.subscriptions.post(body))
        if created is None:
            raise TransientError("Graph returned no body for a created subscription", side=SIDE, status=None)
        return created

    async def renew_subscription(self, subscription_id: str, expiration: dt.datetime) -> Subscription:
        """Move the subscription's expiry. Raises NotFound (gone: create a new one), SideError, Throttled, TransientError."""
        body = Subscription(expiration_date_time=expiration.astimezone(dt.UTC))
        builder = self.client.subscriptions.by_subscription_id(subscription_id)
        renewed = await self._call("renew subscription", None, lambda: builder.patch(body))
        if renewed is None:
            raise TransientError("Graph returned no body for a renewed subscription", side=SIDE, status=None)
        return renewed

    async def reauthorize_subscription(self, subscription_id: str) -> None:
        """Answer a reauthorizationRequired lifecycle event. Raises NotFound, Throttled, TransientError."""
        builder = self.client.subscriptions.by_subscription_id(subscription_id).reauthorize
        await self._call("reauthorize subscription", None, lambda: builder.post())

    async def delete_subscription(self, subscription_id: str) -> None:
        """Raises NotFound, Throttled, PermissionDenied, TransientError."""
        builder = self.client.subscriptions.by_subscription_id(subscription_id)
        await self._call("delete subscription", None, lambda: builder.delete())

    async def list_subscriptions(self) -> list[Subscription]:
        """Every subscription of this app. Raises Throttled, PermissionDenied, TransientError."""
        builder = self.client.subscriptions
        result: list[Subscription] = []
        page = await self._call("list subscriptions", None, lambda: builder.get())
        while page is not None:
            result.extend(page.value or [])
            if not page.odata_next_link:
                break
            page = await self._call(
                "list subscriptions", None, lambda link=page.odata_next_link: builder.with_url(link).get()
            )
        return result

    # --- rooms ---------------------------------------------------------------------------------------
    async def list_rooms(self) -> list[RoomInfo]:
        """Room mailboxes from /places/microsoft.graph.room. Raises Throttled, PermissionDenied, TransientError."""
        builder = self.client.places.graph_room
        rooms: list[RoomInfo] = []
        page = await self._call("list rooms", None, lambda: builder.get())
        while page is not None:
            rooms.extend(RoomInfo(r.email_address, r.display_name) for r in page.value or [] if r.email_address)
            if not page.odata_next_link:
                break
            page = await self._call("list rooms", None, lambda link=page.odata_next_link: builder.with_url(link).get())
        return rooms


def _query(params: dict[str, str]) -> str:
    """A query string as kiota's templates encode it (RFC 3986 percent-encoding; '$' and ',' kept)."""
    return "&".join(f"{quote(k, safe='$')}={quote(v, safe=',$')}" for k, v in params.items())


def _parse_batch(raw: bytes) -> list[Any]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise TransientError(f"Graph batch answer is not JSON ({type(exc).__name__})", side=SIDE, status=200) from None
    responses = data.get("responses") if isinstance(data, dict) else None
    if not isinstance(responses, list):
        raise TransientError("Graph batch answer has no responses array", side=SIDE, status=200)
    return responses


def _batch_item(index: int, request: BatchRequest, answer: dict[str, Any]) -> tuple[int, BatchResult, float | None]:
    """One batch answer as a result; the third value is the wait before a retry (None: final)."""
    status = answer.get("status")
    headers = {str(k).lower(): v for k, v in (answer.get("headers") or {}).items()}
    body = answer.get("body")
    if isinstance(status, int) and 200 <= status < 300:
        if status == 204 or request.method == "DELETE":
            return index, BatchResult(), None
        if not isinstance(body, dict):
            return index, BatchResult(error=TransientError("batch item answered without a body", side=SIDE,
                                                           status=status)), None  # fmt: skip
        try:
            return index, BatchResult(event=parse_event(body)), None
        except (TransientError, ValidationError) as exc:
            return index, BatchResult(error=exc), None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    exc = APIError(message=str(message or ""), response_status_code=status if isinstance(status, int) else None,
                   response_headers=headers)  # fmt: skip
    translated = translate(exc, f"batch {request.method.lower()}")
    translated.fields["code"] = code
    if isinstance(translated, Throttled):
        return index, BatchResult(error=translated), translated.retry_after if translated.retry_after else 1.0
    return index, BatchResult(error=translated), None
