"""A reference booking system on loopback: the contract of docs/booking-api.yaml, for tests and the local run.

``BookingEmulator`` serves devstack.booking_app over uvicorn on 127.0.0.1 in a
background thread, stores everything in SQLite (a file or ":memory:"), and adds what
tests need around the contract:

- rooms seeded from the constructor;
- a request log of every request served (method, path, query, headers with the API key
  redacted, body);
- fault injection matched by method and path glob: N times a status (429 with
  Retry-After, 500, 503...) and/or a delay before answering;
- signed webhooks (calsync.booking.webhook_signature) POSTed to ``webhook_url`` after each
  change, from a sender thread, best effort, with ``webhooks_enabled`` to drop them;
- ``user_*`` methods that edit bookings "as a user of the booking system", bypassing HTTP
  but keeping the rules (409 double booking) and firing webhooks and the change feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fnmatch
import json
import logging
import queue
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from calsync.booking.api_models import BookingWrite, WireKind, WireStatus
from calsync.booking.webhook_signature import SIGNATURE_HEADER, sign_webhook
from calsync.errors import ConfigurationError
from devstack.azurite import free_port
from devstack.booking_app import MAX_BODY_BYTES, Handler, Routes, build_app, problem_response
from devstack.booking_store import BookingStore, Change, MutationResult, ProblemError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmulatorRoom:
    """A room seeded into the emulator."""

    id: str
    name: str
    email: str | None = None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator served (Authorization redacted)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Fault:
    """Answer ``times`` matching requests with ``status`` (after ``delay`` seconds), or just delay them."""

    method: str
    path: str
    status: int | None = None
    times: int = 1
    retry_after: str | None = None
    delay: float = 0.0
    after_processing: bool = False
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times > 0
            and (self.method == "*" or self.method.upper() == method.upper())
            and fnmatch.fnmatchcase(path, self.path)
        )


@dataclass(frozen=True)
class WebhookDelivery:
    payload: dict[str, Any]
    status: int | None
    error: str | None = None


@dataclass
class _State:
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    deliveries: list[WebhookDelivery] = field(default_factory=list)


def _redact(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    result = {}
    for key, value in headers:
        result[key.lower()] = "Bearer <redacted>" if key.lower() == "authorization" else value
    return result


class BookingEmulator:
    """The reference booking system, served on 127.0.0.1 (see module docstring)."""

    def __init__(
        self,
        *,
        rooms: Sequence[EmulatorRoom | dict[str, Any]] = (),
        api_key: str | None = "test-api-key",
        database: str = ":memory:",
        webhook_url: str | None = None,
        webhook_secrets: Sequence[str] = (),
        port: int | None = None,
    ) -> None:
        if webhook_url and not webhook_secrets:
            raise ConfigurationError("the booking emulator needs webhook_secrets to sign webhooks to webhook_url")
        self.api_key = api_key
        self.webhook_url = webhook_url
        self.webhook_secrets = list(webhook_secrets)
        self.webhooks_enabled = True
        self.store = BookingStore(database)
        for room in rooms:
            room = room if isinstance(room, EmulatorRoom) else EmulatorRoom(**room)
            self.store.add_room(room.id, room.name, room.email)
        self._port = port
        self._state = _State()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._outbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._sender: threading.Thread | None = None
        self._app = build_app(Routes(self.store, self._changed), self._gate)

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the booking emulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> BookingEmulator:
        if self._server is not None:
            return self
        self._port = self._port or free_port()
        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=self._port, log_level="warning", lifespan="off", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="booking-emulator", daemon=True)
        self._thread.start()
        self._sender = threading.Thread(target=self._send_webhooks, name="booking-webhooks", daemon=True)
        self._sender.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise RuntimeError(f"the booking emulator did not start on port {self._port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sender is not None:
            self._outbox.put(None)
            self._sender.join(timeout=10)
        self._server = self._thread = self._sender = None

    def close(self) -> None:
        self.stop()
        self.store.close()

    def __enter__(self) -> BookingEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- request log and faults -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.requests)

    def requests_to(self, method: str, path_glob: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method.upper() and fnmatch.fnmatchcase(r.path, path_glob)]

    def clear_requests(self) -> None:
        with self._lock:
            self._state.requests.clear()

    def inject_fault(
        self,
        method: str = "*",
        path: str = "*",
        *,
        status: int | None = None,
        times: int = 1,
        retry_after: float | str | None = None,
        delay: float = 0.0,
        after_processing: bool = False,
    ) -> Fault:
        """Make the next ``times`` requests matching method and path glob fail with ``status`` and/or wait ``delay`` s.

        With ``after_processing`` the request is carried out first and only its answer is replaced
        (a crash after commit, or a lost response), which is what idempotent retries must survive.
        """
        retry = None if retry_after is None else str(retry_after).removesuffix(".0")
        fault = Fault(method, path, status, times, retry, delay, after_processing)
        with self._lock:
            self._state.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._state.faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._state.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    fault.hits += 1
                    return fault
        return None

    def _gate(self, handler: Handler) -> Any:
        async def endpoint(request: Request) -> Response:
            body = await request.body()
            response = await self._serve(request, body, handler)
            record = RecordedRequest(
                request.method,
                request.url.path,
                request.url.query,
                _redact(request.headers.items()),
                body,
                response.status_code,
            )
            with self._lock:
                self._state.requests.append(record)
            return response

        return endpoint

    async def _serve(self, request: Request, body: bytes, handler: Handler) -> Response:
        path = request.url.path
        fault = self._take_fault(request.method, path)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                if fault.after_processing:
                    await self._answer(request, body, handler)
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
                title = {429: "Too many requests", 503: "Service unavailable"}.get(fault.status, "Injected failure")
                error = ProblemError(
                    fault.status, "injected-fault", title, f"fault injected for {request.method} {path}"
                )
                return problem_response(error, path, headers)
        return await self._answer(request, body, handler)

    async def _answer(self, request: Request, body: bytes, handler: Handler) -> Response:
        path = request.url.path
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            error = ProblemError(401, "unauthorized", "Unauthorized", "a valid bearer API key is required")
            return problem_response(error, path, {"WWW-Authenticate": 'Bearer realm="booking"'})
        if len(body) > MAX_BODY_BYTES:
            return problem_response(ProblemError(413, "too-large", "Body too large", "at most 1 MB"), path)
        try:
            return await handler(request, body)
        except ProblemError as error:
            return problem_response(error, path)
        except Exception:
            log.error("booking emulator failed on %s %s:\n%s", request.method, path, traceback.format_exc())
            error = ProblemError(500, "internal", "Internal error", f"the emulator failed on {request.method} {path}")
            return problem_response(error, path)

    # --- webhooks -------------------------------------------------------------------------------

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        with self._lock:
            return list(self._state.deliveries)

    def flush_webhooks(self, timeout: float = 5.0) -> None:
        """Wait until every queued webhook was attempted."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _changed(self, changes: list[Change]) -> None:
        if not (self.webhooks_enabled and self.webhook_url and self.webhook_secrets):
            return
        for change in changes:
            self._outbox.put(
                {
                    "event": change.event,
                    "booking_id": change.booking_id,
                    "room_id": change.room_id,
                    "version": change.version,
                }
            )

    def _send_webhooks(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while True:
                payload = self._outbox.get()
                try:
                    if payload is None:
                        return
                    self._deliver(client, payload)
                finally:
                    self._outbox.task_done()

    def _deliver(self, client: httpx.Client, payload: dict[str, Any]) -> None:
        url = self.webhook_url
        if not url or not self.webhooks_enabled:
            return
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign_webhook(body, self.webhook_secrets)}
        try:
            response = client.post(url, content=body, headers=headers)
            delivery = WebhookDelivery(payload, response.status_code)
        except httpx.HTTPError as exc:
            delivery = WebhookDelivery(payload, None, f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._state.deliveries.append(delivery)

    # --- acting as a user of the booking system -------------------------------------------------

    def _apply(self, result: MutationResult) -> dict[str, Any]:
        self._changed(result.changes)
        return result.booking

    def user_create_booking(self, room_id: str, **fields: Any) -> dict[str, Any]:
        """Book a room as a user would; fields as in BookingWrite (title, start, end, ...). Raises ProblemError."""
        return self._apply(self.store.create(BookingWrite.model_validate({"room_id": room_id, **fields})))

    def user_add_block(
        self, room_id: str, start: Any, end: Any, title: str = "Out of service", **fields: Any
    ) -> dict[str, Any]:
        """Mark the room unavailable (maintenance, closure): a booking of kind 'block'."""
        return self.user_create_booking(room_id, title=title, start=start, end=end, kind=WireKind.BLOCK, **fields)

    def user_update_booking(self, booking_id: str, **changes: Any) -> dict[str, Any]:
        """Change fields of a booking as a user would (no If-Match); the version goes up."""
        return self._apply(self.store.patch(booking_id, changes))

    def user_cancel_booking(self, booking_id: str, reason: str | None = None, by: str | None = None) -> dict[str, Any]:
        """Cancel as a user would (soft: the booking stays, status cancelled, with who/when/why)."""
        cancellation = {"reason": reason, "cancelled_by": by, "cancelled_at": dt.datetime.now(dt.UTC).isoformat()}
        return self.user_update_booking(booking_id, status=WireStatus.CANCELLED, cancellation=cancellation)

    def user_delete_booking(self, booking_id: str) -> None:
        self._changed([self.store.delete(booking_id, if_match=None, check=False)])

    def get_booking(self, booking_id: str) -> dict[str, Any]:
        return self.store.get(booking_id)

    def bookings(self) -> list[dict[str, Any]]:
        return self.store.all_bookings()

    def expire_cursors(self) -> None:
        """Forget the change feed's history: every cursor handed out so far now answers 410."""
        self.store.expire_cursors()

    def add_room(self, room: EmulatorRoom) -> None:
        self.store.add_room(room.id, room.name, room.email)


def main() -> None:  # pragma: no cover - manual local run
    """Run the emulator in the foreground: python -m devstack.booking [port]."""
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 7072
    emulator = BookingEmulator(rooms=[EmulatorRoom("room-1", "Room 1", "room1@example.com")], port=port)
    with emulator:
        print(f"booking emulator on {emulator.base_url}; Ctrl-C stops")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)


if __name__ == "__main__":
    main()
