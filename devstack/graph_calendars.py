"""The Graph emulator's in-memory room calendars: events as Graph JSON, series, delta rounds.

Plays Exchange for the endpoints calsync uses. Ids look like real immutable ids
(base64 with '/', '+' and '='); every edit gives a new changeKey and @odata.etag;
If-Match is checked (412); a transactionId seen before returns the event created
with it; series masters expand into occurrences, with exceptions (a PATCH of an
instance) and cancelled occurrences (a DELETE of an instance). calendarView delta
works from snapshots: a deltaLink remembers {instance id: changeKey} of its window,
the next round returns what differs plus "@removed" entries. All methods are
thread-safe (one lock): the HTTP server and the test thread both call them.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from devstack.graph_recurrence import occurrence_starts, parse_local, to_utc, zone

UTC = dt.UTC
_ID_PREFIX = b"\x00\x00\x00\xfb\xef\xff"  # encodes to "AAAA++//": every id holds '+' and '/'
_OCC_PREFIX = b"\x01\x00\x00"
GRAPH_TIME = "%Y-%m-%dT%H:%M:%S.0000000"

ChangeListener = Callable[[str, str, dict], None]


class GraphError(Exception):
    """An answer in Graph's error JSON: {"error": {"code", "message", "innerError"}}."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {"date": dt.datetime.now(UTC).isoformat(), "request-id": str(uuid.uuid4())},
            }
        }


def not_found(what: str = "The specified object was not found in the store.") -> GraphError:
    return GraphError(404, "ErrorItemNotFound", what)


def new_event_id() -> str:
    """A fresh id shaped like an immutable Exchange id: base64 containing '+', '/' and '='."""
    return base64.b64encode(_ID_PREFIX + secrets.token_bytes(28)).decode()


def occurrence_id(master_id: str, original_start: dt.datetime) -> str:
    """The (stable) id of one occurrence of a series, derived from the master id and its start."""
    raw = _OCC_PREFIX + base64.b64decode(master_id) + int(original_start.timestamp()).to_bytes(8, "big") + b"\x00"
    return base64.b64encode(raw).decode()


def split_occurrence_id(event_id: str) -> tuple[str, dt.datetime] | None:
    """(master id, original start) when ``event_id`` names an occurrence, else None."""
    try:
        raw = base64.b64decode(event_id, validate=True)
    except ValueError:
        return None
    if not raw.startswith(_OCC_PREFIX) or len(raw) != len(_OCC_PREFIX) + 34 + 9:
        return None
    master = base64.b64encode(raw[3:37]).decode()
    return master, dt.datetime.fromtimestamp(int.from_bytes(raw[37:45], "big"), UTC)


_ICAL_CLASS_ID = "040000008200E00074C5B7101A82E008"  # the Outlook GlobalObjectId's class id


def occurrence_ical_uid(master_uid: str, day: dt.date) -> str:
    """An occurrence's iCalUId: the series' with the occurrence's date where the master has zeros.

    Graph documents iCalUId as different for each occurrence of a series; Outlook's GlobalObjectId
    carries the instance date (year: 2 bytes, month, day) right after its 16-byte class id.
    """
    return f"{master_uid[:32]}{day.year:04X}{day.month:02X}{day.day:02X}{master_uid[40:]}"


def _change_key() -> str:
    return base64.b64encode(secrets.token_bytes(16)).decode()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _etag(change_key: str) -> str:
    return f'W/"{change_key}"'


def etag_matches(if_match: str | None, change_key: str) -> bool:
    """If-Match accepts the @odata.etag (W/"ck"), a quoted changeKey or the bare changeKey, or '*'."""
    if if_match is None:
        return True
    for candidate in if_match.split(","):
        value = candidate.strip()
        if value == "*":
            return True
        value = value.removeprefix("W/").strip('"')
        if value == change_key:
            return True
    return False


def graph_time(moment: dt.datetime, tz_name: str) -> dict:
    """A UTC moment as Graph's dateTimeTimeZone in ``tz_name``."""
    return {"dateTime": moment.astimezone(zone(tz_name)).strftime(GRAPH_TIME), "timeZone": tz_name}


@dataclass
class Room:
    """A mailbox. ``kind``: "room" (listed in /places), "person" or "service" (see graph_meetings.py)."""

    email: str
    display_name: str
    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    kind: str = "room"

    def as_place(self) -> dict:
        return {
            "@odata.type": "#microsoft.graph.room",
            "id": self.user_id,
            "emailAddress": self.email,
            "displayName": self.display_name,
            "bookingType": "standard",
            "isWheelChairAccessible": False,
        }


