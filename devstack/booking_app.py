"""The booking emulator's HTTP surface: a Starlette app serving docs/booking-api.yaml over a BookingStore.

Every request passes through one gate (the emulator's ``_gate``) that records it in the request log,
applies injected faults, checks the bearer API key, and turns ProblemError (and any
unexpected error) into RFC 9457 problem+json. Successful writes hand their changes to
``on_change`` so the emulator can send webhooks.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from calsync.booking.api_models import BookingWrite, RejectRequest
from devstack.booking_store import BookingStore, Change, ProblemError, not_found

PROBLEM_JSON = "application/problem+json"
MAX_BODY_BYTES = 1_000_000


def problem_response(
    error: ProblemError, instance: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(error.body(instance)), status_code=error.status, media_type=PROBLEM_JSON, headers=headers
    )


def _booking_response(booking: dict[str, Any], status: int = 200, extra: dict[str, str] | None = None) -> Response:
    headers = {"ETag": f'"{booking["version"]}"', **(extra or {})}
    return JSONResponse(booking, status_code=status, headers=headers)


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        raise ProblemError(400, "invalid-json", "Invalid JSON", "the request body is not valid JSON") from None


def _model(model: type[Any], raw: bytes) -> Any:
    _json_body(raw)  # 400 when it is not JSON at all
    try:
        return model.model_validate_json(raw, strict=True)  # no coercion: 0 is not a boolean
    except PydanticValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise ProblemError(
            422, "invalid-booking", "Invalid request body", "; ".join(problems)[:2000], errors=problems[:20]
        ) from None


def _query_time(request: Request, name: str) -> dt.datetime | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ProblemError(400, "invalid-parameter", "Invalid parameter", f"{name} must be an RFC 3339 date-time")
    return parsed


def _query_text(request: Request, name: str, maximum: int) -> str | None:
    value = request.query_params.get(name)
    if value is not None and not 1 <= len(value) <= maximum:
        raise ProblemError(400, "invalid-parameter", "Invalid parameter", f"{name} must be 1..{maximum} characters")
    return value


def _if_match(request: Request) -> str | None:
    value = request.headers.get("if-match")
    if value is not None and not 1 <= len(value) <= 256:
        raise ProblemError(400, "invalid-parameter", "Invalid parameter", "If-Match must be 1..256 characters")
    return value


def _query_limit(request: Request, default: int = 100, maximum: int = 500) -> int:
    value = request.query_params.get("limit")
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise ProblemError(400, "invalid-parameter", "Invalid parameter", f"limit must be an integer 1..{maximum}")
    return int(value)


Handler = Callable[[Request, bytes], Awaitable[Response]]


class Routes:
    """The contract's operations over one BookingStore."""

    def __init__(self, store: BookingStore, on_change: Callable[[list[Change]], None]) -> None:
        self.store = store
        self.on_change = on_change

    async def list_rooms(self, request: Request, body: bytes) -> Response:
        return JSONResponse({"items": self.store.list_rooms()})

    async def get_room(self, request: Request, body: bytes) -> Response:
        return JSONResponse(self.store.get_room(request.path_params["room_id"]))

    async def list_bookings(self, request: Request, body: bytes) -> Response:
        start, end = _query_time(request, "start"), _query_time(request, "end")
        if start and end and end < start:
            raise ProblemError(400, "invalid-parameter", "Invalid parameter", "end is before start")
        items, token = self.store.list(
            room_id=_query_text(request, "room_id", 128),
            start=start,
            end=end,
            external_ref=_query_text(request, "external_ref", 1024),
            limit=_query_limit(request),
            page_token=_query_text(request, "page_token", 256),
        )
        return JSONResponse({"items": items, "next_page_token": token})

    async def create_booking(self, request: Request, body: bytes) -> Response:
        key = request.headers.get("idempotency-key")
        if key is not None and not 1 <= len(key) <= 255:
            raise ProblemError(
                400, "invalid-parameter", "Invalid parameter", "Idempotency-Key must be 1..255 characters"
            )
        write = _model(BookingWrite, body)
        result = self.store.create(write, idempotency_key=key)
        self.on_change(result.changes)
        extra = {"Location": f"/bookings/{result.booking['id']}"}
        if result.replayed:
            extra["Idempotent-Replayed"] = "true"
        return _booking_response(result.booking, status=201, extra=extra)

    async def get_booking(self, request: Request, body: bytes) -> Response:
        return _booking_response(self.store.get(request.path_params["booking_id"]))

    async def update_booking(self, request: Request, body: bytes) -> Response:
        booking_id = request.path_params["booking_id"]
        self.store.get(booking_id)  # 404 before validating the body
        write = _model(BookingWrite, body)
        result = self.store.update(booking_id, write, if_match=_if_match(request))
        self.on_change(result.changes)
        return _booking_response(result.booking)

    async def delete_booking(self, request: Request, body: bytes) -> Response:
        change = self.store.delete(request.path_params["booking_id"], if_match=_if_match(request))
        self.on_change([change])
        return Response(status_code=204)

    async def reject_booking(self, request: Request, body: bytes) -> Response:
        booking_id = request.path_params["booking_id"]
        self.store.get(booking_id)
        reject = _model(RejectRequest, body)
        result = self.store.reject(booking_id, reject.reason)
        self.on_change(result.changes)
        return _booking_response(result.booking)

    async def changes(self, request: Request, body: bytes) -> Response:
        page = self.store.changes(_query_text(request, "cursor", 512), _query_limit(request))
        return JSONResponse(page)


