"""BookingRestClient: the BookingSystem Protocol over the REST contract of docs/booking-api.yaml (httpx, async).

Sends the API key as a bearer token and retries 429, 5xx, timeouts and connection errors
with exponential backoff and full jitter, honouring Retry-After, within a bounded total
wait. Every request is safe to retry: creates carry an Idempotency-Key, updates and
deletes an If-Match. Each attempt has one overall deadline (``timeout``) covering the
request, the headers and the whole body, so a peer trickling a byte at a time cannot hold
it longer (httpx's own timeouts are per read); and a byte cap (``max_response_bytes``):
a larger Content-Length claim is refused before reading, a longer body is cut off at the
cap, and neither is retried. Redirects are never followed (not across hosts, never with
credentials), and a 3xx is never success: the write it answered did not happen as asked.
Failures become calsync.errors types, keeping the RFC 9457 problem's title and detail in
the message:

    2xx with a body that is not JSON (empty, HTML, garbled) -> TransientError (a proxy; retryable)
    2xx with JSON that breaks the contract -> ValidationError
    3xx -> PeerContractError (not retryable)  body over the cap -> ResponseTooLarge (not retryable)
    400/422/428 and other 4xx -> ValidationError     401/403 -> PermissionDenied
    404 (410 elsewhere)       -> NotFound            410 on /changes -> ChangeFeedExpired
    409 -> RoomAlreadyBooked   412 -> ChangedMeanwhile
    429/503 after the bounded wait -> Throttled      408, other 5xx, timeouts, deadline, connection errors -> TransientError
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr
from pydantic import ValidationError as PydanticValidationError

from calsync.booking.api_models import BookingOut, BookingPage, ChangePage, Problem, RejectRequest, RoomList
from calsync.booking.conversion import RoomMap, booking_to_wire, record_from_wire, room_from_wire
from calsync.booking.protocol import (
    SIDE,
    BookingRecord,
    BookingRoom,
    ChangedMeanwhile,
    ChangeFeedExpired,
    ChangeFeedPage,
    RoomAlreadyBooked,
)
from calsync.errors import (
    CalsyncError,
    IdempotencyKeyReused,
    NotFound,
    PeerContractError,
    PermissionDenied,
    ResponseTooLarge,
    Throttled,
    TransientError,
    ValidationError,
)
from calsync.http_transport import ApiClient, fast_transport
from calsync.model.booking import Booking

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024  # a page of 100 bookings is ~100 KB
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _quote_etag(version: str) -> str:
    return version if version.startswith(('"', 'W/"')) or version == "*" else f'"{version}"'


class BookingRestClient:
    """The booking system over REST; implements calsync.booking.protocol.BookingSystem."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | SecretStr | None,
        timeout: float = 15.0,
        room_map: RoomMap | None = None,
        max_attempts: int = 4,
        backoff_base: float = 0.25,
        backoff_cap: float = 8.0,
        max_retry_wait: float = 30.0,
        page_size: int = 100,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        headers = {"Accept": "application/json, application/problem+json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = ApiClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=httpx.Timeout(timeout),
            transport=transport or fast_transport(),  # perf (#16): aiohttp under httpx (calsync.http_transport)
            follow_redirects=False,
        )
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.rooms = room_map or RoomMap()
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_wait = max_retry_wait
        self.page_size = page_size
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: Any, **options: Any) -> BookingRestClient:
        """A client configured from calsync.settings.Settings (BOOKING_* settings and ROOMS)."""
        return cls(
            settings.booking_base_url,
            api_key=settings.booking_api_key,
            timeout=settings.booking_timeout_seconds,
            room_map=RoomMap.from_settings_rooms(settings.rooms),
            **options,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> BookingRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- the Protocol ---------------------------------------------------------------------------

    async def list_rooms(self) -> list[BookingRoom]:
        """All rooms. Raises PermissionDenied, Throttled, TransientError."""
        response = await self._request("GET", "/rooms")
        return [room_from_wire(room) for room in self._parse(RoomList, response).items]

    async def get_booking(self, booking_id: str) -> BookingRecord:
        """The booking's current state. Raises NotFound, PermissionDenied, Throttled, TransientError."""
        response = await self._request("GET", f"/bookings/{_segment(booking_id)}")
        return self._record(response)

    async def find_by_external_ref(self, external_ref: str) -> BookingRecord | None:
        """The booking stamped with this Outlook id, or None. Raises PermissionDenied, Throttled, TransientError."""
        response = await self._request("GET", "/bookings", params={"external_ref": external_ref, "limit": 1})
        page = self._parse(BookingPage, response)
        return self._to_record(page.items[0]) if page.items else None

    async def list_bookings(self, room_id: str, start: dt.datetime, end: dt.datetime) -> AsyncIterator[BookingRecord]:
        """Every booking of the room overlapping [start, end), page by page.

        Raises ValidationError for naive bounds, NotFound for an unknown room, and PermissionDenied,
        Throttled, TransientError.
        """
        for name, value in (("start", start), ("end", end)):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValidationError(
                    f"list_bookings {name} must be timezone-aware (got {value.isoformat()})", side=SIDE
                )
        params: dict[str, Any] = {
            "room_id": room_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "limit": self.page_size,
        }
        while True:
            page = self._parse(BookingPage, await self._request("GET", "/bookings", params=params))
            for item in page.items:
                yield self._to_record(item)
            if not page.next_page_token:
                return
            params["page_token"] = page.next_page_token

    async def create_booking(
        self, room_id: str, booking: Booking, *, idempotency_key: str, external_ref: str | None
    ) -> BookingRecord:
        """Create; a retry with the same key returns the same booking.

        Raises RoomAlreadyBooked, NotFound (unknown room), ValidationError, PermissionDenied, Throttled, TransientError.
        """
        wire = booking_to_wire(booking, room_id=room_id, external_ref=external_ref)
        body = wire.model_dump(mode="json", exclude={"note"} if wire.note is None else None)
        response = await self._request("POST", "/bookings", json=body, headers={"Idempotency-Key": idempotency_key})
        return self._record(response)

    async def update_booking(self, booking_id: str, booking: Booking, *, if_match: str) -> BookingRecord:
        """Replace the booking's content if its version is still ``if_match``; the room is ``booking.room``
        translated through the RoomMap. ``external_ref`` is sent only when ``booking.ids.outlook`` is set
        (omitted, the stored one is kept); ``note`` (``booking.note``: why calsync changed it) only when set.

        Raises ChangedMeanwhile, RoomAlreadyBooked, NotFound, ValidationError, PermissionDenied, Throttled, TransientError.
        """
        wire = booking_to_wire(booking, room_id=self.rooms.room_id(booking.room))
        omitted = {name for name in ("external_ref", "note") if getattr(wire, name) is None}
        body = wire.model_dump(mode="json", exclude=omitted or None)
        response = await self._request(
            "PUT", f"/bookings/{_segment(booking_id)}", json=body, headers={"If-Match": _quote_etag(if_match)}
        )
        return self._record(response)

    async def delete_booking(self, booking_id: str, *, if_match: str) -> None:
        """Delete if the version is still ``if_match``.

        Raises ChangedMeanwhile, NotFound, PermissionDenied, Throttled, TransientError.
        """
        await self._request("DELETE", f"/bookings/{_segment(booking_id)}", headers={"If-Match": _quote_etag(if_match)})

    async def reject_booking(self, booking_id: str, reason: str) -> BookingRecord:
        """Decline the booking with a reason the organiser sees (status becomes rejected, the room is freed).

        Raises NotFound, ValidationError, PermissionDenied, Throttled, TransientError.
        """
        body = RejectRequest(reason=reason).model_dump(mode="json")
        response = await self._request("POST", f"/bookings/{_segment(booking_id)}/reject", json=body)
        return self._record(response)

    async def changes(self, cursor: str | None) -> ChangeFeedPage:
        """One page of the change feed after ``cursor`` (None: from the oldest retained change).

        Raises ChangeFeedExpired (do a full pass), PermissionDenied, Throttled, TransientError.
        """
        params: dict[str, Any] = {"limit": self.page_size}
        if cursor is not None:
            params["cursor"] = cursor
        page = self._parse(ChangePage, await self._request("GET", "/changes", params=params))
        return ChangeFeedPage(
            changed=tuple(page.changed),
            deleted=tuple(page.deleted),
            next_cursor=page.next_cursor,
            has_more=page.has_more,
        )

    # --- plumbing -------------------------------------------------------------------------------

    def _to_record(self, wire: BookingOut) -> BookingRecord:
        return record_from_wire(wire, room=self.rooms.key(wire.room_id))

    def _record(self, response: httpx.Response) -> BookingRecord:
        wire = self._parse(BookingOut, response)
        record = self._to_record(wire)
        etag = response.headers.get("etag")
        if etag and etag.strip('"') != record.version:
            log.warning("booking %s: ETag %s differs from body version %s", record.id, etag, record.version)
        return record

    @staticmethod
    def _parse(model: type[M], response: httpx.Response) -> M:
        where_from = f"{response.request.method} {response.request.url.path}"
        content_type = response.headers.get("content-type", "")
        if not response.content.strip() or ("json" not in content_type.lower() and content_type):
            raise TransientError(
                f"booking system answered {where_from} with {response.status_code} and "
                f"{'an empty body' if not response.content.strip() else 'a ' + content_type[:60] + ' body'}"
                f" instead of {model.__name__} JSON",
                side=SIDE,
                status=response.status_code,
            )
        try:
            return model.model_validate_json(response.content)
        except PydanticValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            if first["type"] == "json_invalid":  # truncated or garbled: a proxy or a dropped stream
                raise TransientError(
                    f"booking system answered {where_from} with a body that is not valid JSON ({first['msg'][:120]})",
                    side=SIDE,
                    status=response.status_code,
                ) from None
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise ValidationError(
                f"booking system answered {where_from} with a "
                f"{model.__name__} that breaks the contract ({where}: {first['msg']})",
                side=SIDE,
                status=response.status_code,
            ) from None

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))  # noqa: S311 - jitter, not crypto

    async def _send(
        self, method: str, path: str, *, params: dict[str, Any] | None, json: Any, headers: dict[str, str] | None
    ) -> httpx.Response:
        """One attempt under one deadline (request, headers and whole body), reading at most the byte cap."""
        request = self._http.build_request(method, path, params=params, json=json, headers=headers)
        async with asyncio.timeout(self.timeout):
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                declared = response.headers.get("content-length", "").strip()
                if declared.isascii() and declared.isdigit() and int(declared) > self.max_response_bytes:
                    raise self._too_large(method, path, response, f"claims {int(declared):,} bytes")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_response_bytes:
                        raise self._too_large(method, path, response, "ran past it")
                    chunks.append(chunk)
            finally:
                await response.aclose()
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _BODY_HEADERS]
        return httpx.Response(response.status_code, headers=kept, content=b"".join(chunks), request=request,
                              extensions=response.extensions)  # fmt: skip

    def _too_large(self, method: str, path: str, response: httpx.Response, how: str) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"booking system: {method} {path} -> {response.status_code} with a body over the"
            f" {self.max_response_bytes:,}-byte cap ({how}); not read further, not retried",
            side=SIDE,
            status=response.status_code,
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        waited = 0.0
        for attempt in range(self.max_attempts):
            last = attempt == self.max_attempts - 1
            try:
                response = await self._send(method, path, params=params, json=json, headers=headers)
            except (httpx.TimeoutException, TimeoutError) as exc:
                failure: CalsyncError = TransientError(
                    f"booking system: {method} {path} timed out ({type(exc).__name__}; deadline {self.timeout:g} s)",
                    side=SIDE,
                )
                delay = self._backoff(attempt)
            except httpx.HTTPError as exc:  # connection errors, dropped streams, undecodable bodies
                failure = TransientError(
                    f"booking system: {method} {path} failed to connect or dropped ({type(exc).__name__}: {exc})"[:300],
                    side=SIDE,
                )
                delay = self._backoff(attempt)
            else:
                if 200 <= response.status_code < 300:
                    return response
                failure = _error(method, path, response)
                if response.status_code not in _RETRY_STATUSES:
                    raise failure
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                delay = retry_after if retry_after is not None else self._backoff(attempt)
            if last or waited + delay > self.max_retry_wait:
                raise failure
            log.info("booking system: %s %s failed (%s); retry %d in %.2f s", method, path, failure, attempt + 1, delay)
            await self._sleep(delay)
            waited += delay
        raise AssertionError("unreachable")  # pragma: no cover