@dataclass
class Decline:
    """A decline sent as the room: what the organiser sees."""

    mailbox: str
    event_id: str
    comment: str | None
    send_response: bool
    at: dt.datetime


@dataclass
class _DeltaState:
    mailbox: str
    start: dt.datetime
    end: dt.datetime
    snapshot: dict[str, str]  # instance id -> changeKey at the end of the round


@dataclass
class _PendingRound:
    state: _DeltaState
    items: list[dict]


class Calendars:
    """Every room's calendar. ``listener(mailbox, change_type, event)`` hears each change."""

    def __init__(self, clock: Callable[[], dt.datetime], listener: ChangeListener | None = None) -> None:
        self.clock = clock
        self.listener = listener
        self.lock = threading.RLock()
        self.rooms: dict[str, Room] = {}
        self._events: dict[str, dict[str, dict]] = {}
        self._by_transaction: dict[tuple[str, str], str] = {}
        self._delta: dict[str, _DeltaState] = {}
        self._pending: dict[str, _PendingRound] = {}
        self.declines: list[Decline] = []

    # --- rooms -------------------------------------------------------------------------------
    def add_room(self, email: str, display_name: str | None = None, kind: str = "room") -> Room:
        with self.lock:
            key = email.lower()
            if key not in self.rooms:
                self.rooms[key] = Room(email=email, display_name=display_name or email.split("@")[0], kind=kind)
                self._events[key] = {}
            return self.rooms[key]

    def room(self, user: str) -> Room:
        """The room for an e-mail address or a user id, else 404 like Graph for unknown users."""
        with self.lock:
            found = self.rooms.get(user.lower()) or next((r for r in self.rooms.values() if r.user_id == user), None)
            if found is None:
                raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
            return found

    def _calendar(self, user: str) -> dict[str, dict]:
        return self._events[self.room(user).email.lower()]

    # --- single events and masters -------------------------------------------------------------
    def create(self, user: str, body: dict, *, organizer: dict | None = None) -> tuple[dict, bool]:
        """Store a new event; (event, False) when its transactionId was seen before."""
        with self.lock:
            room = self.room(user)
            key = room.email.lower()
            txn = body.get("transactionId")
            if txn and (key, txn) in self._by_transaction:
                existing = self._events[key].get(self._by_transaction[key, txn])
                if existing is not None:
                    return existing, False
            for name in ("start", "end"):
                if not isinstance(body.get(name), dict) or "dateTime" not in body[name]:
                    raise GraphError(
                        400, "ErrorInvalidRequest", f"The event needs '{name}' with dateTime and timeZone."
                    )
            if to_utc(body["end"]) < to_utc(body["start"]):
                raise GraphError(400, "ErrorInvalidRequest", "The end of the event is before its start.")
            now = self.clock()
            event = {k: copy.deepcopy(v) for k, v in body.items() if not k.startswith("@odata")}
            event.update(
                id=new_event_id(),
                createdDateTime=_iso(now),
                iCalUId=_ICAL_CLASS_ID + "00000000" + secrets.token_hex(20).upper(),
                type="seriesMaster" if body.get("recurrence") else "singleInstance",
                seriesMasterId=None,
                originalStart=None,
                originalStartTimeZone=body["start"].get("timeZone", "UTC"),
                originalEndTimeZone=body["end"].get("timeZone", "UTC"),
            )
            event.setdefault("subject", "")
            event.setdefault("isAllDay", False)
            event.setdefault("isCancelled", False)
            event.setdefault("sensitivity", "normal")
            event.setdefault("showAs", "busy")
            event.setdefault("recurrence", None)
            event.setdefault("singleValueExtendedProperties", [])
            own = {"emailAddress": {"name": room.display_name, "address": room.email}}
            event["organizer"] = event.get("organizer") or organizer or own
            is_organizer = event["organizer"].get("emailAddress", {}).get("address", "").lower() == key
            event["isOrganizer"] = is_organizer
            event["responseStatus"] = {"response": "organizer" if is_organizer else "notResponded", "time": _iso(now)}
            event["_exceptions"] = {}
            event["_cancelled"] = set()
            self._touch(event)
            self._events[key][event["id"]] = event
            if txn:
                self._by_transaction[key, txn] = event["id"]
            self._notify(key, "created", event)
            return event, True

    def _touch(self, event: dict) -> None:
        event["changeKey"] = _change_key()
        event["lastModifiedDateTime"] = _iso(self.clock())

    def _notify(self, mailbox: str, change_type: str, event: dict) -> None:
        if self.listener is not None:
            self.listener(mailbox, change_type, event)

    def stored(self, user: str, event_id: str) -> dict:
        """The stored master or single event (not an instance view); 404 when absent."""
        with self.lock:
            event = self._calendar(user).get(event_id)
            if event is None:
                raise not_found()
            return event

    def get(self, user: str, event_id: str) -> dict:
        """An event as Graph shows it: a single event, a master, or one instance of a series."""
        with self.lock:
            occurrence = split_occurrence_id(event_id)
            if occurrence is None:
                return self.stored(user, event_id)
            master = self.stored(user, occurrence[0])
            instance = self._instance(master, occurrence[1])
            if instance is None:
                raise not_found()
            return instance

    def update(self, user: str, event_id: str, patch: dict, *, if_match: str | None = None) -> dict:
        with self.lock:
            occurrence = split_occurrence_id(event_id)
            if occurrence is not None:
                return self._update_instance(user, occurrence, patch, if_match)
            event = self.stored(user, event_id)
            self._check_etag(event, if_match)
            for key, value in patch.items():
                if key.startswith("@odata") or key in ("id", "changeKey", "type", "transactionId"):
                    continue
                if key == "singleValueExtendedProperties":
                    merged = {p["id"]: p for p in event.get(key) or []}
                    merged.update({p["id"]: p for p in value or []})
                    event[key] = list(merged.values())
                    continue
                event[key] = copy.deepcopy(value)
            if "start" in patch:
                event["originalStartTimeZone"] = patch["start"].get("timeZone", "UTC")
            if "recurrence" in patch:
                event["type"] = "seriesMaster" if patch["recurrence"] else "singleInstance"
            if event["type"] == "seriesMaster" and {"start", "end", "recurrence"} & patch.keys():
                # like Outlook: changing the series' time or pattern drops its exceptions and cancellations
                event["_exceptions"] = {}
                event["_cancelled"] = set()
            self._touch(event)
            self._notify(self.room(user).email.lower(), "updated", event)
            return event

    def _check_etag(self, event: dict, if_match: str | None) -> None:
        if not etag_matches(if_match, event["changeKey"]):
            raise GraphError(
                412,
                "ErrorIrresolvableConflict",
                "The change key passed in the request does not match the current change key for the item.",
            )

    def delete(self, user: str, event_id: str, *, if_match: str | None = None) -> None:
        with self.lock:
            occurrence = split_occurrence_id(event_id)
            if occurrence is not None:
                master = self.stored(user, occurrence[0])
                instance = self._instance(master, occurrence[1])
                if instance is None:
                    raise not_found()
                self._check_etag(instance, if_match)
                master["_cancelled"].add(occurrence[1])
                master["_exceptions"].pop(occurrence[1], None)
                self._touch(master)
                self._notify(self.room(user).email.lower(), "updated", master)
                return
            event = self.stored(user, event_id)
            self._check_etag(event, if_match)
            del self._calendar(user)[event_id]
            self._notify(self.room(user).email.lower(), "deleted", event)

    def decline(self, user: str, event_id: str, comment: str | None, send_response: bool) -> None:
        with self.lock:
            room = self.room(user)
            event = self.get(user, event_id)
            if event.get("isOrganizer"):
                raise GraphError(400, "ErrorInvalidRequest", "You can't respond to a meeting you organized.")
            self.declines.append(Decline(room.email, event_id, comment, send_response, self.clock()))
            status = {"response": "declined", "time": _iso(self.clock())}
            occurrence = split_occurrence_id(event_id)
            if occurrence is None:
                event["responseStatus"] = status
                self._touch(event)
                self._notify(room.email.lower(), "updated", event)
            else:
                self._update_instance(user, occurrence, {"responseStatus": status}, None)

    def find(self, user: str, property_id: str | None = None, value: str | None = None) -> list[dict]:
        """Stored events, optionally only those whose extended property ``property_id`` equals ``value``."""
        with self.lock:
            events = list(self._calendar(user).values())
        if property_id is None:
            return events
        return [
            e
            for e in events
            if any(
                p.get("id", "").lower() == property_id.lower() and p.get("value") == value
                for p in e.get("singleValueExtendedProperties") or []
            )
        ]

    # --- series ---------------------------------------------------------------------------------
    def _instance(self, master: dict, original_start: dt.datetime) -> dict | None:
        """One occurrence or exception of ``master`` as its own event, None when not in the pattern."""
        if master.get("type") != "seriesMaster" or original_start in master["_cancelled"]:
            return None
        duration = to_utc(master["end"]) - to_utc(master["start"])
        window = (original_start - dt.timedelta(seconds=1), original_start + dt.timedelta(seconds=1))
        hit = next(
            (s for s, _ in occurrence_starts(master, window[0], window[1] + duration) if s == original_start), None
        )
        if hit is None:
            return None
        return self._render_instance(master, original_start, original_start + duration)

    def _render_instance(self, master: dict, original_start: dt.datetime, end: dt.datetime) -> dict:
        exception = master["_exceptions"].get(original_start)
        instance = {k: v for k, v in master.items() if not k.startswith("_")}
        instance.update(
            id=occurrence_id(master["id"], original_start),
            type="occurrence",
            seriesMasterId=master["id"],
            originalStart=_iso(original_start),
            iCalUId=occurrence_ical_uid(
                master["iCalUId"], original_start.astimezone(zone(master["start"].get("timeZone"))).date()
            ),
            recurrence=None,
            start=graph_time(original_start, "UTC"),
            end=graph_time(end, "UTC"),
        )
        if master.get("isAllDay"):
            tz = zone(master["start"].get("timeZone"))
            instance["start"] = {"dateTime": original_start.astimezone(tz).strftime(GRAPH_TIME), "timeZone": str(tz)}
            instance["end"] = {"dateTime": end.astimezone(tz).strftime(GRAPH_TIME), "timeZone": str(tz)}
        if exception is not None:
            instance.update(copy.deepcopy(exception))
            instance["type"] = "exception"
        return instance

    def _update_instance(
        self, user: str, occurrence: tuple[str, dt.datetime], patch: dict, if_match: str | None
    ) -> dict:
        master = self.stored(user, occurrence[0])
        instance = self._instance(master, occurrence[1])
        if instance is None:
            raise not_found()
        self._check_etag(instance, if_match)
        allowed = {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("@odata") and k != "recurrence"}
        exception = master["_exceptions"].setdefault(occurrence[1], {})
        exception.update(allowed)
        exception["changeKey"] = _change_key()
        exception["lastModifiedDateTime"] = _iso(self.clock())
        self._notify(self.room(user).email.lower(), "updated", master)
        return self._instance(master, occurrence[1]) or instance

    def cancelled_occurrences(self, master: dict) -> list[str]:
        """Graph's cancelledOccurrences of a series master: "OID.<master id>.<local date>"."""
        if master.get("type") != "seriesMaster":
            return []
        tz = zone(
            (master["recurrence"].get("range") or {}).get("recurrenceTimeZone") or master["start"].get("timeZone")
        )
        with self.lock:
            days = sorted(start.astimezone(tz).date().isoformat() for start in master["_cancelled"])
        return [f"OID.{master['id']}.{day}" for day in days]

    def exception_occurrences(self, master: dict) -> list[dict]:
        """The series' exceptions (moved or edited instances), as $expand=exceptionOccurrences lists them."""
        if master.get("type") != "seriesMaster":
            return []
        with self.lock:
            found = [self._instance(master, original) for original in sorted(master["_exceptions"])]
        return [i for i in found if i is not None]

    def instances(self, user: str, event_id: str, start: dt.datetime, end: dt.datetime) -> list[dict]:
        """Occurrences and exceptions of one series in [start, end), like /events/{id}/instances."""
        with self.lock:
            master = self.stored(user, event_id)
            if master.get("type") != "seriesMaster":
                raise GraphError(400, "ErrorInvalidRequest", "The event is not a recurring series master.")
            return self._series_in(master, start, end)

    def _series_in(self, master: dict, start: dt.datetime, end: dt.datetime) -> list[dict]:
        found: dict[dt.datetime, dict] = {}
        for occ_start, occ_end in occurrence_starts(master, start - dt.timedelta(days=1), end + dt.timedelta(days=1)):
            if occ_start not in master["_cancelled"]:
                found[occ_start] = self._render_instance(master, occ_start, occ_end)
        # exceptions moved into the window from outside it, and occurrences moved out
        for original in master["_exceptions"]:
            if original not in found and original not in master["_cancelled"]:
                instance = self._instance(master, original)
                if instance is not None:
                    found[original] = instance
        return [i for i in (found[k] for k in sorted(found)) if _overlaps(i, start, end)]

    def calendar_view(self, user: str, start: dt.datetime, end: dt.datetime) -> list[dict]:
        """Single events, occurrences and exceptions overlapping [start, end), by start."""
        with self.lock:
            result: list[dict] = []
            for event in self._calendar(user).values():
                if event.get("type") == "seriesMaster":
                    result.extend(self._series_in(event, start, end))
                elif _overlaps(event, start, end):
                    result.append(event)
            return sorted(result, key=lambda e: (to_utc(e["start"]), e["id"]))

    # --- calendarView delta ---------------------------------------------------------------------
    def delta_begin(self, user: str, start: dt.datetime, end: dt.datetime) -> str:
        """Start a full round for the window; returns the skiptoken of its first page."""
        with self.lock:
            mailbox = self.room(user).email.lower()
            return self._round(_DeltaState(mailbox, start, end, {}))

    def delta_resume(self, deltatoken: str) -> str:
        """Start an incremental round from a deltaLink's token; 410 when it expired."""
        with self.lock:
            state = self._delta.get(deltatoken)
            if state is None:
                raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")
            return self._round(state)

    def _round(self, previous: _DeltaState) -> str:
        current = self.calendar_view(previous.mailbox, previous.start, previous.end)
        snapshot = {e["id"]: e["changeKey"] for e in current}
        items: list[dict] = [e for e in current if previous.snapshot.get(e["id"]) != e["changeKey"]]
        items.extend(
            {"@odata.type": "#microsoft.graph.event", "id": gone, "@removed": {"reason": "deleted"}}
            for gone in previous.snapshot
            if gone not in snapshot
        )
        token = secrets.token_urlsafe(24)
        self._pending[token] = _PendingRound(
            _DeltaState(previous.mailbox, previous.start, previous.end, snapshot), items
        )
        return token

    def delta_page(self, skiptoken: str, page_size: int) -> tuple[list[dict], str | None, str | None]:
        """(items, next skiptoken or None, deltatoken or None) for one page of a round."""
        with self.lock:
            pending = self._pending.pop(skiptoken, None)
            if pending is None:
                raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.")
            page, rest = pending.items[:page_size], pending.items[page_size:]
            if rest:
                token = secrets.token_urlsafe(24)
                self._pending[token] = _PendingRound(pending.state, rest)
                return page, token, None
            token = secrets.token_urlsafe(24)
            self._delta[token] = pending.state
            return page, None, token

    def expire_delta(self, user: str | None = None) -> int:
        """Forget deltaLinks and pending rounds (of one mailbox, or all): their next use gets 410."""
        with self.lock:
            mailbox = self.room(user).email.lower() if user else None
            gone = [t for t, s in self._delta.items() if mailbox is None or s.mailbox == mailbox]
            for token in gone:
                del self._delta[token]
            pending = [t for t, p in self._pending.items() if mailbox is None or p.state.mailbox == mailbox]
            for token in pending:
                del self._pending[token]
            return len(gone) + len(pending)


def _overlaps(event: dict, start: dt.datetime, end: dt.datetime) -> bool:
    s, e = to_utc(event["start"]), to_utc(event["end"])
    return s < end and (e > start or (s == e and s >= start))


def render(event: dict, tz_name: str, expand_property_ids: set[str] | None) -> dict:
    """An event's JSON as Graph returns it: times in the preferred zone, @odata.etag, and
    singleValueExtendedProperties only when $expand asked for them (ids lower-cased, or {"*"})."""
    out = {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")}
    out["@odata.etag"] = _etag(event["changeKey"])
    props = out.pop("singleValueExtendedProperties", None) or []
    if expand_property_ids is not None:
        out["singleValueExtendedProperties"] = [
            p for p in props if "*" in expand_property_ids or p.get("id", "").lower() in expand_property_ids
        ]
    for name in ("start", "end"):
        when = event.get(name)
        if not isinstance(when, dict):
            continue
        if event.get("isAllDay"):
            out[name] = {"dateTime": parse_local(when["dateTime"]).strftime(GRAPH_TIME), "timeZone": tz_name}
        else:
            out[name] = graph_time(to_utc(when), tz_name)
    return out
