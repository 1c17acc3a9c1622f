"""A Microsoft Graph emulator on loopback for the calendar endpoints calsync uses.

A real HTTP server (starlette served by uvicorn in a background thread) on
127.0.0.1, so the real msgraph-sdk talks to it over real HTTP. It speaks Graph's
JSON for room events (CRUD, If-Match, transactionId, extended-property $filter and
$expand, instances, decline), calendarView and its delta, subscriptions with the
validation handshake and notifications, $batch and /places/microsoft.graph.room.
The state lives in graph_calendars.py and graph_subscriptions.py; faults and the
request log in graph_faults.py. Tests drive it through ``GraphEmulator``::

    with GraphEmulator() as graph:
        graph.add_room("room1@contoso.example")
        graph.throttle("GET", "/users/*/events/*", times=1, retry_after=1)
        ...  # point the adapter at graph.base_url
        assert graph.count("GET", "/users/*/events/*") == 2

Paths are routed on the raw (still percent-encoded) path, so ids holding '/' work.

Meetings (EXCHANGE.md): mailboxes of people and service mailboxes besides rooms;
events with attendees are meetings whose copies the rooms' Calendar Attendants make
(graph_attendant.py, graph_meetings.py); HTTP writes to items the app does not own
are recorded (graph_ownership.py); people act through the methods of graph_people.py
(``person_create_meeting``, ``person_update_meeting``, ``person_cancel_meeting``,
``person_cancel_occurrence``, ``set_calendar_processing``, ``declined_copies``,
``mail_for``, ``ownership_violations``). A room's own events (POST with no
attendees) keep the plain path.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.azurite import free_port
from devstack.graph_calendars import Calendars, Decline, GraphError, Room, render
from devstack.graph_faults import Fault, FaultBook, RecordedRequest
from devstack.graph_meetings import Meetings
from devstack.graph_ownership import MeetingRoutes
from devstack.graph_people import PeopleAPI
from devstack.graph_subscriptions import Delivery, Notifier, Subscriptions, parse_time

UTC = dt.UTC
MAX_BATCH = 20
DEFAULT_PAGE_SIZE = 100
_EXPAND_FILTER = re.compile(r"singleValueExtendedProperties(?:\(\$filter=(?P<filter>.+)\))?$", re.IGNORECASE)
_ID_EQ = re.compile(r"id\s+eq\s+'(?P<id>[^']*)'", re.IGNORECASE)
_ICAL_FILTER = re.compile(r"iCalUId\s+eq\s+'(?P<uid>(?:[^']|'')*)'", re.IGNORECASE)
_STAMP_FILTER = re.compile(
    r"singleValueExtendedProperties/any\((?P<v>\w+):\s*(?P=v)/id\s+eq\s+'(?P<id>[^']*)'\s+and\s+"
    r"(?P=v)/value\s+eq\s+'(?P<value>(?:[^']|'')*)'\)",
    re.IGNORECASE,
)

Answer = tuple[int, dict[str, str], Any]  # status, headers, JSON body (or None)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def _prefer(headers: dict[str, str]) -> dict[str, str]:
    prefs: dict[str, str] = {}
    for part in headers.get("prefer", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            prefs[name.strip().lower()] = value.strip().strip('"')
    return prefs


def _window(query: dict[str, str]) -> tuple[dt.datetime, dt.datetime]:
    try:
        return parse_time(query["startDateTime"]), parse_time(query["endDateTime"])
    except KeyError:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by startDateTime and endDateTime.",
        ) from None
    except ValueError as exc:
        raise GraphError(400, "ErrorInvalidParameter", f"Invalid time window: {exc}") from None


def _split_top(text: str) -> list[str]:
    """Comma-separated items of a $select/$expand value, ignoring commas inside parentheses."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        items.append(current.strip())
    return items


