"""The Outlook side's I/O: room-mailbox calendar operations over msgraph-sdk, with typed errors.

``GraphCalendar`` wraps one GraphServiceClient. It is built from Settings
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
import copy
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.headers_collection import HeadersCollection
from kiota_http.kiota_client_factory import KiotaClientFactory
from kiota_http.middleware import RetryHandler
from kiota_http.middleware.options import RetryHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.event import Event
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.generated.users.item.events.events_request_builder import EventsRequestBuilder
from msgraph.generated.users.item.events.item.decline.decline_post_request_body import DeclinePostRequestBody
from msgraph.generated.users.item.events.item.event_item_request_builder import EventItemRequestBuilder
from msgraph.generated.users.item.events.item.instances.instances_request_builder import InstancesRequestBuilder
from msgraph_core import GraphClientFactory
from msgraph_core.middleware import GraphTelemetryHandler

from calsync.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    SideError,
    SyncStateExpired,
    Throttled,
    TransientError,
)
from calsync.outlook.credentials import authentication_provider, graph_credential
from calsync.outlook.event_mapping import EVENT_SELECT, EXCEPTIONS_EXPAND, INSTANCE_SELECT, STAMP_PROPERTY_ID
from calsync.outlook.middleware import BoundedRetryHandler, PreferHeadersHandler
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

    changed: list[Event]
    removed: list[str]
    delta_link: str


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
    """The calsync error for an APIError, timeout or transport error of ``operation``; re-raises anything else."""
    if isinstance(exc, APIError):
        status = exc.response_status_code
        code = message = None
        if isinstance(exc, ODataError) and exc.error is not None:
            code, message = exc.error.code, exc.error.message
        text = f"Graph {operation} failed: {status} {code or ''} {message or exc.message or ''}".rstrip()
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
            after = _retry_after(exc.response_headers)
            return Throttled(text, side=SIDE, status=status, retry_after=after, **fields)
        if status is not None and status >= 500:
            return TransientError(text, side=SIDE, status=status, **fields)
        return SideError(text, side=SIDE, status=status, **fields)
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return TransientError(f"Graph {operation} timed out", side=SIDE, status=None)
    if isinstance(exc, httpx.TransportError):
        return TransientError(f"Graph {operation} failed: {type(exc).__name__}", side=SIDE, status=None)
    raise exc


def warm_up() -> None:
    """Pay msgraph-sdk's one-time cost now instead of in the first sync.

    The first Event the SDK parses imports ~1,200 generated model modules (the Entity
    discriminator table), which takes 1.5-2 s; a worker can call this at start-up.
    """
    from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory

    node = JsonParseNodeFactory().get_root_parse_node("application/json", b'{"id": "warm-up"}')
    node.get_object_value(Event)


def build_http_client(settings: Settings) -> httpx.AsyncClient:
    """httpx client with kiota's default middleware, calsync's Prefer headers and bounded retries."""
    client = httpx.AsyncClient(timeout=httpx.Timeout(settings.graph_timeout_seconds), http2=False)
    retry_option = RetryHandlerOption(delay=0.0, max_retries=RetryHandlerOption.MAX_MAX_RETRIES)
    middleware = []
    for handler in KiotaClientFactory.get_default_middleware(None):
        if isinstance(handler, RetryHandler):
            handler = BoundedRetryHandler(settings.graph_max_retry_wait_seconds, retry_option)
        middleware.append(handler)
    middleware.append(PreferHeadersHandler())
    middleware.append(GraphTelemetryHandler())
    return GraphClientFactory.create_with_custom_middleware(middleware, client=client)


class GraphCalendar:
    """Room-mailbox calendar operations on Microsoft Graph (see the module docstring)."""

    def __init__(
        self,
        client: GraphServiceClient,
        *,
        max_concurrency_per_mailbox: int = 4,
        call_timeout: float = 90.0,
        stamp_property_id: str | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.client = client
        self.max_concurrency = max_concurrency_per_mailbox
        self.call_timeout = call_timeout
        self.stamp_property_id = stamp_property_id or STAMP_PROPERTY_ID
        self._on_close = on_close
        self._slots: dict[str, asyncio.Semaphore] = {}

    @classmethod
    def from_settings(cls, settings: Settings, *, stamp_property_id: str | None = None) -> GraphCalendar:
        """The adapter for ``settings``: credentials, base URL, timeouts, retry budget, concurrency."""
        credential = graph_credential(settings)
        http_client = build_http_client(settings)
        adapter = GraphRequestAdapter(authentication_provider(settings, credential), client=http_client)
        adapter.base_url = settings.graph_base_url.rstrip("/")

        async def close() -> None:
            await http_client.aclose()
            if credential is not None:
                await credential.close()

        return cls(
            GraphServiceClient(request_adapter=adapter),
            max_concurrency_per_mailbox=settings.graph_max_concurrency_per_mailbox,
            # one attempt per try, plus the longest total wait for Retry-After
            call_timeout=settings.graph_timeout_seconds * 2 + settings.graph_max_retry_wait_seconds,
            stamp_property_id=stamp_property_id,
            on_close=close,
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
        """Run one SDK call in the mailbox's slot, under the deadline, with errors translated."""
        try:
            async with self._slot(mailbox), asyncio.timeout(self.call_timeout):
                return await make()
        except (APIError, TimeoutError, httpx.TransportError) as exc:
            error = translate(exc, operation)
            log.info("graph %s on %s: %s (status %s)", operation, mailbox, type(error).__name__, error.status)
            raise error from None

    def _events(self, mailbox: str) -> EventsRequestBuilder:
        return self.client.users.by_user_id(mailbox).events

    def _event(self, mailbox: str, event_id: str) -> EventItemRequestBuilder:
        return self._events(mailbox).by_event_id(event_id)

    def _stamp_expand(self) -> str:
        return f"singleValueExtendedProperties($filter=id eq '{self.stamp_property_id}')"

    # --- events ---------------------------------------------------------------------------------------
    async def get_event(self, mailbox: str, event_id: str) -> Event:
        """The event (single, series master or instance) as the mapping reads it.

        Selects READ_SELECT (event_mapping.EVENT_SELECT and a few more) and expands calsync's stamp property and, for a
        series master, its exceptionOccurrences (cancelledOccurrences come with the master).
        Raises NotFound, Throttled, PermissionDenied, TransientError.
        """
        config = RequestConfiguration(
            query_parameters=EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(
                select=READ_SELECT.split(","), expand=[self._stamp_expand(), EXCEPTIONS_EXPAND]
            )
        )
        event = await self._call("get event", mailbox, lambda: self._event(mailbox, event_id).get(config))
        if event is None:
            raise NotFound(f"Graph returned no event for {event_id!r}", side=SIDE, status=None)
        return event

    async def list_instances(
        self, mailbox: str, series_id: str, window_start: dt.datetime, window_end: dt.datetime
    ) -> list[Event]:
        """Occurrences and exceptions of a series in the window (cancelled ones are absent),
        with event_mapping.INSTANCE_SELECT, ready for event_to_booking(instances=...).

        Raises NotFound (no such series), Throttled, PermissionDenied, TransientError, SideError (not a series).
        """
        config = RequestConfiguration(
            query_parameters=InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
                start_date_time=_graph_time(window_start),
                end_date_time=_graph_time(window_end),
                select=INSTANCE_SELECT.split(","),
            )
        )
        builder = self._event(mailbox, series_id).instances
        events: list[Event] = []
        page = await self._call("list instances", mailbox, lambda: builder.get(config))
        while page is not None:
            events.extend(page.value or [])
            next_link = page.odata_next_link
            if not next_link:
                break
            page = await self._call("list instances", mailbox, lambda link=next_link: builder.with_url(link).get())
        return events

    async def find_event_by_stamp(self, mailbox: str, booking_id: str) -> Event | None:
        """The event calsync stamped with ``booking_id`` (the booking system's id), or None.

        Raises Throttled, PermissionDenied, TransientError.
        """
        value = booking_id.replace("'", "''")
        stamp_filter = (
            f"singleValueExtendedProperties/any(ep: ep/id eq '{self.stamp_property_id}' and ep/value eq '{value}')"
        )
        config = RequestConfiguration(
            query_parameters=EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
                filter=stamp_filter, select=READ_SELECT.split(","), expand=[self._stamp_expand()]
            )
        )
        page = await self._call("find event by stamp", mailbox, lambda: self._events(mailbox).get(config))
        found = list(page.value or []) if page is not None else []
        if len(found) > 1:
            log.warning("graph: %d events in %s carry the same calsync stamp", len(found), mailbox)
        found.sort(key=lambda e: (e.created_date_time or dt.datetime.max.replace(tzinfo=dt.UTC), e.id or ""))
        return found[0] if found else None

    async def create_event(self, mailbox: str, event: Event, transaction_id: str) -> Event:
        """Create ``event`` (which should carry calsync's stamp) with Graph's transactionId set on a copy.

        A retry with the same transaction_id gives back the event created the first time.
        Raises Throttled, PermissionDenied, TransientError, SideError (rejected payload).
        """
        body = copy.copy(event)  # the caller's Event stays as it was; it may be shared
        body.transaction_id = transaction_id
        created = await self._call("create event", mailbox, lambda: self._events(mailbox).post(body))
        if created is None:
            raise TransientError("Graph returned no body for a created event", side=SIDE, status=None)
        return created

    async def update_event(self, mailbox: str, event_id: str, patch: Event, *, etag: str | None = None) -> Event:
        """PATCH only the fields set in ``patch``; with ``etag`` (an @odata.etag or changeKey) as If-Match.

        Raises Conflict (412: changed meanwhile), NotFound, Throttled, PermissionDenied, TransientError.
        """
        config = RequestConfiguration()
        if etag:
            config.headers.add("If-Match", _if_match(etag))
        updated = await self._call("update event", mailbox, lambda: self._event(mailbox, event_id).patch(patch, config))
        if updated is None:
            raise TransientError("Graph returned no body for an updated event", side=SIDE, status=None)
        return updated

    async def delete_event(self, mailbox: str, event_id: str, *, etag: str | None = None) -> None:
        """Delete an event (an instance id cancels that occurrence).

        Raises NotFound, Conflict (412 with etag), Throttled, PermissionDenied, TransientError.
        """
        config = RequestConfiguration()
        if etag:
            config.headers.add("If-Match", _if_match(etag))
        await self._call("delete event", mailbox, lambda: self._event(mailbox, event_id).delete(config))

    async def decline_event(self, mailbox: str, event_id: str, comment: str) -> None:
        """Decline the meeting as the room, sending the organiser the response with ``comment``.

        Raises NotFound, Throttled, PermissionDenied, TransientError, SideError (e.g. the room organises it).
        """
        body = DeclinePostRequestBody(comment=comment, send_response=True)
        await self._call("decline event", mailbox, lambda: self._event(mailbox, event_id).decline.post(body))

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
        Raises SyncStateExpired (410: start a fresh round without delta_link), NotFound,
        Throttled, PermissionDenied, TransientError.
        """
        builder = self.client.users.by_user_id(mailbox).calendar_view.delta
        headers = HeadersCollection()
        if page_size:
            headers.add("Prefer", f"odata.maxpagesize={page_size}")
        if delta_link:
            first = builder.with_url(delta_link)
            config: RequestConfiguration = RequestConfiguration(headers=headers)
        else:
            if window_start is None or window_end is None:
                raise ValueError("a first delta round needs window_start and window_end")
            first = builder
            config = RequestConfiguration(
                headers=headers,
                query_parameters=DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
                    start_date_time=_graph_time(window_start), end_date_time=_graph_time(window_end)
                ),
            )
        changed: dict[str, Event] = {}
        removed: dict[str, None] = {}
        page = await self._call("calendarView delta", mailbox, lambda: first.get(config))
        while True:
            if page is None:
                raise TransientError("Graph returned an empty delta page", side=SIDE, status=None)
            for item in page.value or []:
                if item.id is None:
                    continue
                if "@removed" in (item.additional_data or {}):
                    changed.pop(item.id, None)
                    removed[item.id] = None
                else:
                    removed.pop(item.id, None)
                    changed[item.id] = item
            if page.odata_delta_link:
                return DeltaResult(list(changed.values()), list(removed), page.odata_delta_link)
            if not page.odata_next_link:
                raise TransientError("Graph delta page had neither nextLink nor deltaLink", side=SIDE, status=None)
            next_page = builder.with_url(page.odata_next_link)
            page = await self._call(
                "calendarView delta",
                mailbox,
                lambda b=next_page: b.get(RequestConfiguration(headers=headers)),
            )

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