def _segment(value: str) -> str:
    """A path segment with reserved characters percent-encoded."""
    from urllib.parse import quote

    return quote(value, safe="")


def _problem(response: httpx.Response) -> Problem | None:
    content_type = response.headers.get("content-type", "")
    if "json" not in content_type:
        return None
    try:
        return Problem.model_validate_json(response.content)
    except PydanticValidationError:
        return None


def _error(method: str, path: str, response: httpx.Response) -> CalsyncError:
    """The calsync error for an error response, keeping the problem's title and detail."""
    status = response.status_code
    if 300 <= status < 400 or status < 200:
        target = response.headers.get("location", "")[:200]
        return PeerContractError(
            f"booking system: {method} {path} -> {status} {response.reason_phrase or 'redirect'}"
            + (f" to {target}" if target else "")
            + "; calsync follows no redirects (check BOOKING_BASE_URL): the request did not take effect",
            side=SIDE,
            status=status,
        )
    problem = _problem(response)
    title = (problem.title if problem and problem.title else response.reason_phrase) or "error"
    detail = f": {problem.detail}" if problem and problem.detail else ""
    message = f"booking system: {method} {path} -> {status} {title}{detail}"
    kind = problem.type if problem else None
    extra = dict(problem.model_extra or {}) if problem else {}
    if status in (429, 503):
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return Throttled(message, side=SIDE, status=status, retry_after=retry_after, problem_type=kind)
    if status >= 500 or status == 408:  # 408: the request timed out at the peer; another attempt may pass
        return TransientError(message, side=SIDE, status=status, problem_type=kind)
    if status in (401, 403):
        return PermissionDenied(message, side=SIDE, status=status, problem_type=kind)
    if status == 404:
        return NotFound(message, side=SIDE, status=status, problem_type=kind)
    if status == 410:
        if path == "/changes" or (kind or "").endswith("cursor-expired"):
            return ChangeFeedExpired(message, side=SIDE, status=status, problem_type=kind)
        return NotFound(message, side=SIDE, status=status, problem_type=kind)
    if status == 422 and (kind or "").endswith("idempotency-key-reused"):
        return IdempotencyKeyReused(message, side=SIDE, status=status, problem_type=kind)
    if status == 409:
        return RoomAlreadyBooked(
            message,
            side=SIDE,
            status=status,
            problem_type=kind,
            conflicting_booking_id=extra.get("conflicting_booking_id"),
        )
    if status == 412:
        return ChangedMeanwhile(
            message, side=SIDE, status=status, problem_type=kind, current_version=extra.get("current_version")
        )
    return ValidationError(message, side=SIDE, status=status, problem_type=kind)