@dataclass(frozen=True)
class _Shape:
    """What $select and $expand ask of an event: property ids, exceptions, selected fields."""

    property_ids: set[str] | None = None
    exceptions: bool = False
    select: frozenset[str] | None = None

    @classmethod
    def of(cls, query: dict[str, str]) -> _Shape:
        property_ids: set[str] | None = None
        exceptions = False
        for item in _split_top(query.get("$expand", "")):
            if item.lower().startswith("exceptionoccurrences"):
                exceptions = True
                continue
            match = _EXPAND_FILTER.match(item)
            if match is None:
                raise GraphError(400, "BadRequest", f"Unsupported $expand '{item}'.")
            property_ids = property_ids or set()
            if match["filter"] is None:
                property_ids.add("*")
            else:
                property_ids.update(m["id"].lower() for m in _ID_EQ.finditer(match["filter"]))
        select = query.get("$select")
        fields = frozenset(f.lower() for f in _split_top(select)) if select else None
        return cls(property_ids, exceptions, fields)


class GraphEmulator(PeopleAPI):
    """The emulator and its test-facing API (people, meetings and room settings: graph_people.py).

    - Lifecycle: ``start()``/``stop()`` or ``with``; ``base_url`` (http://127.0.0.1:PORT/v1.0);
      ``reset()`` clears faults, the log, figures, declines, deliveries and ownership violations
      (not the data, nor mail);
      ``clock`` (a callable returning an aware datetime) drives subscription expiry.
    - Data: ``add_room``; ``user_create_event``/``user_update_event``/``user_delete_event``
      edit as a user in Outlook (subscribers are notified); ``event``/``events`` read the
      state as Graph JSON in UTC; ``declines`` lists declines with their comments;
      ``expire_delta_links`` makes deltaLinks answer 410 SyncStateNotFound.
    - Notifications: ``subscription_list``; ``send_lifecycle(id, event)``; ``deliveries``
      (every POST made or dropped); ``drop_notifications(n)``; ``flush_notifications()``.
    - Faults: ``throttle`` (429 + Retry-After), ``fail`` (any status), ``slow`` (before or
      after the change), ``inject`` (all options), ``clear_faults``; matched by method
      ('*' for any) and a glob over the decoded path below /v1.0.
    - Request log: ``requests``, ``requests_to(method, glob)``, ``count``, ``clear_requests``;
      ``max_in_flight(mailbox)``: the most concurrent requests seen for one mailbox.
    """

    def __init__(self, *, clock: Callable[[], dt.datetime] = _utcnow, host: str = "127.0.0.1") -> None:
        self.clock = clock
        self.host = host
        self.port = 0
        self.faults = FaultBook()
        self.notifier = Notifier()
        self.calendars = Calendars(self._now, self._on_change)
        self.subscriptions = Subscriptions(self._now, self.notifier, self._user_id)
        self.meetings = Meetings(self.calendars)
        self.meeting_routes = MeetingRoutes(self.meetings)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(
            routes=[Route("/{path:path}", self._asgi_entry, methods=["GET", "POST", "PATCH", "DELETE", "PUT"])]
        )

    # --- lifecycle ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1.0"

    def start(self, timeout: float = 10.0) -> GraphEmulator:
        self.port = free_port()
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_keep_alive=60,  # clients keep pooled connections; a short idle timeout races them
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="graph-emulator", daemon=True)
        self._thread.start()
        self.notifier.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Graph emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.notifier.stop()
        self._server = self._thread = None

    def __enter__(self) -> GraphEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget faults, the request log, concurrency figures, declines and deliveries (not the data)."""
        with self.faults.lock:
            self.faults.faults.clear()
            self.faults.log.clear()
            self.faults.max_in_flight.clear()
        self.calendars.declines.clear()
        self.meetings.violations.clear()
        self.notifier.deliveries.clear()
        self.notifier.drop_next = 0

    def _now(self) -> dt.datetime:
        return self.clock()

    # --- test-facing: data -------------------------------------------------------------------------
    def add_room(self, email: str, display_name: str | None = None) -> Room:
        return self.calendars.add_room(email, display_name)

    def user_create_event(self, mailbox: str, event: dict, *, organizer: str = "organizer@contoso.example") -> dict:
        """Create an event as a user would in Outlook (organizer someone else); notifies subscribers."""
        who = {"emailAddress": {"name": organizer.split("@")[0], "address": organizer}}
        created, _ = self.calendars.create(mailbox, event, organizer=who)
        return render(created, "UTC", {"*"})

    def user_update_event(self, mailbox: str, event_id: str, patch: dict) -> dict:
        return render(self.calendars.update(mailbox, event_id, patch), "UTC", {"*"})

    def user_delete_event(self, mailbox: str, event_id: str) -> None:
        self.calendars.delete(mailbox, event_id)

    def event(self, mailbox: str, event_id: str) -> dict | None:
        """An event (or instance) as Graph JSON in UTC with its extended properties, None if absent."""
        try:
            return self._out(self.calendars.get(mailbox, event_id), "UTC", _Shape({"*"}, exceptions=True))
        except GraphError:
            return None

    def events(self, mailbox: str) -> list[dict]:
        """Every stored event (singles and series masters) of a room, in UTC."""
        return [self._out(e, "UTC", _Shape({"*"}, exceptions=True)) for e in self.calendars.find(mailbox)]

    @property
    def declines(self) -> list[Decline]:
        return list(self.calendars.declines)

    def expire_delta_links(self, mailbox: str | None = None) -> int:
        """Make every deltaLink (of one room or all) answer 410 SyncStateNotFound."""
        return self.calendars.expire_delta(mailbox)

    # --- test-facing: subscriptions and notifications -------------------------------------------------
    def subscription_list(self) -> list[dict]:
        return self.subscriptions.list()

    def send_lifecycle(self, subscription_id: str, lifecycle_event: str = "reauthorizationRequired") -> dict:
        """POST a lifecycle notification (reauthorizationRequired, subscriptionRemoved, missed)."""
        return self.subscriptions.lifecycle(subscription_id, lifecycle_event)

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self.notifier.deliveries)

    def drop_notifications(self, count: int = 1) -> None:
        """Drop the next ``count`` notifications (recorded as dropped, never sent)."""
        self.notifier.drop_next += count

    def flush_notifications(self, timeout: float = 10.0) -> None:
        self.notifier.flush(timeout)

    # --- test-facing: faults and the request log ------------------------------------------------------
    def inject(self, method: str, path: str, **fault: Any) -> Fault:
        return self.faults.arm(Fault(method.upper(), path, **fault))

    def throttle(
        self, method: str, path: str, *, times: int = 1, retry_after: float | None = 1, status: int = 429
    ) -> Fault:
        return self.inject(method, path, status=status, times=times, retry_after=retry_after)

    def fail(self, method: str, path: str, *, status: int = 500, times: int = 1, code: str | None = None) -> Fault:
        return self.inject(method, path, status=status, times=times, code=code)

    def slow(self, method: str, path: str, *, seconds: float, times: int = 1, after_change: bool = False) -> Fault:
        """Answer late; with ``after_change`` the change is made first (a response lost to a timeout)."""
        if after_change:
            return self.inject(method, path, delay_after=seconds, times=times)
        return self.inject(method, path, delay=seconds, times=times)

    def clear_faults(self) -> None:
        with self.faults.lock:
            self.faults.faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.faults.lock:
            return list(self.faults.log)

    def clear_requests(self) -> None:
        with self.faults.lock:
            self.faults.log.clear()

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Logged requests whose method and decoded path match (path is a glob, '*' spans '/')."""
        probe = Fault(method.upper(), path, times=1 << 30)
        return [r for r in self.requests if probe.matches(r.method, r.path)]

    def count(self, method: str, path: str) -> int:
        return len(self.requests_to(method, path))

    def max_in_flight(self, mailbox: str) -> int:
        """The most requests for one mailbox the emulator was serving at the same time."""
        with self.faults.lock:
            return self.faults.max_in_flight.get(mailbox.lower(), 0)

    # --- HTTP ---------------------------------------------------------------------------------------
    def _user_id(self, user: str) -> str:
        return self.calendars.room(user).user_id

    def _on_change(self, mailbox: str, change_type: str, event: dict) -> None:
        self.subscriptions.on_change(mailbox, change_type, event)

    async def _asgi_entry(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        raw = raw_path.decode("latin-1").split("?", 1)[0]
        if not raw.startswith("/v1.0/") and not raw.startswith("/beta/"):
            return JSONResponse({"error": {"code": "BadRequest", "message": "Unknown API version."}}, status_code=400)
        relative = raw.split("/", 2)[2]
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        body = await request.body()
        query = dict(parse_qsl(request.url.query, keep_blank_values=True))
        status, out_headers, payload = await self._serve(request.method, relative, query, headers, body, batched=False)
        if payload is None:
            return Response(status_code=status, headers=out_headers)
        return JSONResponse(payload, status_code=status, headers=out_headers)

    async def _serve(
        self, method: str, relative: str, query: dict[str, str], headers: dict[str, str], body: bytes, *, batched: bool
    ) -> Answer:
        segments = [unquote(s) for s in relative.strip("/").split("/")]
        path = "/" + "/".join(segments)
        mailbox = segments[1].lower() if len(segments) > 1 and segments[0].lower() == "users" else None
        record = RecordedRequest(method.upper(), path, query, headers, body, mailbox, batched=batched)
        self.faults.record(record)
        self.faults.enter(mailbox)
        try:
            answer = await self._answer(record, segments)
        finally:
            self.faults.leave(mailbox)
            record.finished = time.monotonic()
        record.status = answer[0]
        return answer

    async def _answer(self, record: RecordedRequest, segments: list[str]) -> Answer:
        fault = self.faults.take(record.method, record.path)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                return fault.status, fault.headers(), fault.error_body()
        try:
            status, headers, payload = await self._route(record, segments)
        except GraphError as exc:
            return exc.status, exc.headers, exc.body()
        finally:
            if fault is not None and fault.delay_after:
                await asyncio.sleep(fault.delay_after)
        prefs = _prefer(record.headers)
        if "outlook.timezone" in prefs:
            headers.setdefault("Preference-Applied", f'outlook.timezone="{prefs["outlook.timezone"]}"')
        return status, headers, payload

    def _json(self, record: RecordedRequest) -> dict:
        try:
            data = json.loads(record.body or b"{}")
        except json.JSONDecodeError as exc:
            raise GraphError(400, "BadRequest", f"Invalid JSON body: {exc.msg}") from None
        if not isinstance(data, dict):
            raise GraphError(400, "BadRequest", "The body must be a JSON object.")
        return data

    async def _route(self, record: RecordedRequest, seg: list[str]) -> Answer:
        method, n = record.method, len(seg)
        head = seg[0].lower()
        if head == "$batch" and n == 1 and method == "POST":
            return await self._batch(record)
        if head == "places" and n == 2 and seg[1].lower() in ("microsoft.graph.room", "graph.room") and method == "GET":
            with self.calendars.lock:
                rooms = [r.as_place() for r in self.calendars.rooms.values() if r.kind == "room"]
            return 200, {}, {"@odata.context": f"{self.base_url}/$metadata#places/microsoft.graph.room", "value": rooms}
        if head == "subscriptions":
            return await self._subscription_route(record, seg)
        if head == "users" and n >= 3:
            rest = [s.lower() for s in seg[2:]]
            if rest[0] == "calendar" and len(rest) > 1:  # /users/{u}/calendar/events... is the same calendar
                seg = seg[:2] + seg[3:]
                rest = rest[1:]
            return self._user_route(record, seg[1], rest, seg[3:])
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{seg[0]}'.")

    def _user_route(self, record: RecordedRequest, user: str, rest: list[str], tail: list[str]) -> Answer:
        method, query = record.method, record.query
        prefs = _prefer(record.headers)
        tz = prefs.get("outlook.timezone", "UTC")
        cal = self.calendars
        meeting_answer = self._meeting_route(record, user, rest, tail, tz)
        if meeting_answer is not None:
            return meeting_answer
        if rest[0] == "events" and len(rest) == 1:
            if method == "POST":
                # a repeated transactionId answers with the event created the first time
                event, _created = cal.create(user, self._json(record))
                return 201, {}, self._out(event, tz, _Shape())
            if method == "GET" and (uid := _ICAL_FILTER.fullmatch(query.get("$filter", "").strip())):
                found = [e for e in cal.find(user) if e.get("iCalUId") == uid["uid"].replace("''", "'")]
                shape = _Shape.of(query)
                return 200, {}, {"value": [self._out(e, tz, shape) for e in found]}
            if method == "GET":
                match = _STAMP_FILTER.search(query.get("$filter", ""))
                if query.get("$filter") and match is None:
                    raise GraphError(400, "ErrorInvalidUrlQueryFilter", "The filter expression is not supported.")
                found = cal.find(user, match["id"], match["value"].replace("''", "'")) if match else cal.find(user)
                shape = _Shape.of(query)
                return 200, {}, {"value": [self._out(e, tz, shape) for e in found]}
        if rest[0] == "events" and len(rest) >= 2:
            event_id = tail[0]
            if len(rest) == 2:
                if method == "GET":
                    return 200, {}, self._out(cal.get(user, event_id), tz, _Shape.of(query))
                if method == "PATCH":
                    updated = cal.update(user, event_id, self._json(record), if_match=record.headers.get("if-match"))
                    return 200, {}, self._out(updated, tz, _Shape())
                if method == "DELETE":
                    cal.delete(user, event_id, if_match=record.headers.get("if-match"))
                    return 204, {}, None
            if len(rest) == 3 and rest[2] == "instances" and method == "GET":
                start, end = _window(query)
                items = cal.instances(user, event_id, start, end)
                shape = _Shape.of(query)
                return 200, {}, {"value": [self._out(e, tz, shape) for e in items]}
            if len(rest) == 3 and rest[2] == "decline" and method == "POST":
                body = {k.lower(): v for k, v in self._json(record).items()}  # Graph's names are case-blind
                cal.decline(user, event_id, body.get("comment"), bool(body.get("sendresponse", True)))
                return 202, {}, None
        if rest[0] == "calendarview" and len(rest) == 1 and method == "GET":
            start, end = _window(query)
            items = cal.calendar_view(user, start, end)
            shape = _Shape.of(query)
            return 200, {}, {"value": [self._out(e, tz, shape) for e in items]}
        if rest[0] == "calendarview" and len(rest) == 2 and rest[1] in ("delta", "delta()") and method == "GET":
            return self._delta(record, user, tz, prefs)
        raise GraphError(400, "BadRequest", f"Unsupported request {method} {record.path}.")

    def _meeting_route(
        self, record: RecordedRequest, user: str, rest: list[str], tail: list[str], tz: str
    ) -> Answer | None:
        """Meetings and responses (graph_ownership.py); None leaves the request to the plain event paths."""
        return self.meeting_routes.route(
            record.method,
            user,
            rest,
            tail[0] if tail else None,
            lambda: self._json(record),
            record.headers.get("if-match"),
            lambda event: self._out(event, tz, _Shape()),
        )

    def _out(self, event: dict, tz: str, shape: _Shape) -> dict:
        """An event's JSON for an answer: preferred zone, $expand and $select applied."""
        out = render(event, tz, shape.property_ids)
        if event.get("type") == "seriesMaster":
            out["cancelledOccurrences"] = self.calendars.cancelled_occurrences(event)
        if shape.exceptions:
            out["exceptionOccurrences"] = [render(i, tz, None) for i in self.calendars.exception_occurrences(event)]
        if shape.select is not None:
            keep = shape.select | {"id", "@odata.etag", "singlevalueextendedproperties", "exceptionoccurrences"}
            out = {k: v for k, v in out.items() if k.lower() in keep}
        return out

    def _delta(self, record: RecordedRequest, user: str, tz: str, prefs: dict[str, str]) -> Answer:
        query = record.query
        try:
            size = max(1, int(prefs.get("odata.maxpagesize", DEFAULT_PAGE_SIZE)))
        except ValueError:
            size = DEFAULT_PAGE_SIZE
        if "$skiptoken" in query:
            skiptoken = query["$skiptoken"]
        elif "$deltatoken" in query:
            skiptoken = self.calendars.delta_resume(query["$deltatoken"])
        else:
            start, end = _window(query)
            skiptoken = self.calendars.delta_begin(user, start, end)
        items, next_token, delta_token = self.calendars.delta_page(skiptoken, size)
        base = f"{self.base_url}/users/{user}/calendarView/delta()"
        payload: dict[str, Any] = {"@odata.context": f"{self.base_url}/$metadata#Collection(event)"}
        if next_token:
            payload["@odata.nextLink"] = f"{base}?$skiptoken={next_token}"
        else:
            payload["@odata.deltaLink"] = f"{base}?$deltatoken={delta_token}"
        payload["value"] = [i if "@removed" in i else self._out(i, tz, _Shape()) for i in items]
        return 200, {}, payload

    async def _subscription_route(self, record: RecordedRequest, seg: list[str]) -> Answer:
        method, n, subs = record.method, len(seg), self.subscriptions
        if n == 1 and method == "POST":
            return 201, {}, await subs.create(self._json(record))
        if n == 1 and method == "GET":
            return 200, {}, {"value": subs.list()}
        if n == 2 and method == "GET":
            return 200, {}, subs.get(seg[1])
        if n == 2 and method == "PATCH":
            return 200, {}, subs.renew(seg[1], self._json(record))
        if n == 2 and method == "DELETE":
            subs.delete(seg[1])
            return 204, {}, None
        if n == 3 and seg[2].lower() == "reauthorize" and method == "POST":
            subs.reauthorize(seg[1])
            return 204, {}, None
        raise GraphError(400, "BadRequest", f"Unsupported request {method} {record.path}.")

    async def _batch(self, record: RecordedRequest) -> Answer:
        requests = self._json(record).get("requests")
        if not isinstance(requests, list) or not requests:
            raise GraphError(400, "BadRequest", "The batch needs a non-empty 'requests' array.")
        if len(requests) > MAX_BATCH:
            raise GraphError(400, "BadRequest", f"A batch can hold at most {MAX_BATCH} requests.")
        responses = []
        for item in requests:
            url = urlsplit(str(item.get("url", "")))
            relative = url.path
            if relative.startswith(("/v1.0/", "/beta/")):
                relative = relative.split("/", 2)[2]
            headers = {k.lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            body = item.get("body")
            raw_body = json.dumps(body).encode() if body is not None else b""
            # a sub-request's path is percent-encoded like a URL's
            status, out_headers, payload = await self._serve(
                str(item.get("method", "GET")),
                relative,
                dict(parse_qsl(url.query, keep_blank_values=True)),
                headers,
                raw_body,
                batched=True,
            )
            answer: dict[str, Any] = {"id": item.get("id"), "status": status, "headers": out_headers}
            if payload is not None:
                answer["headers"] = {**out_headers, "Content-Type": "application/json"}
                answer["body"] = payload
            responses.append(answer)
        return 200, {}, {"responses": responses}