Gate = Callable[[Handler], Callable[[Request], Awaitable[Response]]]


def _only_query(allowed: tuple[str, ...], handler: Handler) -> Handler:
    """Refuse query parameters the contract does not define for the operation (400 naming them)."""

    async def checked(request: Request, body: bytes) -> Response:
        unknown = sorted({name for name in request.query_params if name not in allowed})
        if unknown:
            raise ProblemError(
                400, "invalid-parameter", "Unknown parameter", f"unknown query parameter(s): {', '.join(unknown)}"
            )
        duplicated = sorted(
            {name for name, _ in request.query_params.multi_items() if len(request.query_params.getlist(name)) > 1}
        )
        if duplicated:
            raise ProblemError(
                400,
                "invalid-parameter",
                "Repeated parameter",
                f"query parameter(s) given twice: {', '.join(duplicated)}",
            )
        return await handler(request, body)

    return checked


def build_app(routes: Routes, gate: Gate) -> Starlette:
    """The Starlette app; ``gate`` wraps every endpoint (log, faults, auth, problems)."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return problem_response(not_found(f"path {request.url.path!r}"), request.url.path)
        error = ProblemError(exc.status_code, "http-error", str(exc.detail), f"{request.method} {request.url.path}")
        return problem_response(error, request.url.path, headers=exc.headers)

    def route(path: str, handler: Handler, method: str, query: tuple[str, ...] = ()) -> Route:
        return Route(path, gate(_only_query(query, handler)), methods=[method])

    listing = ("room_id", "start", "end", "external_ref", "limit", "page_token")
    return Starlette(
        routes=[
            route("/rooms", routes.list_rooms, "GET"),
            route("/rooms/{room_id}", routes.get_room, "GET"),
            route("/bookings", routes.list_bookings, "GET", listing),
            route("/bookings", routes.create_booking, "POST"),
            route("/bookings/{booking_id}", routes.get_booking, "GET"),
            route("/bookings/{booking_id}", routes.update_booking, "PUT"),
            route("/bookings/{booking_id}", routes.delete_booking, "DELETE"),
            route("/bookings/{booking_id}/reject", routes.reject_booking, "POST"),
            route("/changes", routes.changes, "GET", ("cursor", "limit")),
        ],
        exception_handlers={HTTPException: http_error},
    )
